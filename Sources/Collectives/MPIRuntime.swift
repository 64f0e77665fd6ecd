import CMPI
import Foundation

/// Process-wide MPI setup. MPI may be initialised only once per process, and
/// Swift runs a static's initialiser exactly once (thread-safely), so `state`
/// doubles as the "init once" guard.
enum MPIRuntime {
    struct State: Sendable {
        let threadSupport: ThreadSupport, rank: Int, size: Int
    }

    static let state: Result<State, CollectiveError> = initialize()

    private static func initialize() -> Result<State, CollectiveError> {
        var alreadyInitialized: Int32 = 0
        var provided: Int32 = 0
        var rank: Int32 = 0
        var size: Int32 = 0
        MPI_Initialized(&alreadyInitialized)
        if alreadyInitialized == 0 {
            // SERIALIZED: one call at a time, but not always from the main thread (the
            // training engine's compute thread reduces synchronized batch-norm sums while
            // the main thread waits for it); MULTIPLE would add locking to every call.
            let rc = MPI_Init_thread(nil, nil, cmpi_thread_serialized(), &provided)
            guard rc == cmpi_success() else { return failure("MPI_Init_thread", rc) }
            registerExitHandler()
        } else {
            MPI_Query_thread(&provided)  // someone else initialised MPI and owns finalisation
        }
        // The default handler kills the job; returning codes lets us throw errors
        // that say which operation failed on which rank.
        var rc = MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return())
        if rc == cmpi_success() { rc = MPI_Comm_rank(cmpi_comm_world(), &rank) }
        if rc == cmpi_success() { rc = MPI_Comm_size(cmpi_comm_world(), &size) }
        guard rc == cmpi_success() else { return failure("MPI world setup", rc) }
        return .success(State(threadSupport: ThreadSupport(mpiLevel: provided), rank: Int(rank), size: Int(size)))
    }

    private static func failure(_ operation: String, _ rc: Int32) -> Result<State, CollectiveError> {
        .failure(CollectiveError(operation: operation, rank: -1, code: rc))
    }

    /// mpirun reports ranks that exit without MPI_Finalize as failures, so we
    /// finalize at exit. But MPI_Finalize synchronises with the other ranks: if
    /// a rank calls exit(nonzero) while its peers wait in a collective, both
    /// wait forever. glibc's on_exit sees the status, so a failing exit aborts
    /// the whole job instead of hanging it.
    private static func registerExitHandler() {
        #if canImport(Glibc)
        on_exit({ status, _ in
            var finalized: Int32 = 0
            MPI_Finalized(&finalized)
            if status != 0 && finalized == 0 { MPI_Abort(cmpi_comm_world(), status) }
            MPIRuntime.finalizeIfNeeded()
        }, nil)
        #else
        atexit { MPIRuntime.finalizeIfNeeded() }
        #endif
    }

    static func finalizeIfNeeded() {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        if initialized != 0 && finalized == 0 { MPI_Finalize() }
    }
}
