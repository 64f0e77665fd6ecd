import FileSupport
import Foundation

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

/// `writeAtomically` (FileSupport) for tensor files (a failure is its `FileWriteError`, naming the file).
func writeTensorFile(_ data: Data, to url: URL) throws {
    try writeAtomically(data, to: url)
}
