import ArgumentParser
import Foundation
import HRNet

/// How a command names its model: a config or preset, and the weights.
struct ModelOptions: ParsableArguments {
    @Option(help: "An official experiment YAML file (MODEL.NAME pose_hrnet, pose_resnet, seg_hrnet, seg_hrnet_ocr or cls_hrnet).")
    var config: String?

    @Option(help: "A built-in model, e.g. pose_w32_256x192, cls_w18_small_v2 (list: hrnet info --list-presets). With neither --config nor --preset: pose_default, the embedded model trained on synthetic figures.")
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

    /// The embedded default model is chosen: by name, or by naming no model.
    var isDefaultModel: Bool { config == nil && (preset ?? DefaultModel.presetName).lowercased() == DefaultModel.presetName }

    func loadConfig() throws -> HRNetConfig {
        if let config { return try HRNetConfig.load(URL(fileURLWithPath: config)) }
        return try Presets.config(named: preset ?? DefaultModel.presetName)
    }

    /// The model and its parameters; says on stderr which keys were filled in or why random.
    func load(requireWeights: Bool) throws -> (model: HRNetModel, parameters: [String: Tensor], report: BindReport?) {
        if isDefaultModel && weights == nil && !randomWeights {
            let (model, parameters) = try DefaultModel.load()
            return (model, parameters, nil)
        }
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
    @Option(help: ArgumentHelp("3x3 convolutions: auto (Winograd on maps of >= 192 pixels with >= 512 over the batch, and elsewhere where oneDNN runs its F(2x2,3x3) kernel; bf16: the engine's bf16 Winograd kernel where the batch has >= 96 2x2 tiles), direct (least memory), winograd (all; most memory).",
                               valueName: "auto|direct|winograd"))
    var convolution: Convolution = .auto

    enum Precision: String, ExpressibleByArgument, CaseIterable {
        case fp32, bf16, int8, auto
    }
    @Option(help: ArgumentHelp("Arithmetic: fp32 (the official numbers); bf16 activations and weights with fp32 accumulation (AVX512-BF16 CPUs); "
                               + "int8 convolutions (VNNI), calibrated: needs --weights W.int8.safetensors made by `hrnet quantize`; "
                               + "or auto: bf16 where this CPU runs it natively and at least 1.25x as fast as fp32 (measured, ~0.1 s), else fp32.",
                               valueName: "fp32|bf16|int8|auto"))
    var precision: Precision = .fp32

    /// `precision` with auto resolved (measured once per process; the choice goes to stderr).
    var effectivePrecision: Precision {
        guard precision == .auto else { return precision }
        let speedup = (try? Arithmetic.bf16Speedup(threads: threads)) ?? nil
        let bf16 = (speedup ?? 0) >= Arithmetic.bf16Advantage
        Self.reportAuto(bf16: bf16, speedup: speedup)
        return bf16 ? .bf16 : .fp32
    }

    nonisolated(unsafe) private static var reported = false
    private static func reportAuto(bf16: Bool, speedup: Double?) {
        guard !reported else { return }
        reported = true
        let why = speedup.map { String(format: "bf16 convolutions run %.2fx fp32 here", $0) } ?? "this CPU has no native bf16"
        warn("precision auto: \(bf16 ? "bf16" : "fp32") (\(why))")
    }

    /// Plan options without the int8 table (fp32 plans for int8).
    private var baseOptions: Plan.Options {
        var o: Plan.Options
        switch convolution {
        case .auto: o = Plan.Options()
        case .direct: o = Plan.Options.direct
        case .winograd: o = Plan.Options(winograd: true, winogradMinimumPixels: 1, winogradMinimumBatchPixels: 1, bf16WinogradMinimumTiles: 0)
        }
        o.bf16 = effectivePrecision == .bf16
        return o
    }

    /// Plan options for the chosen precision. int8 reads the calibration table stored in the
    /// weights file (safetensors metadata, written by `hrnet quantize`) and checks it fits `graph`.
    /// With `calibrateIfMissing`, int8 without a table gives options without one (the caller calibrates).
    func planOptions(weights: String?, graph: Graph, calibrateIfMissing: Bool = false) throws -> Plan.Options {
        var o = baseOptions
        guard precision == .int8 else { return o }
        guard let table = try calibrationTable(weights: weights, graph: graph) else {
            if calibrateIfMissing { return o }
            throw ValidationError("--precision int8 needs --weights W.int8.safetensors carrying a calibration table; "
                                  + "make one with `hrnet quantize --weights W --calib DIR --out W.int8.safetensors`"
                                  + (weights.map { " (\($0) has none)" } ?? ""))
        }
        o.int8 = table
        return o
    }

    /// The int8 calibration table stored in `weights`, checked against `graph`; nil when the file has none.
    func calibrationTable(weights: String?, graph: Graph) throws -> QuantizationTable? {
        guard let weights else { return nil }
        let url = URL(fileURLWithPath: weights)
        guard url.pathExtension.lowercased() == "safetensors", let table = try QuantizationTable.load(safetensors: url) else { return nil }
        try table.check(against: graph, source: url.lastPathComponent)
        return table
    }

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be 1...1024") }
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("hrnet: warning: \(message)\n".utf8))
}
