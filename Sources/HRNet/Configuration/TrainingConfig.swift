import DNN
import Foundation

/// The training part of an official experiment file (TRAIN, LOSS, DATASET augmentation,
/// MODEL target) for pose and classification. Fields the file leaves out take the official
/// defaults (deep-high-resolution-net.pytorch and HRNet-Image-Classification lib/config/default.py).
///
/// Keys this project adds (the official files never have them): TRAIN.LR_SCHEDULER
/// (`multistep`, the official default; `cosine`), TRAIN.MIN_LR (cosine's floor, default 0),
/// TRAIN.WARMUP_EPOCHS (linear warm-up from a third of the rate, default 0),
/// LOSS.LABEL_SMOOTHING (classification cross-entropy, default 0) and DATASET.CROP_SCALE
/// (RandomResizedCrop's area range, default [0.08, 1]).
public struct TrainingConfig: Sendable, Equatable {
    public enum Optimizer: String, Sendable { case adam, sgd, adamw }
    public enum Scheduler: String, Sendable { case multistep, cosine }

    /// TRAIN.BATCH_SIZE_PER_GPU (one device here: the batch).
    public var batchSize = 32
    public var shuffle = true
    public var beginEpoch = 0
    public var endEpoch = 140
    public var optimizer = Optimizer.adam
    public var learningRate = 0.001
    /// TRAIN.LR_STEP and LR_FACTOR: MultiStep decay at these epochs. A single number N (the
    /// official classification train.py's StepLR) becomes the epochs N, 2N, ... below END_EPOCH.
    public var lrSteps = [90, 110]
    public var lrFactor = 0.1
    /// TRAIN.LR_SCHEDULER, MIN_LR, WARMUP_EPOCHS (extensions; see the type's note).
    public var lrScheduler = Scheduler.multistep
    public var minLearningRate = 0.0
    public var warmupEpochs = 0
    /// LOSS.LABEL_SMOOTHING (extension): 0..<1.
    public var labelSmoothing = 0.0
    /// DATASET.CROP_SCALE (extension): RandomResizedCrop's area fraction range, torchvision's
    /// (0.08, 1) by default.
    public var cropScale = [0.08, 1.0]
    /// TRAIN.WD: the official code gives it to SGD only (its Adam takes the learning rate alone).
    public var weightDecay = 0.0001
    public var momentum = 0.9
    public var nesterov = false

    /// LOSS.USE_TARGET_WEIGHT, USE_OHKM and TOPK.
    public var useTargetWeight = true
    public var useOHKM = false
    public var ohkmTopK = 8

    /// DATASET augmentation: FLIP, SCALE_FACTOR, ROT_FACTOR, PROB_HALF_BODY, NUM_JOINTS_HALF_BODY, COLOR_RGB.
    public var flip = true
    public var scaleFactor = 0.25
    public var rotationFactor = 30.0
    public var halfBodyProbability = 0.0
    public var halfBodyJoints = 8
    public var colorRGB = false
    /// DATASET.ROOT, TRAIN_SET, TEST_SET.
    public var root = ""
    public var trainSet = "train"
    public var testSet = "valid"

    /// MODEL.TARGET_TYPE (only gaussian is defined by the official code's training).
    public var targetType = "gaussian"

    public init() {}

    /// The rate schedule over epochs: MultiStep at `lrSteps` by `lrFactor` (official) or cosine
    /// from TRAIN.LR to MIN_LR over the epochs, with the linear warm-up if any.
    public var schedule: LRSchedule {
        let kind: LRSchedule.Kind = switch lrScheduler {
        case .multistep: .multiStep(milestones: lrSteps, gamma: Float(lrFactor))
        case .cosine: .cosine(total: endEpoch, minimum: Float(minLearningRate))
        }
        return LRSchedule(kind, warmupSteps: warmupEpochs)
    }

    /// Reads the training sections of an official experiment YAML file.
    public static func load(_ url: URL) throws -> TrainingConfig {
        try parse(yaml: Reader.text(of: url), source: url.lastPathComponent)
    }

