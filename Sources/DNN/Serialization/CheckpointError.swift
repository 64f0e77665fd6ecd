import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file could not be read as a tensor file; names the file and what is wrong.
public struct CheckpointError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String
    public init(_ url: URL, _ problem: String) {
        self.file = url.lastPathComponent
        self.problem = problem
    }
    public var description: String { "\(file): \(problem)" }
}

/// Reads a whole file, turning I/O failures into a `CheckpointError`.
func readFile(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        let reason = FileManager.default.fileExists(atPath: url.path) ? "cannot be read" : "no such file"
        throw CheckpointError(url, reason)
    }
}

/// Writes `data` to `url` atomically: a temporary file in the same directory, then a rename,
/// so a reader (or a crash) never sees half a file and the old file survives a failed write.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    let temp = dir.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    do {
        try data.write(to: temp)
        // Flush before the rename, so a crash cannot leave the new name on an empty file.
        let handle = try FileHandle(forWritingTo: temp)
        try handle.synchronize()
        try handle.close()
        // rename(2) replaces the destination in one step.
        guard rename(temp.path, url.path) == 0 else {
            throw CheckpointError(url, "cannot be written: \(String(cString: strerror(errno)))")
        }
    } catch let error as CheckpointError {
        try? FileManager.default.removeItem(at: temp)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temp)
        throw CheckpointError(url, "cannot be written: \(error.localizedDescription)")
    }
}
