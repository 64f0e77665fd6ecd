import DNN
import Foundation
import HRNet
import Imaging

/// Trains (or fine-tunes) an HRNetV2 segmentation model as the official
/// HRNet-Semantic-Segmentation recipe does (tools/train.py, lib/core/function.py `train`,
/// lib/core/criterion.py):
/// - each pair augmented by `SegmentationAugmentation` (random scale, pad, crop, flip);
/// - the logits (1/4 of the input) upsampled bilinearly (MODEL.ALIGN_CORNERS) to the label size
///   inside the training graph, so the resize's backward is the engine's;
/// - cross-entropy ignoring 255, or OHEM (LOSS.USE_OHEM, OHEMTHRES, OHEMKEEP), with the
///   Cityscapes class weights when the data set is Cityscapes (train.py always passes the data
///   set's `class_weights`; only Cityscapes has them);
/// - SGD with momentum, weight decay and Nesterov from TRAIN.*; poly rate per iteration,
///   lr = LR (1 - t / T)^0.9 with T = END_EPOCH x iterations an epoch. The official loop sets
///   the rate of iteration t after its optimizer step, so step k runs with the rate of t = k - 1
///   (step 0 with LR); this trainer does the same;
/// - BN in training mode, batches of TRAIN.BATCH_SIZE_PER_GPU, the last partial batch dropped;
/// - evaluation as the official `validate`: each whole image in one run, mIoU.
/// Batches are prepared on worker threads while the network computes.
///
/// ```swift
/// let data = try SegmentationDataset.open(URL(fileURLWithPath: "data"), split: "train")
/// let trainer = try SegmentationTrainer(config: config, training: TrainingConfig.load(yaml), data: data,
///                                       parameters: HRNetModel(config: config).initialParameters(seed: 0))
/// while trainer.position.epoch < trainer.training.endEpoch { _ = try trainer.trainEpoch() }
/// let matrix = try trainer.evaluate(SegmentationDataset.open(URL(fileURLWithPath: "data"), split: "val"))
/// ```
public final class SegmentationTrainer: SessionTrainer {
    public let config: HRNetConfig
    public let training: TrainingConfig
    public let data: SegmentationDataset
    public let augmentation: SegmentationAugmentation
    /// The plan, optimizer, schedule, position, batches and checkpoints every trainer shares.
    public let session: TrainingSession
    /// The class weights of the loss (Cityscapes' official ones on Cityscapes data), or nil.
    public let classWeights: [Float]?
    /// Pairs trained on: all, or the first TRAIN.NUM_SAMPLES.
    public var sampleCount: Int { session.samples }
    let classes: Int
    let loss: @Sendable (Tensor, [Int32]) throws -> LossValue

    public typealias StepReport = TrainingStepReport

    /// An epoch's loss, steps, time and completion, with the pixel accuracy on its training batches as `trainAccuracy`.
    public typealias EpochReport = TrainingSession.EpochTotals

    /// Optimizer steps in one epoch (the last partial batch is dropped, as the official loader).