    public static func parse(yaml text: String, source: String) throws -> TrainingConfig {
        let r = try Reader(yaml: text, source: source)
        var c = TrainingConfig()
        if let v = try r.optionalInt("TRAIN.BATCH_SIZE_PER_GPU") {
            guard (1...4096).contains(v) else { throw r.fail("TRAIN.BATCH_SIZE_PER_GPU", "must be 1...4096, got \(v)") }
            c.batchSize = v
        }
        c.shuffle = try r.optionalBool("TRAIN.SHUFFLE") ?? c.shuffle
        c.beginEpoch = try r.optionalInt("TRAIN.BEGIN_EPOCH") ?? c.beginEpoch
        c.endEpoch = try r.optionalInt("TRAIN.END_EPOCH") ?? c.endEpoch
        guard c.beginEpoch >= 0, c.endEpoch > c.beginEpoch, c.endEpoch <= 100_000 else {
            throw r.fail("TRAIN.END_EPOCH", "must be above TRAIN.BEGIN_EPOCH (\(c.beginEpoch)) and at most 100000, got \(c.endEpoch)")
        }
        if let name = r.value("TRAIN.OPTIMIZER") {
            guard let s = name as? String, let o = Optimizer(rawValue: s.lowercased()) else {
                throw r.fail("TRAIN.OPTIMIZER", "must be adam, sgd or adamw, got \(name)")
            }
            c.optimizer = o
        }
        c.learningRate = try r.optionalDouble("TRAIN.LR") ?? c.learningRate
        guard c.learningRate > 0, c.learningRate.isFinite else { throw r.fail("TRAIN.LR", "must be a positive number") }
        if let every = r.value("TRAIN.LR_STEP"), let n = Reader.int(every) {
            guard n > 0 else { throw r.fail("TRAIN.LR_STEP", "must be positive, got \(n)") }
            c.lrSteps = Array(stride(from: n, to: c.endEpoch, by: n))
        } else if r.has("TRAIN.LR_STEP") {
            c.lrSteps = try r.ints("TRAIN.LR_STEP")
        }
        if let name = r.value("TRAIN.LR_SCHEDULER") {
            let text = (name as? String)?.lowercased()
            switch text {
            case "multistep", "step": c.lrScheduler = .multistep
            case "cosine": c.lrScheduler = .cosine
            default: throw r.fail("TRAIN.LR_SCHEDULER", "must be multistep, step or cosine, got \(name)")
            }
        }
        c.minLearningRate = try r.optionalDouble("TRAIN.MIN_LR") ?? c.minLearningRate
        guard c.minLearningRate >= 0, c.minLearningRate <= c.learningRate else {
            throw r.fail("TRAIN.MIN_LR", "must be within 0...TRAIN.LR (\(c.learningRate)), got \(c.minLearningRate)")
        }
        c.warmupEpochs = try r.optionalInt("TRAIN.WARMUP_EPOCHS") ?? c.warmupEpochs
        guard c.warmupEpochs >= 0, c.warmupEpochs < c.endEpoch else {
            throw r.fail("TRAIN.WARMUP_EPOCHS", "must be within 0..<TRAIN.END_EPOCH (\(c.endEpoch)), got \(c.warmupEpochs)")
        }
        c.labelSmoothing = try r.optionalDouble("LOSS.LABEL_SMOOTHING") ?? c.labelSmoothing
        guard (0..<1).contains(c.labelSmoothing) else { throw r.fail("LOSS.LABEL_SMOOTHING", "must be within 0..<1, got \(c.labelSmoothing)") }
        c.lrFactor = try r.optionalDouble("TRAIN.LR_FACTOR") ?? c.lrFactor
        c.weightDecay = try r.optionalDouble("TRAIN.WD") ?? c.weightDecay
        c.momentum = try r.optionalDouble("TRAIN.MOMENTUM") ?? c.momentum
        c.nesterov = try r.optionalBool("TRAIN.NESTEROV") ?? c.nesterov
        c.useTargetWeight = try r.optionalBool("LOSS.USE_TARGET_WEIGHT") ?? c.useTargetWeight
        c.useOHKM = try r.optionalBool("LOSS.USE_OHKM") ?? c.useOHKM
        c.ohkmTopK = try r.optionalInt("LOSS.TOPK") ?? c.ohkmTopK
        guard c.ohkmTopK > 0 else { throw r.fail("LOSS.TOPK", "must be positive") }
        c.flip = try r.optionalBool("DATASET.FLIP") ?? c.flip
        c.scaleFactor = try r.optionalDouble("DATASET.SCALE_FACTOR") ?? c.scaleFactor
        c.rotationFactor = try r.optionalDouble("DATASET.ROT_FACTOR") ?? c.rotationFactor
        c.halfBodyProbability = try r.optionalDouble("DATASET.PROB_HALF_BODY") ?? c.halfBodyProbability
        c.halfBodyJoints = try r.optionalInt("DATASET.NUM_JOINTS_HALF_BODY") ?? c.halfBodyJoints
        guard (0..<1).contains(c.scaleFactor) else { throw r.fail("DATASET.SCALE_FACTOR", "must be within 0..<1, got \(c.scaleFactor)") }
        guard (0...1).contains(c.halfBodyProbability) else { throw r.fail("DATASET.PROB_HALF_BODY", "must be within 0...1") }
        c.colorRGB = try r.optionalBool("DATASET.COLOR_RGB") ?? c.colorRGB
        if let scale = try r.optionalDoubles("DATASET.CROP_SCALE") {
            guard scale.count == 2, scale[0] > 0, scale[0] <= scale[1], scale[1] <= 1 else {
                throw r.fail("DATASET.CROP_SCALE", "must be [min, max] with 0 < min <= max <= 1, got \(scale)")
            }
            c.cropScale = scale
        }
        if let s = r.value("DATASET.ROOT") as? String { c.root = s }
        if let s = r.value("DATASET.TRAIN_SET") as? String { c.trainSet = s }
        // The classification default.py also says 'valid', but its experiment files all say 'val'
        // (torchvision's ImageNet layout): a classification file without the key means 'val'.
        if (r.value("MODEL.NAME") as? String) == "cls_hrnet" { c.testSet = "val" }
        if let s = r.value("DATASET.TEST_SET") as? String { c.testSet = s }
        if let s = r.value("MODEL.TARGET_TYPE") as? String {
            guard s == "gaussian" else { throw r.fail("MODEL.TARGET_TYPE", "must be gaussian (the only target the official training defines), got \(s)") }
            c.targetType = s
        }
        return c
    }
}
