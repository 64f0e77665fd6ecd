import CMPI

/// How much threading the MPI library promised (`MPI_Init_thread`'s
/// `provided`). With `.funneled`, only the thread that created the first
/// `MPIWorld` (normally the main thread) may call communicator methods.
public enum ThreadSupport: Sendable, Equatable {
    case single, funneled, serialized, multiple

    init(mpiLevel: Int32) {
        switch mpiLevel {
        case cmpi_thread_multiple(): self = .multiple
        case cmpi_thread_serialized(): self = .serialized
        case cmpi_thread_funneled(): self = .funneled
        default: self = .single
        }
    }
}
