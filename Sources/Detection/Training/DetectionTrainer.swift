import Collectives
import DNN
import Foundation

/// How a detector is trained: mmdet's FCOS-HRNetV2p recipe by default (SGD lr 0.01 for a
/// global batch of 16, momentum 0.9, weight decay 1e-4, biases at 2x the rate and no decay,
/// gradients clipped to norm 35, linear warm-up over 500 iterations from 1/3, x0.1 at epochs 8
/// and 11 of 12, the backbone's batch norm frozen (`norm_eval`)).
public struct DetectionRecipe: Sendable {
    /// Images per step in each process.
    public var batchSize = 4
    public var epochs = 12
    public var learningRate: Float = 0.01
    public var momentum: Float = 0.9
    public var weightDecay: Float = 1e-4
    /// mmengine's `paramwise_cfg`: `bias_lr_mult` for the biases of convolutions and linear
    /// layers (not of norms); `bias_decay_mult` for every bias, norms' included (as mmengine
    /// applies it when `norm_decay_mult` is not set).
    public var biasRateMultiplier: Float = 2
    public var biasDecayMultiplier: Float = 0
    public var clipNorm: Float? = 35
    /// Warm-up over the first iterations: `ConstantLR` (the rate x `warmupStartFactor` until
    /// iteration `warmupIterations - 1`, as the 1x HRNet FCOS configs) or `LinearLR` (from the
    /// factor up to 1 at `warmupIterations`, as the 2x and multi-scale ones).
    public enum Warmup: Sendable { case constant, linear }
    public var warmup = Warmup.constant
    public var warmupIterations = 500
    public var warmupStartFactor: Float = 1.0 / 3
    /// Epochs after which the rate is multiplied by `gamma`.
    public var milestones = [8, 11]
    public var gamma: Float = 0.1
    /// Batch norm with its running statistics, frozen (`norm_eval=True`); false: batch statistics.
    public var frozenBatchNorm = true
    public var shuffle = true
    public var targets = FCOSTargets.Options()
    public var loss = FCOSLoss()
    public init() {}

    /// The rate at optimizer step `step` of a run with `stepsPerEpoch` steps an epoch: warm-up by
    /// iteration, steps by epoch (mmengine's LinearLR then MultiStepLR).
    public func learningRate(step: Int, stepsPerEpoch: Int) -> Float {
        let epoch = step / max(1, stepsPerEpoch)
        var rate = Double(learningRate) * pow(Double(gamma), Double(milestones.filter { $0 <= epoch }.count))
        let f = Double(warmupStartFactor)
        switch warmup {
        case .constant where step < warmupIterations - 1: rate *= f
        case .linear where step < warmupIterations: rate *= f + (1 - f) * Double(step) / Double(max(1, warmupIterations))
        default: break
        }
        return Float(rate)
    }
}

/// Trains an FCOS detector (mmdet's key names throughout, so the weights load in mmdetection):
/// batches from `DetectionTrainingData` on worker threads, the head's outputs against FCOS
/// targets (`FCOSTargets`, `FCOSLoss`), SGD with the recipe's parameter groups, clipping and
/// schedule; checkpoints, resume and data parallelism as every `TrainingSession` trainer.
///
/// ```swift
/// let data = try DetectionTrainingData.coco(annotations: train, images: folder, preprocessing: spec.preprocessing)
/// let trainer = try DetectionTrainer(spec: spec, recipe: DetectionRecipe(), data: data,
///                                    parameters: DetectorModel(spec: spec).randomParameters(seed: 0))
/// while trainer.position.epoch < trainer.recipe.epochs { _ = try trainer.trainEpoch() }
/// ```
public final class DetectionTrainer: SessionTrainer {
    public let spec: DetectorSpec
    public let head: FCOSHeadSpec
    public let recipe: DetectionRecipe
    public let data: DetectionTrainingData
    public let session: TrainingSession
    /// Each level's map (height, width) in the network's output.
    let levelSizes: [(h: Int, w: Int)]

    /// An epoch's loss, steps, time and whether it completed (the session's totals: nothing to add).
    public typealias EpochReport = TrainingSession.EpochTotals

