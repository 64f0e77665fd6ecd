import Collectives

/// How a trainer shares its work with other processes (`mpirun -np N hrnet train`): each
/// process trains on its part of every global batch and the gradients are combined; with
/// `synchronizeBatchNorm` batch norm also normalizes over the whole global batch (SyncBN), so
/// N processes with batch B train exactly as one with batch N x B.
public struct DataParallel {
    public var communicator: any Communicator
    public var synchronizeBatchNorm: Bool

    public init(communicator: any Communicator, synchronizeBatchNorm: Bool = false) {
        (self.communicator, self.synchronizeBatchNorm) = (communicator, synchronizeBatchNorm)
    }

    /// One process: nothing shared.
    public static var none: DataParallel { DataParallel(communicator: SingleProcess()) }

    /// What a training plan's batch norm synchronizes over (nil: its own batch).
    public var batchNormCommunicator: (any Communicator)? { synchronizeBatchNorm ? communicator : nil }
    public var processes: Int { communicator.size }
}

/// A step's loss as the mean over `units` (people, images, weighted labelled pixels) and its
/// gradient with respect to each network output. Processes of a data-parallel run scale the
/// output gradients by their share of the global batch's units before backward, so each
/// computes its part of the gradient of the global batch's mean loss and the parts add up to
/// exactly what one process computes on the whole batch (a loss that ignores some pixels
/// averages over more of them in one process than in another; synchronized batch norm adds
/// the processes' output-gradient sums, which must be in the same units).
public struct BatchLoss: Sendable {
    public var value: Double
    public var units: Double
    public var outputGradients: [Tensor]
    public init(_ value: Double, units: Double, outputGradients: [Tensor]) {
        (self.value, self.units, self.outputGradients) = (value, units, outputGradients)
    }
}

extension TrainingSession {
    /// Whether the run stops before the next step: any process asking stops every process
    /// at the same step (one that went on alone would wait for the others forever).
    func stopRequested(_ local: Bool) throws -> Bool {
        guard communicator.size > 1 else { return local }
        return try communicator.allReduceMax(local ? 1 : 0) > 0
    }

    /// Runs backward for `loss` and makes every process's gradients (and running statistics)
    /// those of the global batch: the output gradients scaled by this process's share of the
    /// loss units, the parameter gradients summed over the processes; BN running statistics
    /// averaged, unless synchronized batch norm already made them equal.
    /// - Returns: the global batch's loss.
    func backward(_ loss: BatchLoss) throws -> Double {
        guard communicator.size > 1 else {
            try plan.backward(loss.outputGradients)
            return loss.value
        }
        var totals = [loss.units, loss.value * loss.units]
        try totals.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        guard totals[0] > 0 else { throw DNNError.training("no process's batch had anything to learn from (every label ignored)") }
        let share = Float(loss.units / totals[0])
        try plan.backward(loss.outputGradients.map { Tensor(shape: $0.shape, scalars: $0.scalars.map { $0 * share }) })
        try plan.parameters.combineGradients(over: communicator, share: 1, averageStatistics: !plan.synchronizesBatchNorm)
        return totals[1] / totals[0]
    }
}

extension ParameterStore {
    /// Every process's gradients weighted by its `share` of the global batch and summed, on
    /// every process (`share` = 1 / processes for equal parts); with `averageStatistics` the BN
    /// running statistics averaged too (batch norm that is not synchronized).
    public func combineGradients(over communicator: any Communicator, share: Double, averageStatistics: Bool) throws {
        guard communicator.size > 1 else { return }
        if share != 1 { scaleGradients(Float(share)) }
        try communicator.allReduceSum(UnsafeMutableBufferPointer(start: gradients, count: count))
        if averageStatistics { try averageBuffers(over: communicator) }
    }

    /// Averages the BN running statistics over the processes (in key order, the same on every process).
    func averageBuffers(over communicator: any Communicator) throws {
        let keys = buffers.keys.sorted()
        var packed: [Float] = []
        packed.reserveCapacity(keys.reduce(0) { $0 + buffers[$1]!.count })
        for k in keys { packed += UnsafeBufferPointer(start: buffers[k]!.pointer, count: buffers[k]!.count) }
        try packed.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        let scale = 1 / Float(communicator.size)
        var offset = 0
        for k in keys {
            let (p, n) = buffers[k]!
            for i in 0..<n { p[i] = packed[offset + i] * scale }
            offset += n
        }
    }
}

