import Foundation

/// Entry point: decides whether this process is part of an MPI job.
public enum ProcessGroup {
    /// Variables set by Open MPI's mpirun, PMIx launchers (srun, prterun) and
    /// PMI-1/2 launchers (MPICH hydra, older srun).
    static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"]

    /// True when an MPI launcher started this process.
    public static var launchedByMPI: Bool { launchedByMPI(environment: environment) }

    /// This process's index among the ranks on the same machine (0 if unknown).
    public static var localRank: Int {
        integer(["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"], in: environment) ?? 0
    }

    /// Ranks sharing this machine, so each can size its thread pool to
    /// cores / localProcessCount instead of oversubscribing. 1 if unknown.
    public static var localProcessCount: Int {
        max(1, integer(["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"], in: environment) ?? 1)
    }

    /// `MPIWorld` under an MPI launcher, otherwise `SingleProcess`. MPI is not
    /// initialised for a plain launch: singleton init is slow and noisy.
    public static func world() throws -> any Communicator {
        launchedByMPI ? try MPIWorld() : SingleProcess()
    }

    /// Ends MPI for a job whose processes all agreed to stop (a run stopped on request exits
    /// with a nonzero status, which would otherwise abort the job as a failure). No
    /// communicator may be used afterwards; without MPI it does nothing.
    public static func finish() { MPIRuntime.finalizeIfNeeded() }

    static func launchedByMPI(environment: [String: String]) -> Bool {
        launcherVariables.contains { environment[$0] != nil }
    }

    static func integer(_ names: [String], in environment: [String: String]) -> Int? {
        for name in names {
            if let text = environment[name], let value = Int(text.trimmingCharacters(in: .whitespaces)) {
                return value
            }
        }
        return nil
    }

    private static var environment: [String: String] { ProcessInfo.processInfo.environment }
}