    public init(config: HRNetConfig, training: TrainingConfig, data: SegmentationDataset, parameters: consuming [String: Tensor],
                augmentation: SegmentationAugmentation? = nil, threads: Int? = nil, seed: UInt64 = 0, parallel: DataParallel = .none) throws {
        guard case .segmentation(let classes, _, let alignCorners) = config.architecture.head else {
            throw SegmentationError("\(config.source) is not a segmentation model (MODEL.NAME seg_hrnet)")
        }
        try data.checkClasses(against: config)
        let samples = training.segmentation.numSamples > 0 ? min(training.segmentation.numSamples, data.count) : data.count
        let globalBatch = training.batchSize * parallel.processes
        guard samples >= globalBatch else {
            throw SegmentationError("\(data.root.path) (\(data.split)) has \(samples) images, fewer than one batch of \(globalBatch)")
        }
        let augmentation = augmentation ?? SegmentationAugmentation(config: config, training: training)
        let (w, h) = config.imageSize
        guard (augmentation.cropWidth, augmentation.cropHeight) == (w, h) else {
            throw SegmentationError("the augmentation makes \(augmentation.cropWidth)x\(augmentation.cropHeight) crops; "
                                    + "\(config.source) takes \(w)x\(h) (TRAIN.IMAGE_SIZE)")
        }
        // The network, then its logits resized to the label size (the official criterion's
        // F.interpolate when the sizes differ).
        let graph = HRNetModel(config: config).graph
        guard let input = graph.inputValue, let logits = graph.outputs.first else { throw SegmentationError("the network has no input or output") }
        let mode = ResizeMode.bilinear(alignCorners: alignCorners)
        // The stem's two stride-2 convolutions (3x3, padding 1): ceil(x / 2) twice.
        func half(_ x: Int) -> Int { (x + 1) / 2 }
        let quarter = (w: half(half(w)), h: half(half(h)))
        let (lw, lh) = (augmentation.labelWidth, augmentation.labelHeight)
        if augmentation.downsampleRate == 1 {
            graph.outputs = [graph.resize(logits, like: input, mode: mode)]
        } else if (lw, lh) == (2 * quarter.w, 2 * quarter.h) {
            graph.outputs = [graph.upsample(logits, factor: 2, mode: mode)]
        } else if (lw, lh) != quarter {
            throw SegmentationError("TRAIN.DOWNSAMPLERATE \(augmentation.downsampleRate) gives \(lw)x\(lh) labels, which the "
                                    + "\(quarter.w)x\(quarter.h) logits cannot be resized to by a factor; use a crop divisible by 4")
        }
        self.config = config
        self.training = training
        self.data = data
        self.augmentation = augmentation
        self.classes = classes
        let plan = try TrainingPlan(graph: graph, parameters: parameters, input: Shape4(training.batchSize, 3, h, w), threads: threads,
                                    synchronizeBatchNorm: parallel.batchNormCommunicator)
        guard let out = plan.outputShapes.first, (out.c, out.h, out.w) == (classes, lh, lw) else {
            throw SegmentationError("the training graph gives \(plan.outputShapes.first.map { "\($0)" } ?? "nothing"), "
                                    + "not \(classes) x \(lh) x \(lw) logits")
        }
        session = TrainingSession(plan: plan, optimizer: training.makeOptimizer(), schedule: training.schedule(stepsPerEpoch: samples / globalBatch),
                                  baseLearningRate: Float(training.learningRate), batchSize: training.batchSize, samples: samples,
                                  shuffle: training.shuffle, beginEpoch: training.beginEpoch, seed: seed, configName: config.source,
                                  classes: data.classNames, dataRoot: data.root, communicator: parallel.communicator)
        classWeights = data.layout == .cityscapes && classes == Cityscapes.classWeights.count ? Cityscapes.classWeights : nil
        let s = training.segmentation
        if s.useOHEM {
            let l = OHEMCrossEntropyLoss(ignoreIndex: Int32(LabelMap.ignore), threshold: Float(s.ohemThreshold), minKept: s.ohemKeep,
                                         classWeights: classWeights)
            loss = { try l($0, labels: $1) }
        } else {
            let l = CrossEntropyLoss(ignoreIndex: Int32(LabelMap.ignore), classWeights: classWeights)
            loss = { try l($0, labels: $1) }
        }
    }

    /// The rate of optimizer step `step` (0-based, over the whole run): poly at t = step - 1 as
    /// the official loop (see the type's note), or the epoch's rate for MultiStep/cosine.
    public func learningRate(step: Int) -> Float {
        let base = Float(training.learningRate)
        guard training.schedulesPerStep else { return schedule.learningRate(base: base, at: step / max(1, stepsPerEpoch)) }
        return schedule.learningRate(base: base, at: max(0, step - 1))
    }

    /// The rate at the first step of `epoch`.
    public func learningRate(epoch: Int) -> Float { learningRate(step: epoch * stepsPerEpoch) }

    /// Sample `index` augmented with `random`.
    static func example(index: Int, data: SegmentationDataset, augmentation: SegmentationAugmentation,
                        random: inout SplitMix64) throws -> SegmentationAugmentation.Example {
        let sample = try data.sample(at: index)
        do {
            return try augmentation(sample.image, sample.label, random: &random)
        } catch {
            throw SegmentationError("\(sample.imageURL.path): \(error)")
        }
    }

