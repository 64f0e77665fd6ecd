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
/// - HRNet-OCR (seg_hrnet_ocr): both outputs (aux, main) upsampled to the labels, their losses
///   weighted by LOSS.BALANCE_WEIGHTS; with OHEM the main head's loss is OHEM and the aux head's
///   plain cross-entropy (the official `OhemCrossEntropy`); Dropout2d in the head; parameters
///   named by TRAIN.NONBACKBONE_KEYWORDS at NONBACKBONE_MULT x the rate;
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
    /// The loss of each output (one; two for OCR: aux, main), before LOSS.BALANCE_WEIGHTS.
    let losses: [@Sendable (Tensor, [Int32]) throws -> LossValue]
    /// The output whose logits the training accuracy reads (TEST.OUTPUT_INDEX).
    let scoredOutput: Int

    public typealias StepReport = TrainingStepReport

    /// An epoch's loss, steps, time and completion, with the pixel accuracy on its training batches as `trainAccuracy`.
    public typealias EpochReport = TrainingSession.EpochTotals

    /// Optimizer steps in one epoch (the last partial batch is dropped, as the official loader).

    public init(config: HRNetConfig, training: TrainingConfig, data: SegmentationDataset, parameters: consuming [String: Tensor],
                augmentation: SegmentationAugmentation? = nil, threads: Int? = nil, seed: UInt64 = 0, parallel: DataParallel = .none) throws {
        guard case .segmentation(let classes, _, let alignCorners, _) = config.architecture.head else {
            throw SegmentationError("\(config.source) is not a segmentation model (MODEL.NAME seg_hrnet, seg_hrnet_ocr or seg_unet)")
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
        guard let input = graph.inputValue, !graph.outputs.isEmpty else { throw SegmentationError("the network has no input or output") }
        let weights = training.segmentation.balanceWeights
        guard weights.count == graph.outputs.count else {
            throw SegmentationError("LOSS.BALANCE_WEIGHTS has \(weights.count) weights; \(config.modelName) has \(graph.outputs.count) outputs")
        }
        let mode = ResizeMode.bilinear(alignCorners: alignCorners)
        // The stem's two stride-2 convolutions (3x3, padding 1): ceil(x / 2) twice.
        func half(_ x: Int) -> Int { (x + 1) / 2 }
        let quarter = (w: half(half(w)), h: half(half(h)))
        let (lw, lh) = (augmentation.labelWidth, augmentation.labelHeight)
        if augmentation.downsampleRate == 1 {
            graph.outputs = graph.outputs.map { graph.resize($0, like: input, mode: mode) }
        } else if (lw, lh) == (2 * quarter.w, 2 * quarter.h) {
            graph.outputs = graph.outputs.map { graph.upsample($0, factor: 2, mode: mode) }
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
        for out in plan.outputShapes where (out.c, out.h, out.w) != (classes, lh, lw) {
            throw SegmentationError("the training graph gives \(out), not \(classes) x \(lh) x \(lw) logits")
        }
        let optimizer = training.makeOptimizer()
        let s = training.segmentation
        if !s.nonBackboneKeywords.isEmpty, let sgd = optimizer as? SGD {
            let (words, rate) = (s.nonBackboneKeywords, Float(s.nonBackboneMultiplier))
            sgd.multipliers = { key in words.contains { key.contains($0) } ? (rate, 1) : (1, 1) }
        }
        session = TrainingSession(plan: plan, optimizer: optimizer, schedule: training.schedule(stepsPerEpoch: samples / globalBatch),
                                  baseLearningRate: Float(training.learningRate), batchSize: training.batchSize, samples: samples,
                                  shuffle: training.shuffle, beginEpoch: training.beginEpoch, seed: seed, configName: config.source,
                                  classes: data.classNames, dataRoot: data.root, communicator: parallel.communicator)
        classWeights = data.layout == .cityscapes && classes == Cityscapes.classWeights.count ? Cityscapes.classWeights : nil
        let crossEntropy = CrossEntropyLoss(ignoreIndex: Int32(LabelMap.ignore), classWeights: classWeights)
        let plain: @Sendable (Tensor, [Int32]) throws -> LossValue = { try crossEntropy($0, labels: $1) }
        var losses = Array(repeating: plain, count: weights.count)
        if s.useOHEM {
            let l = OHEMCrossEntropyLoss(ignoreIndex: Int32(LabelMap.ignore), threshold: Float(s.ohemThreshold), minKept: s.ohemKeep,
                                         classWeights: classWeights)
            losses[losses.count - 1] = { try l($0, labels: $1) }
        }
        self.losses = losses
        scoredOutput = min(config.outputIndex, weights.count - 1)
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
        let (losses, balanceWeights, scoredOutput) = (self.losses, training.segmentation.balanceWeights, self.scoredOutput)
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
            let outputs = try plan.forward(Tensor(shape: [n, 3, h, w], scalars: input))
            // sum over outputs of BALANCE_WEIGHTS[i] x loss_i (the official criterion).
            var total = 0.0, units = 0.0, gradients: [Tensor] = []
            for (k, logits) in outputs.enumerated() {
                let value: LossValue
                do { value = try losses[k](logits, labels) } catch {
                    throw SegmentationError("\(error) (TRAIN.IGNORE_LABEL is 255; the data set's labels must be 0...\(classes - 1) or 255)")
                }
                let weight = balanceWeights[k]
                total += weight * value.loss
                units = value.units
                var g = value.gradient
                if weight != 1 { let f = Float(weight); g.scalars = g.scalars.map { $0 * f } }
                gradients.append(g)
            }
            guard total.isFinite else {
                throw SegmentationError("the loss became \(total) at epoch \(e), step \(position.step): lower TRAIN.LR")
            }
            let logits = outputs[scoredOutput]
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
            return BatchLoss(total, units: units, outputGradients: gradients)
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
    ///
    /// An OCR model (seg_hrnet_ocr) renames the checkpoint's `last_layer` to `aux_head`, as its
    /// official `init_weights` does, so an HRNetV2 segmentation checkpoint brings the soft-region
    /// head; the OCR head's other keys it lacks start from PyTorch's initial values (the official
    /// init skips every module named cls, aux or ocr). With `resetHead` both class layers
    /// (`aux_head.3`, `cls_head`) start afresh.
    public static func startingParameters(from url: URL, config: HRNetConfig, resetHead: Bool = false, allowPartial: Bool = false,
                                          seed: UInt64 = 0) throws -> (parameters: [String: Tensor], report: BindReport) {
        let model = HRNetModel(config: config)
        let expected = Set(model.graph.parameters.map(\.key))
        let ocr = model.isOCR
        var loaded = HRNetModel.unwrapFullModel(try Checkpoint.loadFloat(url))
        if ocr {
            loaded = Dictionary(loaded.map { ($0.key.replacingOccurrences(of: "last_layer", with: "aux_head"), $0.value) },
                                uniquingKeysWith: { a, _ in a })
        }
        var tensors = loaded.filter { expected.contains($0.key) }
        guard !tensors.isEmpty else {
            throw SegmentationError("\(url.lastPathComponent) holds none of the keys of \(config.source) (is it an HRNet checkpoint?)")
        }
        let classifiers = model.segmentationClassifierPrefixes
        if resetHead {
            tensors = tensors.filter { t in !classifiers.contains { t.key.hasPrefix($0) } }
        } else if let classes = config.numClasses {
            for prefix in classifiers {
                guard let head = tensors[prefix + "weight"], head.shape.first != classes else { continue }
                throw SegmentationError("\(url.lastPathComponent) has a head for \(head.shape.first ?? 0) classes, \(config.source) has "
                                        + "\(classes): pass --reset-head to start \(classifiers.map { $0.dropLast() }.joined(separator: " and ")) from initial values")
            }
        }
        return try model.startingParameters(binding: tensors, source: url.lastPathComponent, isHead: model.isSegmentationHeadKey,
                                            allowPartial: allowPartial, seed: seed) { SegmentationError($0) }
    }
}

extension SegmentationTrainer: EpochTrainer {}
