import Foundation

/// What a trainer tells its caller after each optimizer step (progress bars, logs).
public struct TrainingStepReport: Sendable {
    public var epoch: Int
    public var step: Int
    /// The batch within the epoch, and how many the epoch has.
    public var batch: Int
    public var batches: Int
    public var loss: Double
    public var learningRate: Float

    public init(epoch: Int, step: Int, batch: Int, batches: Int, loss: Double, learningRate: Float) {
        (self.epoch, self.step, self.batch, self.batches, self.loss, self.learningRate) = (epoch, step, batch, batches, loss, learningRate)
    }
}

/// What every trainer (pose, classification, segmentation) saves and resumes the same way.
extension TrainingCheckpoint {
    /// Saves a run: weights, optimizer state, its position (epoch, steps inside it, steps in all)
    /// and schedule, with the model's config name and, for tasks with named classes, the classes,
    /// so a resume on other data is refused.
    public static func saveRun(_ url: URL, parameters: ParameterStore, optimizer: Optimizer, position: TrainingPosition,
                               baseLearningRate: Float, schedule: LRSchedule, config: String, classes: [String]? = nil,
                               metadata: [String: String] = [:]) throws {
        var meta = metadata
        meta["config"] = config
        if let classes { meta["classes"] = classes.joined(separator: "\n") }
        let progress = TrainingProgress(step: position.step, epoch: position.epoch, epochStep: position.epochStep,
                                        baseLearningRate: baseLearningRate, schedule: schedule, metadata: meta)
        try save(url, parameters: parameters, optimizer: optimizer, progress: progress)
    }

    /// Loads a run saved by `saveRun` into `parameters` and `optimizer`. With `classes`, a run
    /// saved with other classes is an error naming both (the data of `dataRoot` changed). A run
    /// stopped inside an epoch resumes at its next batch, so an epoch must still have more
    /// batches than it took (`batchesPerEpoch`).
    public static func resumeRun(_ url: URL, parameters: ParameterStore, optimizer: Optimizer, batchesPerEpoch: Int,
                                 classes: [String]? = nil, dataRoot: URL? = nil) throws -> TrainingProgress {
        let progress = try load(url, parameters: parameters, optimizer: optimizer)
        guard progress.epochStep >= 0, progress.epochStep < max(batchesPerEpoch, 1) else {
            throw DNNError.checkpoint(url, "stopped after batch \(progress.epochStep) of epoch \(progress.epoch + 1), but an epoch now has "
                                  + "\(batchesPerEpoch) batches (the data set or TRAIN.BATCH_SIZE_PER_GPU changed)")
        }
        if let classes, let saved = progress.metadata["classes"], saved != classes.joined(separator: "\n") {
            throw DNNError.checkpoint(url, "was trained on the classes \(saved.split(separator: "\n").joined(separator: ", ")); "
                                  + "\(dataRoot?.path ?? "the data") has \(classes.joined(separator: ", "))")
        }
        return progress
    }
}
