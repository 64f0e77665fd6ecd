import Foundation

/// ProgressBar of long work on stderr: a bar redrawn in place on a terminal, and a plain line
/// every `logEvery` seconds (and at the end) when stderr is a file or pipe.
final class ProgressBar {
    let label: String
    let total: Int
    let unit: String
    private(set) var done = 0
    private let start = DispatchTime.now()
    private var lastLog = DispatchTime.now()
    private let terminal = isatty(STDERR_FILENO) != 0
    private let logEvery: Double
    private let enabled: Bool

    /// Every process but the first of an `mpirun` job keeps quiet (set once, before any work starts).
    nonisolated(unsafe) static var silent = false

    /// - Parameter enabled: false prints nothing (machine-readable output on stdout, say).
    init(_ label: String, total: Int, unit: String = "images", logEvery: Double = 10, enabled: Bool = true) {
        (self.label, self.total, self.unit, self.logEvery, self.enabled) = (label, total, unit, logEvery, enabled && !Self.silent)
    }

    /// One line of news on stderr.
    static func say(_ message: String) {
        guard !silent else { return }
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    var elapsedSeconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }
    var rate: Double { elapsedSeconds > 0 ? Double(done) / elapsedSeconds : 0 }

    /// `count` more items are done.
    func advance(_ count: Int = 1, note: String = "") {
        done += count
        guard enabled else { return }
        let now = DispatchTime.now()
        let sinceLog = Double(now.uptimeNanoseconds - lastLog.uptimeNanoseconds) / 1e9
        if terminal {
            draw(note: note, newline: false)
        } else if sinceLog >= logEvery || done == total {
            lastLog = now
            draw(note: note, newline: true)
        }
    }

    /// Ends the bar's line on a terminal.
    func finish() {
        if enabled && terminal { draw(note: "", newline: true) }
    }

    private func draw(note: String, newline: Bool) {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let eta = rate > 0 ? Double(total - done) / rate : 0
        var line = "\(label) \(done)/\(total) \(unit)"
        if terminal {
            let width = 24, filled = Int(fraction * Double(width))
            line = "\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total)"
        }
        // Slow work (a Cityscapes image at three scales takes ~20 s) reads better per item, and before
        // the first item there is neither a rate nor an ETA to give.
        let one = unit.hasSuffix("s") ? String(unit.dropLast()) : unit
        if done == 0 {
            line += String(format: ", %.0f s elapsed", elapsedSeconds)
        } else if rate >= 0.1 {
            line += String(format: ", %.1f %@/s, %.0f s elapsed, ETA %.0f s", rate, unit, elapsedSeconds, eta)
        } else {
            line += String(format: ", %.1f s/%@, %.0f s elapsed, ETA %.0f s", 1 / rate, one, elapsedSeconds, eta)
        }
        if !note.isEmpty { line += ", " + note }
        let text = terminal ? "\r\u{1B}[K" + line + (newline ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}
