import ArgumentParser
import Collectives
import DNN

/// What `train`, `eval`, `eval-seg` and `eval-cls` share under `mpirun -np N`: the processes
/// (one without mpirun), only the first prints, the cores of a machine split between its
/// processes, and a failure on any process ends them all with its message (the others would
/// wait for it in a collective forever).
struct MPIJob {
    let world: any Communicator

    init() throws {
        world = try ProcessGroup.world()
        if !world.isRoot { ProgressBar.silent = true }
    }

    var isRoot: Bool { world.isRoot }

    /// Compute threads of each process: `given`, else the machine's cores over its processes (nil: all cores).
    func threads(_ given: Int?) -> Int? {
        given ?? (world.size > 1 ? max(1, Threads.available / ProcessGroup.localProcessCount) : nil)
    }

    func run(_ command: String, _ body: () throws -> Void) throws {
        do { try body() } catch let error where world.size > 1 && !(error is ExitCode) {
            world.abort(code: 1, message: "hrnet \(command): \(error)")
        }
    }
}
