import DNN
import Foundation
import HRNet
import Imaging

/// Trains (or fine-tunes) an HRNet classifier on an image folder as the official
/// HRNet-Image-Classification recipe does: RandomResizedCrop + horizontal flip + ImageNet
/// normalization (`TrainAugmentation`), cross-entropy (with LOSS.LABEL_SMOOTHING), SGD with
/// momentum, Nesterov and weight decay (or Adam) from TRAIN.*, the rate per epoch from
/// MultiStep at TRAIN.LR_STEP (official) or cosine, with an optional warm-up; BN in training
/// mode. Batches are prepared on worker threads while the network computes.
///
/// ```swift
/// let train = try ImageFolder(root: URL(fileURLWithPath: "data/train"))
/// let trainer = try ClassificationTrainer(config: config, training: TrainingConfig.load(yaml), data: train,
///                                         parameters: HRNetModel(config: config).initialParameters(seed: 0))
/// while trainer.position.epoch < trainer.training.endEpoch { _ = try trainer.trainEpoch() }
/// let accuracy = try trainer.evaluate(ImageFolder(root: URL(fileURLWithPath: "data/val")))
/// ```
public final class ClassificationTrainer: SessionTrainer {
    public let config: HRNetConfig
    public let training: TrainingConfig
    public let data: ImageFolder
    public let augmentation: TrainAugmentation
    /// The plan, optimizer, schedule, position, batches and checkpoints every trainer shares.
    public let session: TrainingSession
    let loss: CrossEntropyLoss
    var seed: UInt64 { session.seed }

    public typealias StepReport = TrainingStepReport

    /// An epoch's loss, steps, time and completion, with the top-1 on its training batches as `trainAccuracy`.
    public typealias EpochReport = TrainingSession.EpochTotals

    /// One augmented image and its class.
    struct Example: Sendable {
        var input: [Float]
        var label: Int32
    }

    public init(config: HRNetConfig, training: TrainingConfig, data: ImageFolder, parameters: consuming [String: Tensor],
                augmentation: TrainAugmentation? = nil, threads: Int? = nil, seed: UInt64 = 0, parallel: DataParallel = .none) throws {
        guard config.task == .classification, let classes = config.numClasses else {
            throw ClassificationError("\(config.source) is not a classifier (MODEL.NAME cls_hrnet)")
        }
        guard classes == data.classes.count else {
            throw ClassificationError("\(data.root.path) has \(data.classes.count) class folders but \(config.source) has "
                                      + "MODEL.NUM_CLASSES \(classes); set MODEL.NUM_CLASSES: \(data.classes.count) "
                                      + "(and, from pretrained weights, --reset-head)")
        }
        let globalBatch = training.batchSize * parallel.processes
        guard data.count >= globalBatch else {
            throw ClassificationError("\(data.root.path) has \(data.count) images, fewer than one batch of \(globalBatch)")
        }
        let (w, h) = config.imageSize
        self.augmentation = augmentation ?? {
            var a = TrainAugmentation(width: w, height: h)
            if training.cropScale.count == 2 { a.scale = training.cropScale[0]...training.cropScale[1] }
            a.flipProbability = training.flip ? 0.5 : 0
            return a
        }()
        guard (self.augmentation.width, self.augmentation.height) == (w, h) else {
            throw ClassificationError("the augmentation makes \(self.augmentation.width)x\(self.augmentation.height) crops; "
                                      + "\(config.source) takes \(w)x\(h)")
        }
        self.config = config
        self.training = training
        self.data = data
        session = TrainingSession(plan: try TrainingPlan(graph: HRNetModel(config: config).graph, parameters: parameters,
                                                         input: Shape4(training.batchSize, 3, h, w), threads: threads,
                                                         synchronizeBatchNorm: parallel.batchNormCommunicator),
                                  optimizer: training.makeOptimizer(), schedule: try training.epochSchedule(for: config.source),
                                  baseLearningRate: Float(training.learningRate), batchSize: training.batchSize, samples: data.count,
                                  shuffle: training.shuffle, beginEpoch: training.beginEpoch, seed: seed, configName: config.source,
                                  classes: data.classes, dataRoot: data.root, communicator: parallel.communicator)
        loss = CrossEntropyLoss(ignoreIndex: -1, labelSmoothing: Float(training.labelSmoothing))
    }

    /// The learning rate of an epoch (the schedule is stepped once per epoch, as the official code).
    public func learningRate(epoch: Int) -> Float { schedule.learningRate(base: Float(training.learningRate), at: epoch) }

    /// Sample `index` as epoch `epoch` sees it (its own random stream: independent of order and threads).
    static func example(index: Int, epoch: Int, data: ImageFolder, augmentation: TrainAugmentation, seed: UInt64) throws -> Example {
        var random = ClassificationRandom(seed: seed, epoch: epoch, index: index)
        let image = try data.image(index)
        return Example(input: augmentation(image, random: &random), label: Int32(data.samples[index].label))
    }

