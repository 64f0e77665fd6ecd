/// Where a training run is: the next epoch to train, the batches already taken inside it (a run
/// stopped mid-epoch goes on with the next one) and the optimizer steps taken in all. Every
/// trainer keeps one; checkpoints save it.
public struct TrainingPosition: Sendable, Equatable {
    public var epoch: Int
    public var epochStep: Int
    public var step: Int

    public init(epoch: Int, epochStep: Int = 0, step: Int = 0) {
        (self.epoch, self.epochStep, self.step) = (epoch, epochStep, step)
    }

    /// One optimizer step taken inside the epoch.
    public mutating func advance() {
        step += 1
        epochStep += 1
    }

    /// Ends the epoch's loop: the run moves on to the next epoch if all its `batches` were taken.
    /// - Returns: whether the epoch was completed (false when it was stopped early).
    public mutating func finishEpoch(batches: Int) -> Bool {
        guard epochStep == batches else { return false }
        (epoch, epochStep) = (epoch + 1, 0)
        return true
    }
}
