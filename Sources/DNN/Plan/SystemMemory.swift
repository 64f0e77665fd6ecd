import Foundation

/// How much memory a new allocation can count on: Linux's MemAvailable (free plus reclaimable
/// caches), lowered to the cgroup's limit minus its usage when the process runs in a container
/// with one; the physical size where neither can be read. Plans compare their arenas with it
/// before allocating, so an input too large for this machine now is an error, not a machine
/// swapped to a halt or a process killed by the OOM killer.
public enum SystemMemory {
    public static var available: UInt64 {
        var bytes = ProcessInfo.processInfo.physicalMemory
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) {
            bytes = min(bytes, kb * 1024)
        }
        // cgroup v2: memory.max ("max" when unlimited) and memory.current.
        if let limit = cgroupValue("/sys/fs/cgroup/memory.max"), let used = cgroupValue("/sys/fs/cgroup/memory.current"), limit > used {
            bytes = min(bytes, limit - used)
        }
        return bytes
    }

    private static func cgroupValue(_ path: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
