import Foundation

/// Runs the built `hrnet` executable as a user would, capturing its output.
public struct CommandResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

public enum HRNetCLI {
    /// The `hrnet` binary next to the test bundle (SwiftPM builds it before the tests).
    public static var executable: URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("hrnet")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        // xctest bundles on Linux live in .build/<triple>/debug next to the products.
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("hrnet")
    }

    @discardableResult
    public static func run(_ arguments: [String], timeout: TimeInterval = 120) throws -> CommandResult {
        try launch(executable, arguments, timeout: timeout)
    }

    /// Open MPI's launcher (`make deps` installs it), or nil.
    public static var mpirunPath: String? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `mpirun -np processes hrnet arguments` on this machine (as root too, more processes than cores allowed).
    @discardableResult
    public static func mpirun(processes: Int, _ arguments: [String], timeout: TimeInterval = 300) throws -> CommandResult {
        guard let mpirun = mpirunPath else { throw NSError(domain: "HRNetCLI", code: 2, userInfo: [NSLocalizedDescriptionKey: "no mpirun"]) }
        return try launch(URL(fileURLWithPath: mpirun), ["--allow-run-as-root", "--oversubscribe", "-np", "\(processes)", executable.path] + arguments,
                          timeout: timeout)
    }

    /// Runs another program (e.g. a browser driving `hrnet serve`) the same way.
    public static func launchProgram(_ program: URL, _ arguments: [String], timeout: TimeInterval = 120) throws -> CommandResult {
        try launch(program, arguments, timeout: timeout)
    }

    static func launch(_ program: URL, _ arguments: [String], timeout: TimeInterval) throws -> CommandResult {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        // Output goes to files, so a chatty child never blocks on a full pipe.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            process.terminate()
            throw NSError(domain: "HRNetCLI", code: 1, userInfo: [NSLocalizedDescriptionKey: "hrnet \(arguments) timed out"])
        }
        process.waitUntilExit()
        try out.close(); try err.close()
        let outData = try Data(contentsOf: outURL), errData = try Data(contentsOf: errURL)
        return CommandResult(status: process.terminationStatus,
                             stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }
}
