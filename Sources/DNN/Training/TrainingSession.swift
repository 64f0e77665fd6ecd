import Collectives
import Foundation

/// What every task's trainer shares: the training plan, the optimizer and its rate schedule,
/// where the run stands, seeded batches prepared on worker threads, the step loop, and saving
/// and resuming the run. A task's trainer (pose, classification, segmentation) adds its data,
/// how a sample is made, and what one step computes (batch, loss, backward, its own metric).
public final class TrainingSession {
    public let plan: TrainingPlan
    public let optimizer: Optimizer
    public let schedule: LRSchedule
    public let baseLearningRate: Float
    /// Images per step in this process (TRAIN.BATCH_SIZE_PER_GPU: per replica).
    public let batchSize: Int
    /// The processes training together (data parallel: each takes its part of every global
    /// batch of `batchSize` x size images; gradients are averaged). One process by default.
    public let communicator: any Communicator
    /// Samples an epoch draws from; a last, smaller batch is dropped.
    public let samples: Int
    public let shuffle: Bool
    public let seed: UInt64
    /// Decode/augment threads.
    public var workers = 2
    /// Batch norm during training: `.train` (batch statistics, running ones updated) or
    /// `.eval` (running statistics, frozen: mmdet's `norm_eval=True` backbones); the affine
    /// parameters learn either way.
    public var batchNormMode: TrainingPlan.Mode = .train
    /// Gradients clipped to this global L2 norm before each update (`clip_grad=dict(max_norm=...)`); nil: never.
    public var clipGradientNorm: Float?
    /// What the caller records of the run with every checkpoint (e.g. its data, seed and batch,
    /// so a resume restores them); read back by `TrainingCheckpoint.progress(of:)`.
    public var settings: [String: String] = [:]
    /// The next epoch to train, the steps already taken inside it and in all.
    public private(set) var position: TrainingPosition
    /// Saved with every checkpoint and checked on resume: the model's config name, and for
    /// data with named classes, the classes and where the data lives (for the message).
    let configName: String
    public let classes: [String]?
    let dataRoot: URL?

    public init(plan: TrainingPlan, optimizer: Optimizer, schedule: LRSchedule, baseLearningRate: Float, batchSize: Int,
                samples: Int, shuffle: Bool, beginEpoch: Int, seed: UInt64, configName: String, classes: [String]? = nil,
                dataRoot: URL? = nil, communicator: any Communicator = SingleProcess()) {
        (self.plan, self.optimizer, self.schedule, self.baseLearningRate) = (plan, optimizer, schedule, baseLearningRate)
        self.communicator = communicator
        (self.batchSize, self.samples, self.shuffle, self.seed) = (batchSize, samples, shuffle, seed)
        (self.configName, self.classes, self.dataRoot) = (configName, classes, dataRoot)
        position = TrainingPosition(epoch: beginEpoch)
    }

    /// Images per step over all processes.
    public var globalBatchSize: Int { batchSize * communicator.size }

    /// Batches in an epoch (global batches when several processes train together).
    public var stepsPerEpoch: Int { samples / globalBatchSize }

    /// What an epoch came to, before the task adds its own metric.
    public struct EpochTotals: Sendable {
        public var epoch: Int
        public var steps: Int
        public var meanLoss: Double
        public var seconds: Double
        public var imagesPerSecond: Double
        /// False when `shouldStop` ended the epoch early.
        public var completed: Bool
        /// Accuracy on the training batches (augmented, weights changing during the epoch): a
        /// classifier's top-1, a segmenter's pixel accuracy; nil for tasks without one.
        public var trainAccuracy: Double? = nil
    }

