import ArgumentParser
import FileSupport
import Foundation

@main
struct HRNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hrnet",
        abstract: "HRNet (High-Resolution Network) on the CPU: official configs and checkpoints, same numbers.",
        discussion: """
        Exit status: 0 done; 64 a usage error (the arguments; usage is printed); 65 an input that \
        cannot be used (a file, config, checkpoint, image or data set: one line names it and says why); \
        74 an output that cannot be written; 130 stopped on request (Ctrl-C; training saved a checkpoint).
        """,
        subcommands: [RunCommand.self, InfoCommand.self, ConvertCommand.self, PoseCommand.self, EvalCommand.self, TrainCommand.self,
                      SynthCommand.self, DemoCommand.self, SegmentCommand.self, EvalSegCommand.self, SynthSegCommand.self,
                      ClassifyCommand.self, EvalClsCommand.self, SynthClsCommand.self, BenchCommand.self, COCOEvalCommand.self,
                      QuantizeCommand.self, DetectCommand.self, EvalDetCommand.self, MPICheckCommand.self, ServeCommand.self]
    )

    /// Parses (a usage error prints the usage, exit 64), then runs: an error while running is
    /// one line naming the file and the problem, without the usage, and an exit status by kind.
    static func main() {
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do {
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") && !(error is ValidationError) {
            // The parser's own requests that surface from run(): --help, `hrnet help X`, clean exits.
            exit(withError: error)
        } catch {
            FileHandle.standardError.write(Data("Error: \(RunFailure.message(error))\n".utf8))
            Foundation.exit(RunFailure.status(error))
        }
    }
}

/// How an error that stops a command is told: its message, and the exit status of its kind.
enum RunFailure {
    static let inputData: Int32 = 65, output: Int32 = 74

    static func status(_ error: Error) -> Int32 { error is FileWriteError ? output : inputData }

    static func message(_ error: Error) -> String {
        if let v = error as? ValidationError { return v.message }
        return "\(error)".replacingOccurrences(of: "\n", with: " ")
    }
}
