import FileSupport
import Foundation

/// Reads a whole file, turning I/O failures into a `DNNError`.
func readFile(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        let reason = FileManager.default.fileExists(atPath: url.path) ? "cannot be read" : "no such file"
        throw DNNError.checkpoint(url, reason)
    }
}

/// `writeAtomically` (FileSupport) for tensor files (a failure is its `FileWriteError`, naming the file).
func writeTensorFile(_ data: Data, to url: URL) throws {
    try writeAtomically(data, to: url)
}
