import CMPI
import Foundation

/// The communicator for a process that is not part of an MPI job: one rank, so
/// every reduction is the identity and nothing touches the MPI library (whose
/// singleton initialisation is slow and prints warnings).
public final class SingleProcess: Communicator {
    public let rank = 0
    public let size = 1

    public init() {}

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func allReduceMax(_ value: Double) throws -> Double { value }
    public func allReduceMin(_ value: Double) throws -> Double { value }
    public func broadcast(_ bytes: inout [UInt8], root: Int) throws { try checkRoot(root) }
    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]? { try checkRoot(root); return [bytes] }
    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func barrier() throws {}

    public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction {
        PendingReduction()
    }

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data("[rank 0] \(message)\n".utf8))
        exit(code)
    }

    /// Rejects the same roots MPIWorld would, so such bugs show up before scaling out.
    private func checkRoot(_ root: Int) throws {
        guard root == 0 else {
            throw CollectiveError(operation: "root check", rank: 0, code: MPI_ERR_ROOT,
                                   message: "root \(root) is not a rank of a 1-process job")
        }
    }
}
