import ArgumentParser

@main
struct HRNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hrnet",
        abstract: "HRNet (High-Resolution Network) on the CPU: official configs and checkpoints, same numbers.",
        subcommands: [RunCommand.self, InfoCommand.self, ConvertCommand.self, PoseCommand.self, EvalCommand.self, TrainCommand.self,
                      SynthCommand.self, DemoCommand.self, SegmentCommand.self, EvalSegCommand.self, SynthSegCommand.self,
                      ClassifyCommand.self, EvalClsCommand.self, SynthClsCommand.self, BenchCommand.self, COCOEvalCommand.self,
                      QuantizeCommand.self, DetectCommand.self, EvalDetCommand.self, MPICheckCommand.self]
    )
}
