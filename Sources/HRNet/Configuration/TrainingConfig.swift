import DNN
import Foundation

/// The training part of an official experiment file (TRAIN, LOSS, DATASET augmentation,
/// MODEL target) for pose, classification and segmentation. Fields the file leaves out take the
/// official defaults (deep-high-resolution-net.pytorch, HRNet-Image-Classification and
/// HRNet-Semantic-Segmentation lib/config/default.py; a seg_hrnet file defaults to SGD at 0.01,
/// 484 epochs and the poly schedule, as the segmentation code always uses).
///
/// Keys this project adds (the official files never have them): TRAIN.LR_SCHEDULER
/// (`multistep`, the official default; `cosine`), TRAIN.MIN_LR (cosine's floor, default 0),
/// TRAIN.WARMUP_EPOCHS (linear warm-up from a third of the rate, default 0),
/// LOSS.LABEL_SMOOTHING (classification cross-entropy, default 0) and DATASET.CROP_SCALE
/// (RandomResizedCrop's area range, default [0.08, 1]).
public struct TrainingConfig: Sendable, Equatable {
    public enum Optimizer: String, Sendable { case adam, sgd, adamw }
    /// How the rate changes: MultiStep and cosine per epoch; poly per iteration (the official
    /// segmentation `adjust_learning_rate`, base (1 - t / T)^0.9, T = END_EPOCH x iterations an epoch).
    public enum Scheduler: String, Sendable { case multistep, cosine, poly }

    /// TRAIN.BATCH_SIZE_PER_GPU (one device here: the batch).
    public var batchSize = 32
    public var shuffle = true
    /// TRAIN.SYNC_BN: with several processes, batch norm over the whole global batch (SyncBN).
    public var syncBatchNorm = false
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

    /// DATASET augmentation: FLIP, SCALE_FACTOR, ROT_FACTOR, PROB_HALF_BODY, NUM_JOINTS_HALF_BODY
    /// (COLOR_RGB belongs to the model's input: `HRNetConfig.colorRGB`).
    public var flip = true
    public var scaleFactor = 0.25
    public var rotationFactor = 30.0
    public var halfBodyProbability = 0.0
    public var halfBodyJoints = 8
    /// DATASET.UNBIASED_ENCODING (this project's key; MMPose's `unbiased_encoding`): Gaussian
    /// targets centred on the exact joint. Default: on for DarkPose's files (they set
    /// TEST.BLUR_KERNEL, and DarkPose always trains so), off otherwise (the official rounding).
    public var unbiasedEncoding = false
    /// DATASET.ROOT, TRAIN_SET, TEST_SET.
    public var root = ""
    public var trainSet = "train"
    public var testSet = "valid"

    /// MODEL.TARGET_TYPE (only gaussian is defined by the official code's training).
    public var targetType = "gaussian"

    /// The segmentation keys (seg_hrnet files).
    public var segmentation = Segmentation()

    /// What HRNet-Semantic-Segmentation reads besides the shared keys (its lib/config/default.py
    /// defaults). The crop is the model's TRAIN.IMAGE_SIZE; the flip is TRAIN.FLIP (`flip`).
    public struct Segmentation: Sendable, Equatable {
        /// TRAIN.BASE_SIZE: the long side at scale 1 before the random scale.
        public var baseSize = 2048
        /// TRAIN.MULTI_SCALE: rescale by 0.5 + randint(0, SCALE_FACTOR) / 10 before the crop.
        public var multiScale = true
        /// TRAIN.SCALE_FACTOR (an integer: 16 gives the scales 0.5, 0.6, ..., 2.1).
        public var scaleFactor = 16
        /// TRAIN.DOWNSAMPLERATE: labels are subsampled by this factor (nearest) after augmentation.
        public var downsampleRate = 1
        /// TRAIN.IGNORE_LABEL (the files say 255; the default.py -1 also means "no class").
        public var ignoreLabel = -1
        /// TRAIN.NUM_SAMPLES: train on the first N pairs only (0: all).
        public var numSamples = 0
        /// LOSS.USE_OHEM, OHEMTHRES, OHEMKEEP.
        public var useOHEM = false
        public var ohemThreshold = 0.9
        public var ohemKeep = 100_000
        /// LOSS.CLASS_BALANCE (the official train.py does not read it: a data set's class
        /// weights, Cityscapes' only, are always used).
        public var classBalance = false
        /// LOSS.BALANCE_WEIGHTS: one weight per model output ([1] for seg_hrnet; seg_hrnet_ocr's
        /// [aux, main], officially [0.4, 1]). With OHEM only the last output's loss is OHEM (the
        /// official `OhemCrossEntropy`), the others plain cross-entropy.
        public var balanceWeights = [1.0]
        /// TRAIN.NONBACKBONE_KEYWORDS and NONBACKBONE_MULT: parameters whose key contains one of
        /// the words learn at MULT x the rate (the official PASCAL-Context OCR files: cls, aux,
        /// ocr at 10x).
        public var nonBackboneKeywords: [String] = []
        public var nonBackboneMultiplier = 10.0
        public init() {}
    }

