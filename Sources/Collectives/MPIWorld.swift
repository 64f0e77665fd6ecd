import CMPI
import Foundation

/// `MPI_COMM_WORLD` as a `Communicator`. Every MPI return code is checked and
/// turned into a `CollectiveError`; buffers are split so no single call gets
/// a count above `Int32.max` (MPI counts are C `int`).
public final class MPIWorld: Communicator {
    public let rank: Int
    public let size: Int
    /// Thread support MPI actually provided (`.funneled` is requested).
    public let threadSupport: ThreadSupport
    /// Largest element count passed to one MPI call; lowered only to exercise chunking.
    package let maxChunk: Int

    /// Initialises MPI on first use in the process; later instances share it.
    public convenience init() throws { try self.init(maxChunk: Int(Int32.max)) }

    package init(maxChunk: Int) throws {
        precondition(maxChunk > 0 && maxChunk <= Int(Int32.max), "maxChunk must be in 1...Int32.max")
        let state = try MPIRuntime.state.get()
        (rank, size, threadSupport, self.maxChunk) = (state.rank, state.size, state.threadSupport, maxChunk)
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allReduceInPlace(buffer, cmpi_float(), "MPI_Allreduce(sum, float)")
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        try allReduceInPlace(buffer, cmpi_double(), "MPI_Allreduce(sum, double)")
    }

    public func allReduceMax(_ value: Double) throws -> Double { try reduce(value, cmpi_op_max(), "MPI_Allreduce(max)") }
    public func allReduceMin(_ value: Double) throws -> Double { try reduce(value, cmpi_op_min(), "MPI_Allreduce(min)") }
    public func barrier() throws { try check(MPI_Barrier(world), "MPI_Barrier") }

