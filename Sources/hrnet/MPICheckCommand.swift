import ArgumentParser
import Collectives
import Foundation

/// `mpirun -np N hrnet mpi-check`: whether the processes of a job reach each other, before a
/// long training run finds out. Every collective the training and evaluation use runs with
/// values each process can predict (and once more split into 7-element calls, the path buffers
/// over 2^31 elements take); a mismatch ends the job naming the operation.
struct MPICheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpi-check",
        abstract: "Check an mpirun job's processes: every collective with known values, or time an all-reduce (--bench).",
        discussion: "Run as `mpirun -np N hrnet mpi-check` (as root add --allow-run-as-root; more processes than cores: --oversubscribe).")

    @Option(help: "Time a blocking all-reduce of this many floats instead (5 runs after a warm-up; the first process prints ms).")
    var bench: Int?

    @Option(help: .hidden)
    var dieRank: Int?

    func validate() throws {
        if let bench, bench < 1 || bench > 1 << 31 { throw ValidationError("--bench must be 1...2^31 floats") }
    }

    func run() throws {
        guard ProcessGroup.launchedByMPI else { throw ValidationError("start it with mpirun: mpirun -np 2 hrnet mpi-check") }
        let world = try MPIWorld(), chunked = try MPIWorld(maxChunk: 7)
        let (rank, size) = (world.rank, world.size)
        func check<T>(_ what: String, _ body: () throws -> T, _ isValid: (T) -> Bool = { _ in true }) -> T {
            do {
                let value = try body()
                if !isValid(value) { world.abort(code: 2, message: "mpi-check failed: \(what): got \(value)") }
                return value
            } catch { world.abort(code: 2, message: "mpi-check failed: \(what): \(error)") }
        }
        if let dieRank {
            // A process that dies while the others wait in a collective must end the job (tests).
            check("barrier") { try world.barrier() }
            if rank == dieRank { FileHandle.standardError.write(Data("rank \(rank) exits with 3\n".utf8)); Foundation.exit(3) }
            _ = check("max after a process died") { try world.allReduceMax(1) }
            return
        }
        if let bench {
            var values = [Float](repeating: Float(rank), count: bench)
            var times: [Double] = []
            for run in 0..<6 {
                check("barrier") { try world.barrier() }
                let start = DispatchTime.now().uptimeNanoseconds
                check("all-reduce") { try values.withUnsafeMutableBufferPointer { try world.allReduceSum($0) } }
                if run > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
            }
            if world.isRoot {
                print(String(format: "all-reduce of %d floats over %d processes: %@ ms (mean %.2f ms, %.2f GB/s of buffer)", bench, size,
                             times.map { String(format: "%.2f", $0) }.joined(separator: " "), times.reduce(0, +) / 5,
                             Double(bench) * 4 / (times.reduce(0, +) / 5 / 1e3) / 1e9))
            }
            return
        }
        let rankSum = Double(size * (size - 1) / 2)
        // Process 1 sends nothing, the others 10 + 13 r bytes.
        func payload(of r: Int) -> [UInt8] { r == 1 ? [] : (0..<(10 + 13 * r)).map { UInt8(truncatingIfNeeded: r * 37 + $0) } }
        let everyone = (0..<size).map(payload(of:))
        for c in [world, chunked] {
            let label = c === chunked ? "in 7-element calls" : "whole"
            var floats = (0..<50).map { Float((rank + 1) * $0) }
            _ = check("float sum \(label)", { try floats.withUnsafeMutableBufferPointer { try c.allReduceSum($0) }; return floats },
                      { $0 == (0..<50).map { Float(Double($0) * (rankSum + Double(size))) } })
            var pending = (0..<50).map { Float(rank + $0) }
            _ = check("nonblocking sum \(label)", { try pending.withUnsafeMutableBufferPointer { try c.startAllReduceSum($0).wait() }; return pending },
                      { $0 == (0..<50).map { Float(rankSum + Double(size * $0)) } })
            var doubles = (0..<23).map { 0.5 * Double(rank) + Double($0) }
            _ = check("double sum \(label)", { try doubles.withUnsafeMutableBufferPointer { try c.allReduceSum($0) }; return doubles },
                      { $0 == (0..<23).map { 0.5 * rankSum + Double(size * $0) } })
            _ = check("max \(label)", { try c.allReduceMax(1.5 * Double(rank) - 1) }, { $0 == 1.5 * Double(size - 1) - 1 })
            _ = check("min \(label)", { try c.allReduceMin(1.5 * Double(rank) - 1) }, { $0 == -1 })
            let root = min(1, size - 1), expected = (0..<777).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
            var bytes = rank == root ? expected : [UInt8](repeating: 9, count: rank + 3)
            _ = check("broadcast from \(root) \(label)", { try c.broadcast(&bytes, root: root); return bytes }, { $0 == expected })
            for gatherRoot in size > 1 ? [0, size - 1] : [0] {
                _ = check("gather to \(gatherRoot) \(label)", { try c.gather(payload(of: rank), root: gatherRoot) },
                          { rank == gatherRoot ? $0 == everyone : $0 == nil })
            }
            _ = check("all-gather \(label)", { try c.allGather(payload(of: rank)) }, { $0 == everyone })
            check("barrier \(label)") { try c.barrier() }
        }
        var empty: [UInt8] = []
        if (try? world.broadcast(&empty, root: size)) != nil { world.abort(code: 2, message: "mpi-check failed: a root beyond the processes was accepted") }
        print("mpi-check OK: process \(rank) of \(size) (MPI thread support \(world.threadSupport))")
    }
}