    public init() {}

    /// The optimizer TRAIN.OPTIMIZER names with TRAIN.LR, MOMENTUM, WD and NESTEROV, as the
    /// official `get_optimizer` builds it (its Adam takes the learning rate alone).
    public func makeOptimizer() -> any DNN.Optimizer {
        let lr = Float(learningRate)
        switch optimizer {
        case .adam: return Adam(learningRate: lr)
        case .adamw: return Adam.adamW(learningRate: lr, weightDecay: Float(weightDecay))
        case .sgd: return SGD(learningRate: lr, momentum: Float(momentum), weightDecay: Float(weightDecay), nesterov: nesterov)
        }
    }

    /// Whether the schedule's t counts optimizer steps (poly) rather than epochs.
    public var schedulesPerStep: Bool { lrScheduler == .poly }

    /// The schedule of a trainer that sets the rate once an epoch (pose, classification).
    public func epochSchedule(for task: String) throws -> LRSchedule {
        guard !schedulesPerStep else {
            throw ConfigError(task, "TRAIN.LR_SCHEDULER poly is the segmentation schedule (per iteration); use multistep or cosine")
        }
        return schedule(stepsPerEpoch: 1)
    }

    /// The rate schedule: MultiStep at `lrSteps` by `lrFactor` (official) or cosine from TRAIN.LR
    /// to MIN_LR over the epochs, with the linear warm-up if any (t = epoch); or poly over
    /// END_EPOCH x `stepsPerEpoch` iterations (t = step; warm-up in steps).
    public func schedule(stepsPerEpoch: Int) -> LRSchedule {
        let kind: LRSchedule.Kind = switch lrScheduler {
        case .multistep: .multiStep(milestones: lrSteps, gamma: Float(lrFactor))
        case .cosine: .cosine(total: endEpoch, minimum: Float(minLearningRate))
        case .poly: .poly(total: endEpoch * max(1, stepsPerEpoch), power: 0.9)
        }
        return LRSchedule(kind, warmupSteps: schedulesPerStep ? warmupEpochs * max(1, stepsPerEpoch) : warmupEpochs)
    }

    /// Reads the training sections of an official experiment YAML file.
    public static func load(_ url: URL) throws -> TrainingConfig {
        try parse(yaml: Reader.text(of: url), source: url.lastPathComponent)
    }

    public static func parse(yaml text: String, source: String) throws -> TrainingConfig {
        let r = try Reader(yaml: text, source: source)
        var c = TrainingConfig()
        let name = r.value("MODEL.NAME") as? String
        let segmentation = name == "seg_hrnet" || name == "seg_hrnet_ocr" || name == "seg_unet"
        if segmentation {
            // HRNet-Semantic-Segmentation lib/config/default.py.
            c.optimizer = .sgd
            c.learningRate = 0.01
            c.endEpoch = 484
            c.lrScheduler = .poly
            c.trainSet = "list/cityscapes/train.lst"
            c.testSet = "list/cityscapes/val.lst"
        }
        if let v = try r.optionalInt("TRAIN.BATCH_SIZE_PER_GPU") {
            guard (1...4096).contains(v) else { throw r.fail("TRAIN.BATCH_SIZE_PER_GPU", "must be 1...4096, got \(v)") }
            c.batchSize = v
        }
        c.shuffle = try r.optionalBool("TRAIN.SHUFFLE") ?? c.shuffle
        c.syncBatchNorm = try r.optionalBool("TRAIN.SYNC_BN") ?? c.syncBatchNorm
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
            case "poly": c.lrScheduler = .poly
            default: throw r.fail("TRAIN.LR_SCHEDULER", "must be multistep, step, cosine or poly, got \(name)")
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
        c.unbiasedEncoding = try r.optionalBool("DATASET.UNBIASED_ENCODING") ?? r.has("TEST.BLUR_KERNEL")
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
        if segmentation { try parseSegmentation(r, into: &c) }
        if let s = r.value("MODEL.TARGET_TYPE") as? String {
            guard s == "gaussian" else { throw r.fail("MODEL.TARGET_TYPE", "must be gaussian (the only target the official training defines), got \(s)") }
            c.targetType = s
        }
        return c
    }