    public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
        try checkRoot(root, "broadcast")
        var count = Int64(bytes.count)  // receivers do not know the length yet
        try check(MPI_Bcast(&count, 1, cmpi_int64(), Int32(root), world), "MPI_Bcast(count)")
        guard let length = Int(exactly: count), length >= 0 else {
            throw CollectiveError(operation: "broadcast", rank: rank, code: MPI_ERR_COUNT,
                                   message: "root sent invalid length \(count)")
        }
        if rank != root { bytes = [UInt8](repeating: 0, count: length) }
        try bytes.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            for chunk in Chunking.ranges(count: length, maxChunk: maxChunk) {
                try check(MPI_Bcast(base + chunk.lowerBound, Int32(chunk.count), cmpi_byte(), Int32(root), world),
                          "MPI_Bcast(payload)")
            }
        }
    }

    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        try checkRoot(root, "gather")
        return try gatherVariable(bytes, root: root)
    }

    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] { try gatherVariable(bytes, root: nil) ?? [] }

    public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction {
        guard let base = buffer.baseAddress else { return PendingReduction() }
        var requests: [MPI_Request?] = []
        let rank = self.rank
        let waitAll = {
            let rc = requests.withUnsafeMutableBufferPointer {
                MPI_Waitall(Int32($0.count), $0.baseAddress, cmpi_statuses_ignore())
            }
            if rc != cmpi_success() { throw CollectiveError(operation: "MPI_Waitall", rank: rank, code: rc) }
        }
        for chunk in Chunking.ranges(count: buffer.count, maxChunk: maxChunk) {
            var request: MPI_Request? = cmpi_request_null()
            let rc = MPI_Iallreduce(cmpi_in_place(), base + chunk.lowerBound, Int32(chunk.count),
                                    cmpi_float(), cmpi_op_sum(), world, &request)
            guard rc == cmpi_success() else {
                try? waitAll()  // chunks already started still write into the buffer
                throw CollectiveError(operation: "MPI_Iallreduce", rank: rank, code: rc)
            }
            requests.append(request)
        }
        return PendingReduction(waiter: waitAll)
    }

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data("[rank \(rank)] \(message)\n".utf8))
        MPI_Abort(world, code)
        exit(code)  // MPI_Abort does not return in practice
    }

    // MARK: - Helpers

    private var world: MPI_Comm { cmpi_comm_world() }

    private func check(_ rc: Int32, _ operation: String) throws {
        if rc != cmpi_success() { throw CollectiveError(operation: operation, rank: rank, code: rc) }
    }

    /// A root outside the communicator would hang or crash inside MPI.
    private func checkRoot(_ root: Int, _ operation: String) throws {
        guard (0..<size).contains(root) else {
            throw CollectiveError(operation: operation, rank: rank, code: MPI_ERR_ROOT,
                                   message: "root \(root) is outside 0..<\(size)")
        }
    }

    private func allReduceInPlace<T>(_ buffer: UnsafeMutableBufferPointer<T>, _ type: MPI_Datatype,
                                     _ operation: String) throws {
        guard let base = buffer.baseAddress else { return }
        for chunk in Chunking.ranges(count: buffer.count, maxChunk: maxChunk) {
            try check(MPI_Allreduce(cmpi_in_place(), base + chunk.lowerBound, Int32(chunk.count),
                                    type, cmpi_op_sum(), world), operation)
        }
    }

    private func reduce(_ value: Double, _ op: MPI_Op, _ operation: String) throws -> Double {
        var result = value
        try check(MPI_Allreduce(cmpi_in_place(), &result, 1, cmpi_double(), op, world), operation)
        return result
    }

    /// Gather (root given) or all-gather (root nil) of byte arrays of different
    /// lengths. Lengths are exchanged with MPI_Allgather rather than MPI_Gather
    /// because every rank must agree on how many chunked Gatherv rounds follow.
    private func gatherVariable(_ bytes: [UInt8], root: Int?) throws -> [[UInt8]]? {
        var counts = [Int64](repeating: 0, count: size)
        var mine = Int64(bytes.count)
        try check(MPI_Allgather(&mine, 1, cmpi_int64(), &counts, 1, cmpi_int64(), world), "MPI_Allgather(counts)")
        let lengths = counts.compactMap { $0 >= 0 ? Int(exactly: $0) : nil }
        guard lengths.count == size else {
            throw CollectiveError(operation: "gather", rank: rank, code: MPI_ERR_COUNT,
                                   message: "a rank reported an invalid length: \(counts)")
        }
        let receives = root == nil || root == rank
        var result = [[UInt8]](repeating: [], count: size)
        let rounds = Chunking.gatherRounds(lengths: lengths, maxChunk: maxChunk)
        // Round 0 is the largest, so its total bounds every round's receive buffer (root/all-gather only).
        let scratchSize = receives ? rounds.first?.reduce(0) { $0 + $1.count } ?? 0 : 0
        var scratch = [UInt8](repeating: 0, count: max(1, scratchSize))
        let send: [UInt8] = bytes.isEmpty ? [0] : bytes  // MPI wants a valid pointer even for empty sends
        for slices in rounds {
            let sizes = slices.map { Int32($0.count) }  // each ≤ maxChunk / size
            var offsets: [Int32] = [], total: Int32 = 0  // total ≤ maxChunk
            for size in sizes { offsets.append(total); total += size }
            let mine = slices[rank]
            let rc = send.withUnsafeBytes { sendRaw in
                scratch.withUnsafeMutableBytes { receiveRaw in
                    guard let sendBase = sendRaw.baseAddress else { return MPI_ERR_BUFFER }
                    let (pointer, count) = (sendBase + mine.lowerBound, Int32(mine.count))
                    guard let root else {
                        return MPI_Allgatherv(pointer, count, cmpi_byte(), receiveRaw.baseAddress, sizes, offsets,
                                              cmpi_byte(), world)
                    }
                    return MPI_Gatherv(pointer, count, cmpi_byte(), receiveRaw.baseAddress, sizes, offsets,
                                       cmpi_byte(), Int32(root), world)
                }
            }
            try check(rc, root == nil ? "MPI_Allgatherv" : "MPI_Gatherv")
            if receives {
                for i in 0..<size { result[i] += scratch[Int(offsets[i])..<Int(offsets[i] + sizes[i])] }
            }
        }
        return receives ? result : nil
    }
}