    /// - Parameter name: the detector's config name (messages, checkpoints).
    public init(spec: DetectorSpec, recipe: DetectionRecipe, data: DetectionTrainingData, parameters: consuming [String: Tensor],
                name: String = "detector", threads: Int? = nil, seed: UInt64 = 0, parallel: DataParallel = .none) throws {
        let head = try Self.trainableHead(spec, for: data, name: name)
        let globalBatch = recipe.batchSize * parallel.processes
        guard recipe.batchSize >= 1, data.count >= globalBatch else {
            throw DetectionError.training("\(data.name) has \(data.count) images with objects, fewer than one batch of \(globalBatch)")
        }
        // The trained detector names its classes after the data's categories.
        var spec = spec
        spec.classes = data.classNames
        (self.spec, self.head, self.recipe, self.data) = (spec, head, recipe, data)
        let model = DetectorModel(spec: spec, output: .head)
        let plan = try TrainingPlan(graph: model.graph, parameters: parameters,
                                    input: Shape4(recipe.batchSize, 3, data.canvas.height, data.canvas.width), threads: threads,
                                    synchronizeBatchNorm: recipe.frozenBatchNorm ? nil : parallel.batchNormCommunicator)
        levelSizes = stride(from: 0, to: plan.outputShapes.count, by: 3).map { (plan.outputShapes[$0].h, plan.outputShapes[$0].w) }
        guard levelSizes.count == head.strides.count else {
            throw DetectionError.training("\(name): \(levelSizes.count) output levels for \(head.strides.count) strides")
        }
        session = TrainingSession(plan: plan, optimizer: Self.optimizer(recipe, graph: model.graph), schedule: LRSchedule(.multiStep(milestones: recipe.milestones, gamma: recipe.gamma)),
                                  baseLearningRate: recipe.learningRate, batchSize: recipe.batchSize, samples: data.count,
                                  shuffle: recipe.shuffle, beginEpoch: 0, seed: seed, configName: name, classes: data.classNames,
                                  communicator: parallel.communicator)
        session.batchNormMode = recipe.frozenBatchNorm ? .eval : .train
        session.clipGradientNorm = recipe.clipNorm
    }

    /// The FCOS head of `spec`, checked to predict the classes of `data` (named `name` in errors).
    static func trainableHead(_ spec: DetectorSpec, for data: DetectionTrainingData, name: String) throws -> FCOSHeadSpec {
        guard case .fcos(let head) = spec.head else {
            throw DetectionError.training("\(name): only FCOS detectors train here (Faster R-CNN training is not built yet)")
        }
        guard head.classes == data.classNames.count else {
            throw DetectionError.training("\(data.name) has \(data.classNames.count) categories "
                                          + "(\(data.classNames.prefix(4).joined(separator: ", "))); \(name) has model.bbox_head.num_classes "
                                          + "\(head.classes): set num_classes=\(data.classNames.count)")
        }
        return head
    }

    /// SGD with the recipe's parameter groups (mmengine's `DefaultOptimWrapperConstructor`):
    /// conv and linear biases at `biasRateMultiplier` x the rate, every bias at
    /// `biasDecayMultiplier` x the weight decay.
    public static func optimizer(_ recipe: DetectionRecipe, graph: Graph) -> SGD {
        var normBiases = Set<String>()
        for node in graph.nodes {
            switch node.op {
            case .batchNorm(let b): normBiases.insert("\(b.key).bias")
            case .groupNorm(let n): normBiases.insert("\(n.key).bias")
            default: break
            }
        }
        let sgd = SGD(learningRate: recipe.learningRate, momentum: recipe.momentum, weightDecay: recipe.weightDecay)
        let (rate, decay, norms) = (recipe.biasRateMultiplier, recipe.biasDecayMultiplier, normBiases)
        sgd.multipliers = { key in key.hasSuffix(".bias") ? (norms.contains(key) ? 1 : rate, decay) : (1, 1) }
        return sgd
    }

    /// The rate at the start of epoch `epoch` (after the warm-up).
    public func learningRate(epoch: Int) -> Float {
        recipe.learningRate(step: max(epoch * stepsPerEpoch, recipe.warmupIterations), stepsPerEpoch: stepsPerEpoch)
    }

    /// Trains the next epoch (or the rest of a stopped one).
    public func trainEpoch(onStep: (TrainingStepReport) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> EpochReport {
        let (data, recipe, sizes, strides, e) = (data, recipe, levelSizes, head.strides, position.epoch)
        let (canvas, perEpoch, communicator) = (data.canvas, stepsPerEpoch, session.communicator)
        return try session.trainEpoch(make: { index, random in try data.example(index: index, random: &random) },
                                       learningRate: { recipe.learningRate(step: $0, stepsPerEpoch: perEpoch) }, step: { examples in
            var input = [Float]()
            input.reserveCapacity(examples.count * 3 * canvas.width * canvas.height)
            for x in examples { input += x.input }
            let outputs = try plan.forward(Tensor(shape: [examples.count, 3, canvas.height, canvas.width], scalars: input))
            let targets = try FCOSTargets(boxes: examples.map(\.objects), sizes: sizes, strides: strides, options: recipe.targets)
            // mmdet's reduce_mean: the normalizers are the processes' means, so the averaged gradients are the global batch's.
            var normalizers = [Double(targets.positives), targets.centernessSum]
            if communicator.size > 1 {
                try normalizers.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
                normalizers = normalizers.map { $0 / Double(communicator.size) }
            }
            let value = try recipe.loss(outputs, targets: targets, strides: strides, meanPositives: normalizers[0],
                                        meanCenternessSum: normalizers[1])
            guard value.total.isFinite else {
                throw DetectionError.training("the loss became \(value.total) at epoch \(e + 1), step \(self.position.step): lower the learning rate")
            }
            return BatchLoss(value.total, units: 1, outputGradients: value.gradients)
        }, onStep: onStep, shouldStop: shouldStop)
    }

    /// A detector with the current weights (test-time pipeline of `spec`).
    public func detector(threads: Int? = nil) throws -> Detector {
        try Detector(spec: spec, parameters: weights, source: "the trainer's weights", options: .init(threads: threads))
    }
}

extension DetectionTrainer: EpochTrainer {}
