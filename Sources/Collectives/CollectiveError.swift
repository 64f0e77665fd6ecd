import CMPI

/// A failed collective. MPI only hands back an integer, so the operation name
/// and rank are recorded here to make logs from many processes readable.
public struct CollectiveError: Error, CustomStringConvertible, Sendable {
    /// The MPI call (or layer operation) that failed.
    public let operation: String
    /// Rank that observed the failure; -1 if it happened before the rank was known.
    public let rank: Int
    /// The MPI error code.
    public let code: Int32
    /// MPI's explanation of `code` (from `MPI_Error_string`), or the layer's own.
    public let message: String

    public var description: String { "\(operation) failed on rank \(rank): \(message) (MPI error \(code))" }

    init(operation: String, rank: Int, code: Int32, message: String? = nil) {
        self.operation = operation
        self.rank = rank
        self.code = code
        self.message = message ?? CollectiveError.mpiText(for: code)
    }

    /// Open MPI 4.1 aborts the process if MPI_Error_string is called outside
    /// MPI_Init...MPI_Finalize, so it is only asked while MPI is up.
    static func mpiText(for code: Int32) -> String {
        var initialized: Int32 = 0
        var finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard initialized != 0, finalized == 0, MPI_Error_string(code, &text, &length) == cmpi_success() else {
            return "MPI error code \(code)"
        }
        return String(decoding: text.prefix(max(0, Int(length))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
