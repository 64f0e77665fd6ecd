import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file could not be written; names it and says why.
public struct FileWriteError: Error, CustomStringConvertible, Sendable {
    public let url: URL
    public let reason: String
    public init(_ url: URL, _ reason: String) { (self.url, self.reason) = (url, reason) }
    public var description: String { "\(url.lastPathComponent): cannot be written: \(reason)" }
}

/// Writes `data` to `url` atomically: a temporary file in the same directory, flushed to disk,
/// then a rename, so a reader (or a crash) never sees half a file and the old file survives a
/// failed write. The one writer every module's outputs go through.
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
        guard rename(temp.path, url.path) == 0 else { throw FileWriteError(url, String(cString: strerror(errno))) }
    } catch let error as FileWriteError {
        try? FileManager.default.removeItem(at: temp)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temp)
        throw FileWriteError(url, error.localizedDescription)
    }
}
