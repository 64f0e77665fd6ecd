import ArgumentParser
import Foundation
import HRNet

/// How a command names its model: a config or preset, and the weights.
struct ModelOptions: ParsableArguments {
    @Option(help: "An official experiment YAML file (MODEL.NAME pose_hrnet, seg_hrnet or cls_hrnet).")
    var config: String?

    @Option(help: "A built-in model, e.g. pose_w32_256x192, cls_w18_small_v2 (list: hrnet info --list-presets).")
    var preset: String?

    @Option(help: "Checkpoint: .pth (torch zip or legacy format) or .safetensors.")
    var weights: String?

    @Flag(help: "Accept a checkpoint with missing keys; they start from PyTorch's initial values.")
    var allowPartial = false

    @Flag(help: "Random weights instead of a checkpoint (for timing and smoke tests; outputs mean nothing).")
    var randomWeights = false

    func validate() throws {
        if config != nil && preset != nil { throw ValidationError("give one of --config FILE or --preset NAME, not both") }
        if weights != nil && randomWeights { throw ValidationError("--weights and --random-weights exclude each other") }
    }

    func loadConfig() throws -> HRNetConfig {
        guard config != nil || preset != nil else { throw ValidationError("give --config FILE or --preset NAME") }
        if let config { return try HRNetConfig.load(URL(fileURLWithPath: config)) }
        return try Presets.config(named: preset!)
    }

    /// The model and its parameters; says on stderr which keys were filled in or why random.
    func load(requireWeights: Bool) throws -> (model: HRNetModel, parameters: [String: Tensor], report: BindReport?) {
        let model = HRNetModel(config: try loadConfig())
        guard let weights else {
            if requireWeights && !randomWeights {
                throw ValidationError("give --weights FILE (or --random-weights to run with random weights)")
            }
            if randomWeights { warn("using random weights: the outputs mean nothing") }
            return (model, model.graph.randomParameters(seed: 0), nil)
        }
        let url = URL(fileURLWithPath: weights)
        let (parameters, report) = try model.loadWeights(url, allowPartial: allowPartial)
        if !report.missing.isEmpty {
            warn("\(report.missing.count) keys missing from \(url.lastPathComponent) start from initial values: "
                 + report.missing.prefix(5).joined(separator: ", ") + (report.missing.count > 5 ? ", ..." : ""))
        }
        return (model, parameters, report)
    }
}

/// Options shared by commands that compute.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for oneDNN and the engine's kernels (default: all cores).")
    var threads: Int?

    enum Convolution: String, ExpressibleByArgument, CaseIterable {
        case auto, direct, winograd
    }
    @Option(help: ArgumentHelp("3x3 convolutions: auto (Winograd on maps of >= 192 pixels), direct (least memory), winograd (all; fastest, most memory).",
                               valueName: "auto|direct|winograd"))
    var convolution: Convolution = .auto

    enum Precision: String, ExpressibleByArgument, CaseIterable {
        case fp32, bf16
    }
    @Option(help: ArgumentHelp("Arithmetic: fp32, or bf16 activations and weights with fp32 accumulation (AVX512-BF16 CPUs).",
                               valueName: "fp32|bf16"))
    var precision: Precision = .fp32

    var planOptions: Plan.Options {
        var o: Plan.Options
        switch convolution {
        case .auto: o = Plan.Options()
        case .direct: o = Plan.Options.direct
        case .winograd: o = Plan.Options(winograd: true, winogradMinimumPixels: 1)
        }
        o.bf16 = precision == .bf16
        return o
    }

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be 1...1024") }
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("hrnet: warning: \(message)\n".utf8))
}
