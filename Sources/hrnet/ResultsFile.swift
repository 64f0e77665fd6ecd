import FileSupport
import Foundation

/// The final write of a long job (hours of evaluation) must not lose the work: when the file
/// cannot be written (a full disk, a folder removed, no permission), the results go to the
/// system's temporary folder instead and the error says where, so they can be moved.
enum ResultsFile {
    static func write(_ data: Data, to url: URL) throws {
        do { try writeAtomically(data, to: url) } catch let error as FileWriteError {
            let kept = FileManager.default.temporaryDirectory
                .appendingPathComponent("hrnet-\(ProcessInfo.processInfo.processIdentifier)-\(url.lastPathComponent)")
            guard (try? writeAtomically(data, to: kept)) != nil else { throw error }
            throw FileWriteError(url, "\(error.reason); the results are kept in \(kept.path)")
        }
    }
}
