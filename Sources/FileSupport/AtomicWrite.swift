import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file could not be written; names it and says why.
public struct FileWriteError: Error, CustomStringConvertible, Sendable {
    public let url: URL
    public let reason: String
    public init(_ url: URL, _ reason: String) { (self.url, self.reason) = (url, reason) }
    public var description: String { "\(url.path): cannot be written: \(reason)" }
}

/// Writes `data` to `url` atomically: a temporary file in the same directory, flushed to disk,
/// then a rename, so a reader (or a crash) never sees half a file and the old file survives a
/// failed write. The one writer every module's outputs go through.
///
/// Only regular files are replaced: a symbolic link is written through (its target replaced,
/// the link kept); a directory, device, FIFO or socket at `url` (or as the link's target) is
/// refused, so `--out-json /dev/null --force` cannot turn a device node into a file.
/// Temporaries are named `.NAME.hrnet-PID.tmp`; the next write to the same name removes those
/// a killed process left (its PID no longer running).
public func writeAtomically(_ data: Data, to url: URL) throws {
    let target = try writableTarget(url)
    let dir = target.deletingLastPathComponent(), name = target.lastPathComponent
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw FileWriteError(url, "the folder \(dir.path) does not exist")
    }
    removeStaleTemporaries(of: name, in: dir)
    let temp = dir.appendingPathComponent(temporaryName(name, pid: getpid()))
    do {
        try data.write(to: temp)
        // Flush before the rename, so a crash cannot leave the new name on an empty file.
        let handle = try FileHandle(forWritingTo: temp)
        try handle.synchronize()
        try handle.close()
        // rename(2) replaces the destination in one step.
        guard rename(temp.path, target.path) == 0 else { throw FileWriteError(url, String(cString: strerror(errno))) }
    } catch let error as FileWriteError {
        try? FileManager.default.removeItem(at: temp)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temp)
        throw FileWriteError(url, error.localizedDescription)
    }
}

/// Where a write to `url` goes: `url` itself, or the regular file a symbolic link points to.
/// - Throws: when something other than a regular file (or nothing) is there.
func writableTarget(_ url: URL) throws -> URL {
    var info = stat()
    guard lstat(url.path, &info) == 0 else { return url }  // nothing there yet: created
    var target = url
    if info.st_mode & S_IFMT == S_IFLNK {
        guard let resolved = realpath(url.path, nil) else {
            throw FileWriteError(url, "a symbolic link to nothing (\(String(cString: strerror(errno))))")
        }
        target = URL(fileURLWithPath: String(cString: resolved))
        free(resolved)
        guard stat(target.path, &info) == 0 else { return target }
    }
    switch info.st_mode & S_IFMT {
    case S_IFREG: return target
    case S_IFDIR: throw FileWriteError(url, "it is a directory")
    case S_IFCHR, S_IFBLK: throw FileWriteError(url, "it is a device (\(target.path)); refusing to replace it with a file")
    case S_IFIFO: throw FileWriteError(url, "it is a FIFO; refusing to replace it with a file")
    case S_IFSOCK: throw FileWriteError(url, "it is a socket; refusing to replace it with a file")
    default: throw FileWriteError(url, "it is not a regular file")
    }
}

func temporaryName(_ name: String, pid: Int32) -> String { ".\(name).hrnet-\(pid).tmp" }

/// Removes `.NAME.hrnet-PID.tmp` files in `dir` whose process is gone (a killed write).
func removeStaleTemporaries(of name: String, in dir: URL) {
    let prefix = ".\(name).hrnet-", suffix = ".tmp"
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
    for entry in entries where entry.hasPrefix(prefix) && entry.hasSuffix(suffix) {
        guard let pid = Int32(entry.dropFirst(prefix.count).dropLast(suffix.count)), pid > 0 else { continue }
        if pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH) {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(entry))
        }
    }
}
