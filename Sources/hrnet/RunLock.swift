import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One training run per output folder: an exclusive `flock` on OUT/.lock, held until the
/// process ends (the kernel releases it however the process ends, so a killed run leaves no
/// stale lock), and a second run into the same folder is refused naming the holder's PID.
enum RunLock {
    static let name = ".lock"
    /// The held lock's descriptor (kept open for the process's life).
    nonisolated(unsafe) private static var held: Int32 = -1

    static func take(_ folder: URL) throws {
        let path = folder.appendingPathComponent(name).path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ValidationError("\(path): cannot be created (\(String(cString: strerror(errno))))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(fd)
            throw ValidationError("\(folder.path) is being written by another training run (process \(holder)); "
                                  + "wait for it, stop it, or give another --out")
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        if held >= 0 { close(held) }
        held = fd
    }
}