    /// The seg_hrnet keys: TRAIN.{FLIP, BASE_SIZE, MULTI_SCALE, SCALE_FACTOR, DOWNSAMPLERATE,
    /// IGNORE_LABEL, NUM_SAMPLES, EXTRA_EPOCH}, LOSS.{USE_OHEM, OHEMTHRES, OHEMKEEP, CLASS_BALANCE,
    /// BALANCE_WEIGHTS}.
    static func parseSegmentation(_ r: Reader, into c: inout TrainingConfig) throws {
        var s = Segmentation()
        c.flip = try r.optionalBool("TRAIN.FLIP") ?? true
        s.baseSize = try r.optionalInt("TRAIN.BASE_SIZE") ?? s.baseSize
        guard (1...100_000).contains(s.baseSize) else { throw r.fail("TRAIN.BASE_SIZE", "must be 1...100000, got \(s.baseSize)") }
        s.multiScale = try r.optionalBool("TRAIN.MULTI_SCALE") ?? s.multiScale
        s.scaleFactor = try r.optionalInt("TRAIN.SCALE_FACTOR") ?? s.scaleFactor
        guard (0...100).contains(s.scaleFactor) else {
            throw r.fail("TRAIN.SCALE_FACTOR", "must be an integer 0...100 (the scales are 0.5 + randint(0, SCALE_FACTOR) / 10), got \(s.scaleFactor)")
        }
        s.downsampleRate = try r.optionalInt("TRAIN.DOWNSAMPLERATE") ?? s.downsampleRate
        guard [1, 2, 4].contains(s.downsampleRate) else { throw r.fail("TRAIN.DOWNSAMPLERATE", "must be 1, 2 or 4, got \(s.downsampleRate)") }
        s.ignoreLabel = try r.optionalInt("TRAIN.IGNORE_LABEL") ?? s.ignoreLabel
        guard s.ignoreLabel == 255 || s.ignoreLabel == -1 else {
            throw r.fail("TRAIN.IGNORE_LABEL", "must be 255 (label maps mark unlabelled pixels 255) or -1, got \(s.ignoreLabel)")
        }
        s.numSamples = try r.optionalInt("TRAIN.NUM_SAMPLES") ?? s.numSamples
        guard s.numSamples >= 0 else { throw r.fail("TRAIN.NUM_SAMPLES", "must be 0 (all) or more") }
        if let extra = try r.optionalInt("TRAIN.EXTRA_EPOCH"), extra != 0 {
            throw r.fail("TRAIN.EXTRA_EPOCH", "extra-data epochs (DATASET.EXTRA_TRAIN_SET) are not supported; set 0")
        }
        s.useOHEM = try r.optionalBool("LOSS.USE_OHEM") ?? s.useOHEM
        s.ohemThreshold = try r.optionalDouble("LOSS.OHEMTHRES") ?? s.ohemThreshold
        guard (0...1).contains(s.ohemThreshold) else { throw r.fail("LOSS.OHEMTHRES", "must be within 0...1, got \(s.ohemThreshold)") }
        s.ohemKeep = try r.optionalInt("LOSS.OHEMKEEP") ?? s.ohemKeep
        guard s.ohemKeep >= 0 else { throw r.fail("LOSS.OHEMKEEP", "must be 0 or more") }
        s.classBalance = try r.optionalBool("LOSS.CLASS_BALANCE") ?? s.classBalance
        // The official criterion asserts one weight per output.
        let outputs = r.outputCount()
        // U-Net's auxiliary head weighs 0.4 in MMSegmentation's configs.
        s.balanceWeights = try r.optionalDoubles("LOSS.BALANCE_WEIGHTS") ?? ((r.value("MODEL.NAME") as? String) == "seg_unet" && outputs == 2 ? [0.4, 1] : [1])
        guard s.balanceWeights.count == outputs else {
            throw r.fail("LOSS.BALANCE_WEIGHTS", outputs == 1
                ? "must be [1]: the model has one output (two weights are for the aux and main heads of seg_hrnet_ocr or seg_unet), got \(s.balanceWeights)"
                : "must give 2 weights, for the aux and main heads (officially [0.4, 1]), got \(s.balanceWeights)")
        }
        guard s.balanceWeights.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw r.fail("LOSS.BALANCE_WEIGHTS", "must hold weights of 0 or more, got \(s.balanceWeights)")
        }
        if let words = r.value("TRAIN.NONBACKBONE_KEYWORDS") {
            guard let list = words as? [Any], let strings = list as? [String] else {
                throw r.fail("TRAIN.NONBACKBONE_KEYWORDS", "must be a list of words, got \(words)")
            }
            s.nonBackboneKeywords = strings
        }
        s.nonBackboneMultiplier = try r.optionalDouble("TRAIN.NONBACKBONE_MULT") ?? s.nonBackboneMultiplier
        guard s.nonBackboneMultiplier > 0, s.nonBackboneMultiplier <= 1000 else {
            throw r.fail("TRAIN.NONBACKBONE_MULT", "must be in (0, 1000], got \(s.nonBackboneMultiplier)")
        }
        c.segmentation = s
    }
}
