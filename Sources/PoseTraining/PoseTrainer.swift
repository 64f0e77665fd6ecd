import DNN
import Foundation
import HRNet

/// Trains a pose HRNet as the official recipe does: augmented crops and Gaussian targets from
/// `PoseTrainingData`, JointsMSELoss (or OHKM) with target weights, Adam (or SGD) whose rate
/// follows MultiStep at TRAIN.LR_STEP epochs, BN in training mode. Batches are prepared on
/// worker threads while the network computes.
///
/// ```swift
/// let trainer = try PoseTrainer(config: config, training: TrainingConfig.load(yaml),
///                               data: data, parameters: model.initialParameters(seed: 0))
/// for epoch in trainer.position.epoch..<trainer.training.endEpoch {
///     let report = try trainer.trainEpoch { step in print(step.loss) }
/// }
/// try trainer.save(URL(fileURLWithPath: "run/checkpoint.json"))
/// ```
public final class PoseTrainer: SessionTrainer {
    public let config: HRNetConfig
    public let training: TrainingConfig
    public let data: PoseTrainingData
    /// The plan, optimizer, schedule, position, batches and checkpoints every trainer shares.
    public let session: TrainingSession
    let loss: (Tensor, Tensor, Tensor) throws -> LossValue

    public typealias StepReport = TrainingStepReport

    /// An epoch's loss, steps, time and whether it completed (the session's totals: nothing to add).
    public typealias EpochReport = TrainingSession.EpochTotals

    /// - Parameter parallel: the processes training together (`mpirun`); TRAIN.BATCH_SIZE_PER_GPU is per process.
    public init(config: HRNetConfig, training: TrainingConfig, data: PoseTrainingData, parameters: consuming [String: Tensor],
                threads: Int? = nil, seed: UInt64 = 0, parallel: DataParallel = .none) throws {
        guard config.task == .pose, let joints = config.numJoints else {
            throw PoseTrainingError.training("\(config.source) is not a pose model (MODEL.NAME pose_hrnet, pose_resnet or pose_hourglass)")
        }
        guard joints == data.dataset.keypoints.count else {
            throw PoseTrainingError.training("\(config.source) predicts \(joints) keypoints; the data set \(data.dataset.name) has \(data.dataset.keypoints.count)")
        }
        let (w, h) = data.augmentation.imageSize
        guard (w, h) == config.imageSize, data.augmentation.heatmapSize == config.heatmapSize else {
            throw PoseTrainingError.training("the augmentation makes \(w)x\(h) crops and \(data.augmentation.heatmapSize) heatmaps; "
                                    + "\(config.source) takes \(config.imageSize) and gives \(config.heatmapSize)")
        }
        let globalBatch = training.batchSize * parallel.processes
        guard data.count >= globalBatch else {
            throw PoseTrainingError.training("the data set \(data.dataset.name) has \(data.count) people, fewer than one batch of \(globalBatch)")
        }
        self.config = config
        self.training = training
        self.data = data
        let graph = HRNetModel(config: config).graph
        session = TrainingSession(plan: try TrainingPlan(graph: graph, parameters: parameters, input: Shape4(training.batchSize, 3, h, w),
                                                         threads: threads, synchronizeBatchNorm: parallel.batchNormCommunicator),
                                  optimizer: training.makeOptimizer(), schedule: try training.epochSchedule(for: config.source),
                                  baseLearningRate: Float(training.learningRate), batchSize: training.batchSize, samples: data.count,
                                  shuffle: training.shuffle, beginEpoch: training.beginEpoch, seed: seed, configName: config.source,
                                  communicator: parallel.communicator)
        if training.useOHKM {
            let l = JointsOHKMMSELoss(useTargetWeight: training.useTargetWeight, topK: min(training.ohkmTopK, joints))
            loss = { try l($0, target: $1, targetWeight: $2) }
        } else {
            let l = JointsMSELoss(useTargetWeight: training.useTargetWeight)
            loss = { try l($0, target: $1, targetWeight: $2) }
        }
    }

    /// The learning rate of an epoch (MultiStep over epochs, as the official scheduler, or TRAIN.LR_SCHEDULER's).
    public func learningRate(epoch: Int) -> Float { schedule.learningRate(base: Float(training.learningRate), at: epoch) }

    /// Trains the next epoch. `onStep` hears every step; `shouldStop` is asked before each step
    /// (Ctrl-C): the epoch then ends early, `position` says how far it got, and the next call
    /// (or a resume) goes on with the epoch's next batch.
    public func trainEpoch(onStep: (StepReport) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> EpochReport {
        let (e, data, rate) = (position.epoch, self.data, learningRate(epoch: position.epoch))
        return try session.trainEpoch(make: { index, _ in try data.example(index: index, epoch: e) }, learningRate: { _ in rate },
                                       step: { examples in
            let batch = Self.collate(examples, data: data)
            // Every output is supervised with the same targets (a stacked hourglass's intermediate
            // supervision: the sum over stacks, as MMPose's multi-stage head).
            let values = try plan.forward(batch.input).map { try loss($0, batch.target, batch.targetWeight) }
            let total = values.map(\.loss).reduce(0, +)
            guard total.isFinite else {
                throw PoseTrainingError.training("the loss became \(total) at epoch \(e), step \(position.step): lower TRAIN.LR")
            }
            // A mean over equal counts in every process's part of the batch.
            return BatchLoss(total, units: Double(examples.count), outputGradients: values.map(\.gradient))
        }, onStep: onStep, shouldStop: shouldStop)
    }

    /// Stacks examples into the batch tensors the loss takes.
    static func collate(_ examples: [TrainingExample], data: PoseTrainingData) -> PoseBatch {
        let n = examples.count, joints = data.dataset.keypoints.count
        let (w, h) = data.augmentation.imageSize, (hw, hh) = data.augmentation.heatmapSize
        var input = [Float](), target = [Float](), weight = [Float]()
        input.reserveCapacity(n * 3 * w * h)
        target.reserveCapacity(n * joints * hw * hh)
        for e in examples {
            input += e.input
            target += e.target
            weight += e.targetWeight
        }
        return PoseBatch(input: Tensor(shape: [n, 3, h, w], scalars: input), target: Tensor(shape: [n, joints, hh, hw], scalars: target),
                         targetWeight: Tensor(shape: [n, joints, 1], scalars: weight), indices: [])
    }
}

extension PoseTrainer: EpochTrainer {}