    /// Trains the next epoch (from the step a stopped run reached): batches of `make` (sample
    /// index and its own random stream) from worker threads; before each step the rate
    /// `learningRate(step)` (step counted over the whole run); `step` runs forward and the loss
    /// on the batch in train mode and returns the loss and its output gradients, the session
    /// runs backward, then the optimizer updates.
    /// `shouldStop` is asked before each step: the epoch then ends early, `position` says how
    /// far it got, and the next call (or a resume) goes on with the epoch's next batch.
    ///
    /// With several processes each makes and computes its part of the global batch (the same
    /// samples and augmentation as one process with the whole batch would), then the gradients
    /// are combined (`backward`) before the identical optimizer step on every process, and a stop
    /// asked of any process stops all at the same step.
    public func trainEpoch<Example: Sendable>(make: @escaping DataLoader<Example>.Make, learningRate: (Int) -> Float,
                                              step: ([Example]) throws -> BatchLoss, onStep: (TrainingStepReport) -> Void,
                                              shouldStop: () -> Bool) throws -> EpochTotals {
        let e = position.epoch
        let (rank, processes) = (communicator.rank, communicator.size)
        let loader = try DataLoader<Example>(count: samples, batchSize: globalBatchSize, workers: workers, seed: seed, shuffle: shuffle,
                                             dropLast: true, part: processes > 1 ? rank * batchSize..<(rank + 1) * batchSize : nil,
                                             make: make)
        plan.mode = batchNormMode
        let started = DispatchTime.now()
        let batches = loader.batchesPerEpoch
        var total = 0.0, steps = 0
        let iterator = loader.epoch(e, from: position.epochStep)
        defer { iterator.stop() }
        while try !stopRequested(shouldStop()), let examples = try iterator.nextBatch() {
            optimizer.learningRate = learningRate(position.step)
            // Dropout masks from the run's seed, the global step and the process: a resumed run draws the same.
            plan.dropoutSeed = (seed &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(position.step) << 16) ^ UInt64(rank)
            let loss = try backward(try step(examples))
            if let clipGradientNorm { DNN.clipGradientNorm(plan.parameters, maxNorm: clipGradientNorm) }
            optimizer.update(plan.parameters)
            position.advance()
            steps += 1
            total += loss
            onStep(TrainingStepReport(epoch: e, step: position.step, batch: position.epochStep, batches: batches, loss: loss,
                                      learningRate: optimizer.learningRate))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let completed = position.finishEpoch(batches: batches)
        return EpochTotals(epoch: e, steps: steps, meanLoss: steps > 0 ? total / Double(steps) : .nan, seconds: seconds,
                           imagesPerSecond: Double(steps * globalBatchSize) / max(seconds, 1e-9), completed: completed)
    }

    /// Saves the run (weights, optimizer state, position, schedule) atomically to `url` (a JSON
    /// with a safetensors file beside it).
    public func save(_ url: URL, metadata: [String: String] = [:]) throws {
        var metadata = settings.merging(metadata) { _, given in given }
        metadata["global_batch"] = "\(globalBatchSize)"
        metadata["processes"] = "\(communicator.size)"
        try TrainingCheckpoint.saveRun(url, parameters: plan.parameters, optimizer: optimizer, position: position,
                                       baseLearningRate: baseLearningRate, schedule: schedule, config: configName, classes: classes,
                                       metadata: metadata)
    }

    /// Continues a run saved by `save`: weights, optimizer moments and position; a run of other
    /// classes is refused. - Returns: the saved metadata.
    @discardableResult
    public func resume(_ url: URL) throws -> [String: String] {
        let progress = try TrainingCheckpoint.resumeRun(url, parameters: plan.parameters, optimizer: optimizer,
                                                        batchesPerEpoch: stepsPerEpoch, classes: classes, dataRoot: dataRoot)
        // The position counts global batches: another global batch would resume on other samples.
        if let saved = progress.metadata["global_batch"].flatMap(Int.init), saved != globalBatchSize {
            let processes = progress.metadata["processes"].flatMap(Int.init) ?? 1
            throw DNNError.checkpoint(url, "was trained with \(saved) images per step (\(processes) process\(processes == 1 ? "" : "es") x "
                                  + "\(saved / max(processes, 1))); this run has \(globalBatchSize) (\(communicator.size) x \(batchSize)): "
                                  + "resume with the same batch and number of processes")
        }
        position = progress.position
        return progress.metadata
    }
}

/// A trainer built on a `TrainingSession`: the session's state and checkpoints, reached
/// through the trainer (`trainer.position`, `trainer.save(url)`), written once here.
public protocol SessionTrainer: AnyObject {
    var session: TrainingSession { get }
}

extension SessionTrainer {
    public var plan: TrainingPlan { session.plan }
    /// The processes training together (one unless data parallel).
    public var communicator: any Communicator { session.communicator }
    public var optimizer: Optimizer { session.optimizer }
    public var schedule: LRSchedule { session.schedule }
    /// The next epoch to train, the steps already taken inside it and in all.
    public var position: TrainingPosition { session.position }
    /// Optimizer steps in one epoch (a last, smaller batch is dropped, as the official loaders).
    public var stepsPerEpoch: Int { session.stepsPerEpoch }
    /// Decode/augment threads.
    public var workers: Int {
        get { session.workers }
        set { session.workers = newValue }
    }
    /// Every weight and BN statistic by its official key, for inference or export.
    public var weights: [String: Tensor] { session.plan.parameters.state() }

    /// Saves the run (weights, optimizer state, position, classes) atomically to `url` (a JSON
    /// with a safetensors file beside it).
    public func save(_ url: URL, metadata: [String: String] = [:]) throws { try session.save(url, metadata: metadata) }

    /// Continues a run saved by `save`: weights, optimizer moments and position (a run on other
    /// classes is refused). - Returns: the saved metadata.
    @discardableResult
    public func resume(_ url: URL) throws -> [String: String] { try session.resume(url) }
}

extension TrainingSession.EpochTotals: EpochSummary {}