    /// Trains the next epoch. `onStep` hears every step; `shouldStop` is asked before each step
    /// (Ctrl-C): the epoch then ends early, `position` says how far it got, and the next call
    /// (or a resume) goes on with the epoch's next batch.
    public func trainEpoch(onStep: (StepReport) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> EpochReport {
        let (e, data, augmentation, seed, rate) = (position.epoch, self.data, self.augmentation, self.seed, learningRate(epoch: position.epoch))
        let (w, h) = config.imageSize
        var correct = 0
        let t = try session.trainEpoch(make: { index, _ in
            try Self.example(index: index, epoch: e, data: data, augmentation: augmentation, seed: seed)
        }, learningRate: { _ in rate }, step: { examples in
            let n = examples.count
            var input = [Float]()
            input.reserveCapacity(n * 3 * w * h)
            for x in examples { input += x.input }
            let labels = examples.map(\.label)
            let output = try plan.forward(Tensor(shape: [n, 3, h, w], scalars: input))[0]
            let classes = output.count / n
            let logits = Tensor(shape: [n, classes, 1, 1], scalars: output.scalars)
            let value = try loss(logits, labels: labels)
            guard value.loss.isFinite else {
                throw ClassificationError("the loss became \(value.loss) at epoch \(e), step \(position.step): lower TRAIN.LR")
            }
            for (k, row) in try Scores.rows(logits).enumerated() where Scores.topIndices(row, k: 1).first == Int(labels[k]) { correct += 1 }
            return BatchLoss(value.loss, units: value.units, outputGradients: [Tensor(shape: output.shape, scalars: value.gradient.scalars)])
        }, onStep: onStep, shouldStop: shouldStop)
        let images = t.steps * training.batchSize
        var report = t
        report.trainAccuracy = images > 0 ? Double(correct) / Double(images) : 0
        return report
    }

    /// Top-1/top-5 of the current weights (BN running statistics) on `folder` with the
    /// validation transform (resize int(size / 0.875), center crop). Folder i is class i.
    public func evaluate(_ folder: ImageFolder, batchSize: Int = 32, threads: Int? = nil,
                         progress: (Int, ClassificationAccuracy) -> Void = { _, _ in }) throws -> ClassificationAccuracy {
        let classifier = try Classifier(config: config, parameters: weights, labels: ClassLabels(names: data.classes, source: "the training folders"),
                                        threads: threads)
        var evaluation = ClassificationEvaluation(folder: folder, preprocessing: .validation(width: config.imageSize.width, height: config.imageSize.height),
                                                  indices: try folder.modelIndices(classes: data.classes.count,
                                                                                   labels: ClassLabels(names: data.classes, source: "the training folders")))
        evaluation.batchSize = batchSize
        evaluation.threads = max(1, workers)
        evaluation.communicator = communicator
        return try evaluation.run(logits: { try classifier.logits($0) }, progress: progress)
    }

    /// Loads a checkpoint to start training from. With `resetHead` (fine-tuning on another class
    /// count), the checkpoint's `classifier.weight` and `classifier.bias` are dropped and start
    /// from PyTorch's initial values (Kaiming-uniform from `seed`); every other key must match
    /// unless `allowPartial`.
    public static func startingParameters(from url: URL, config: HRNetConfig, resetHead: Bool, allowPartial: Bool = false,
                                          seed: UInt64 = 0) throws -> (parameters: [String: Tensor], report: BindReport) {
        let model = HRNetModel(config: config)
        var tensors = try Checkpoint.loadFloat(url)
        if resetHead {
            tensors = tensors.filter { !$0.key.hasPrefix("classifier.") }
        } else if let head = tensors["classifier.weight"], let classes = config.numClasses, head.rank == 2, head.shape[0] != classes {
            throw ClassificationError("\(url.lastPathComponent) has a classifier for \(head.shape[0]) classes, \(config.source) has "
                                      + "\(classes): pass --reset-head to start a new classifier from initial values")
        }
        let (parameters, report) = try model.graph.bind(tensors, allowPartial: resetHead || allowPartial, source: url.lastPathComponent, seed: seed)
        let missing = report.missing.filter { !(resetHead && $0.hasPrefix("classifier.")) }
        if !allowPartial, !missing.isEmpty {
            throw ClassificationError("\(url.lastPathComponent) lacks \(missing.count) keys of \(config.source): "
                                      + missing.prefix(5).joined(separator: ", ") + (missing.count > 5 ? ", ..." : "")
                                      + " (--allow-partial starts them from initial values)")
        }
        return (parameters, report)
    }
}

extension ClassificationTrainer: EpochTrainer {}