    /// Trains the next epoch. `onStep` hears every step; `shouldStop` is asked before each step
    /// (Ctrl-C): the epoch then ends early, `position` says how far it got, and the next call
    /// (or a resume) goes on with the epoch's next batch.
    public func trainEpoch(onStep: (StepReport) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> EpochReport {
        let (e, data, augmentation, classes) = (position.epoch, self.data, self.augmentation, self.classes)
        let (w, h) = (augmentation.cropWidth, augmentation.cropHeight)
        let plane = augmentation.labelWidth * augmentation.labelHeight
        var correct = 0, labelled = 0
        let t = try session.trainEpoch(make: { index, random in
            try Self.example(index: index, data: data, augmentation: augmentation, random: &random)
        }, learningRate: learningRate(step:), step: { examples in
            let n = examples.count
            var input = [Float](), labels = [Int32]()
            input.reserveCapacity(n * 3 * w * h)
            labels.reserveCapacity(n * plane)
            for x in examples {
                input += x.input
                labels += x.labels.map { Int32($0) }
            }
            let logits = try plan.forward(Tensor(shape: [n, 3, h, w], scalars: input))[0]
            let value: LossValue
            do { value = try loss(logits, labels) } catch {
                throw SegmentationError("\(error) (TRAIN.IGNORE_LABEL is 255; the data set's labels must be 0...\(classes - 1) or 255)")
            }
            guard value.loss.isFinite else {
                throw SegmentationError("the loss became \(value.loss) at epoch \(e), step \(position.step): lower TRAIN.LR")
            }
            // Training pixel accuracy (arg-max of the logits the loss saw).
            logits.scalars.withUnsafeBufferPointer { s in
                for i in 0..<labels.count where labels[i] != Int32(LabelMap.ignore) {
                    let (b, p) = (i / plane, i % plane)
                    var best = 0, top = -Float.infinity
                    for c in 0..<classes where s[(b * classes + c) * plane + p] > top { (best, top) = (c, s[(b * classes + c) * plane + p]) }
                    labelled += 1
                    if best == Int(labels[i]) { correct += 1 }
                }
            }
            return BatchLoss(value.loss, units: value.units, outputGradients: [value.gradient])
        }, onStep: onStep, shouldStop: shouldStop)
        var report = t
        report.trainAccuracy = labelled > 0 ? Double(correct) / Double(labelled) : 0
        return report
    }

    /// The confusion matrix of the current weights (BN running statistics) on `dataset`. Without
    /// `options`, as the official training-time `validate`: one run on each whole image at its
    /// own size, no flip (`Segmenter.segmentWhole`); with them, the official test procedure
    /// (scales, flip, windows) they describe (`Segmenter.Options(config:)`: the TEST settings).
    public func evaluate(_ dataset: SegmentationDataset, options: Segmenter.Options? = nil, limit: Int? = nil, threads: Int? = nil,
                         progress: (Int, ConfusionMatrix) -> Void = { _, _ in }) throws -> ConfusionMatrix {
        try dataset.checkClasses(against: config)
        let segmenter = try Segmenter(model: HRNetModel(config: config), parameters: weights, options: options, threads: threads)
        if options != nil { return try dataset.evaluate(segmenter, limit: limit, communicator: communicator, progress: progress) }
        return try dataset.evaluate(classes: classes, limit: limit, communicator: communicator, progress: progress) {
            try segmenter.segmentWhole($0).labels
        }
    }

    /// Loads a checkpoint to start training from, as the official `init_weights(pretrained)`:
    /// keys the model lacks are dropped (an ImageNet classification checkpoint brings the
    /// backbone; its incre_modules, downsamp_modules, final_layer and classifier go), and the
    /// head `last_layer.*` the checkpoint lacks starts from the official initial values (normal,
    /// std 0.001; BN 1 and 0). With `resetHead` (fine-tuning on another class count) the
    /// checkpoint's final classifier `last_layer.3.*` is dropped too. Any other missing key is
    /// an error unless `allowPartial`.
    public static func startingParameters(from url: URL, config: HRNetConfig, resetHead: Bool = false, allowPartial: Bool = false,
                                          seed: UInt64 = 0) throws -> (parameters: [String: Tensor], report: BindReport) {
        let model = HRNetModel(config: config)
        let expected = Set(model.graph.parameters.map(\.key))
        var tensors = try Checkpoint.loadFloat(url).filter { expected.contains($0.key) }
        guard !tensors.isEmpty else {
            throw SegmentationError("\(url.lastPathComponent) holds none of the keys of \(config.source) (is it an HRNet checkpoint?)")
        }
        if resetHead {
            tensors = tensors.filter { !$0.key.hasPrefix("last_layer.3.") }
        } else if let head = tensors["last_layer.3.weight"], let classes = config.numClasses, head.shape.first != classes {
            throw SegmentationError("\(url.lastPathComponent) has a head for \(head.shape.first ?? 0) classes, \(config.source) has "
                                    + "\(classes): pass --reset-head to start last_layer.3 from initial values")
        }
        let (bound, report) = try model.graph.bind(tensors, allowPartial: true, source: url.lastPathComponent, seed: seed)
        var parameters = bound
        let missing = report.missing.filter { !$0.hasPrefix("last_layer.") }
        if !allowPartial, !missing.isEmpty {
            throw SegmentationError("\(url.lastPathComponent) lacks \(missing.count) keys of \(config.source): "
                                    + missing.prefix(5).joined(separator: ", ") + (missing.count > 5 ? ", ..." : "")
                                    + " (--allow-partial starts them from initial values)")
        }
        let initial = model.initialParameters(seed: seed)
        for key in report.missing { parameters[key] = initial[key] }
        return (parameters, report)
    }
}

extension SegmentationTrainer: EpochTrainer {}
