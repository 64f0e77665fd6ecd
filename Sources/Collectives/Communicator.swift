/// The collective operations a data-parallel training loop needs, independent of
/// whether the process is one of many MPI ranks or running alone. Code written
/// against this protocol runs unchanged on a laptop (`SingleProcess`) and under
/// `mpirun` (`MPIWorld`).
///
/// All operations are collective: every rank must call them in the same order
/// with matching arguments (buffer lengths, root), or the job deadlocks.
public protocol Communicator: AnyObject, Sendable {
    /// This process's index in `0..<size`.
    var rank: Int { get }
    /// Number of cooperating processes.
    var size: Int { get }

    /// Element-wise sum across ranks, written back into `buffer` on every rank.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Element-wise sum across ranks, written back into `buffer` on every rank.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Largest `value` over all ranks.
    func allReduceMax(_ value: Double) throws -> Double
    /// Smallest `value` over all ranks.
    func allReduceMin(_ value: Double) throws -> Double
    /// Replaces `bytes` on every rank with root's `bytes`; lengths may differ before the call.
    func broadcast(_ bytes: inout [UInt8], root: Int) throws
    /// Every rank's payload (lengths may differ), in rank order, on `root`; `nil` elsewhere.
    func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]?
    /// Every rank's payload (lengths may differ), in rank order, on every rank.
    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Returns once every rank has entered the barrier.
    func barrier() throws
    /// Starts an in-place sum so communication can overlap computation. `buffer`
    /// must stay alive and untouched until the returned reduction's `wait()` returns.
    func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction
    /// Ends the whole job (all ranks), printing `message` prefixed with this rank.
    func abort(code: Int32, message: String) -> Never
}

extension Communicator {
    /// Rank 0 conventionally does logging, checkpointing and evaluation.
    public var isRoot: Bool { rank == 0 }
}
