import ArgumentParser
import Foundation
import HRNet

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a PyTorch checkpoint (.pth, zip or legacy) to safetensors, keeping the key names.",
        discussion: "Training checkpoints are unwrapped (state_dict / model, DataParallel's module. prefix); integer buffers such as num_batches_tracked are dropped."
    )

    @Argument(help: "The .pth (or .safetensors) checkpoint to read.")
    var input: String

    @Argument(help: "The .safetensors file to write.")
    var output: String

    @Flag(help: "Replace OUTPUT if it exists.")
    var force = false

    func run() throws {
        let out = URL(fileURLWithPath: output)
        if FileManager.default.fileExists(atPath: out.path) && !force {
            throw ValidationError("\(output) exists; pass --force to replace it")
        }
        let tensors = try Checkpoint.loadFloat(URL(fileURLWithPath: input))
        if tensors.isEmpty { throw ValidationError("\(input): no floating-point tensors to convert") }
        try SafeTensors.write(tensors, metadata: ["format": "pt", "source": URL(fileURLWithPath: input).lastPathComponent], to: out)
        let count = tensors.values.map(\.count).reduce(0, +)
        print("wrote \(tensors.count) tensors (\(count) parameters) to \(output)")
    }
}
