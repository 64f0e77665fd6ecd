import DNN
import Foundation

/// An HRNet built from a config: the graph, with parameters named by the official keys.
public struct HRNetModel {
    public let config: HRNetConfig
    /// The head's output, or the backbone's stage-4 streams (`.features`, for your own heads).
    public let output: HRNetGraph.Output
    public let graph: Graph

    public init(config: HRNetConfig, output: HRNetGraph.Output = .head) {
        self.config = config
        self.output = output
        self.graph = HRNetGraph.build(config.architecture, output: output)
    }

    /// Learnable parameters (BN running statistics excluded), as the paper counts them.
    public var parameterCount: Int {
        graph.parameters.filter { !$0.key.hasSuffix("running_mean") && !$0.key.hasSuffix("running_var") }
            .map { $0.shape.reduce(1, *) }.reduce(0, +)
    }

    /// The network input for the config's IMAGE_SIZE and a batch size.
    public func inputShape(batch: Int = 1) -> Shape4 {
        Shape4(batch, 3, config.imageSize.height, config.imageSize.width)
    }
}

extension HRNetModel {
    /// Loads a checkpoint (.pth zip or legacy, or .safetensors) and matches it to this model's keys.
    /// Throws one error listing every missing, unexpected and mis-shaped key; with `allowPartial`,
    /// missing keys start from PyTorch's initial values and are listed in the report.
    /// A `.features` model takes the whole model's checkpoint and leaves out the head's keys.
    public func loadWeights(_ url: URL, allowPartial: Bool = false) throws -> (parameters: [String: Tensor], report: BindReport) {
        try bind(try Checkpoint.loadFloat(url), allowPartial: allowPartial, source: url.lastPathComponent)
    }

    /// Matches tensors by key (see `loadWeights`).
    public func bind(_ tensors: [String: Tensor], allowPartial: Bool = false, source: String = "checkpoint") throws
        -> (parameters: [String: Tensor], report: BindReport) {
        var tensors = Self.unwrapFullModel(tensors)
        if let hourglass = config.architecture.hourglass { tensors = Self.mmposeHourglassKeys(tensors, stacks: hourglass.stacks) }
        if output == .features {
            let backbone = Set(graph.parameters.map(\.key))
            for spec in HRNetGraph.build(config.architecture).parameters where !backbone.contains(spec.key) {
                tensors.removeValue(forKey: spec.key)
            }
        }
        return try graph.bind(tensors, allowPartial: allowPartial, source: source)
    }

    /// The official segmentation trainer saves its `FullModel`: the network's keys under `model.`
    /// beside the loss's buffers (`loss.criterion.weight`); the official test and init strip
    /// `model.` and drop the rest. Other checkpoints pass unchanged.
    public static func unwrapFullModel(_ tensors: [String: Tensor]) -> [String: Tensor] {
        guard tensors["conv1.weight"] == nil, tensors["model.conv1.weight"] != nil else { return tensors }
        return Checkpoint.tensors(under: "model.", in: tensors)
    }

    /// MMPose's hourglass checkpoints: 1.x names the head `head.` where 0.x (and this model) say
    /// `keypoint_head.`; its `inters` ResLayer always holds a block, unused with one stack; the
    /// data preprocessor's mean and std are not weights. Other checkpoints pass unchanged.
    public static func mmposeHourglassKeys(_ tensors: [String: Tensor], stacks: Int) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (key, value) in tensors {
            if key.hasPrefix("data_preprocessor.") { continue }
            if key.hasPrefix("backbone.inters."), let j = Int(key.split(separator: ".")[2]), j >= stacks - 1 { continue }
            out[key.hasPrefix("head.") ? "keypoint_head." + key.dropFirst(5) : key] = value
        }
        return out
    }

    /// Compiles the network for a batch at the config's IMAGE_SIZE (or `height` x `width`).
    /// Hand over the only copy of `parameters` (`consume`) and the fp32 tensors are freed as they are packed.
    public func compile(parameters: consuming [String: Tensor], batch: Int = 1, height: Int? = nil, width: Int? = nil,
                        threads: Int? = nil, options: Plan.Options = .init()) throws -> Plan {
        let s = inputShape(batch: batch)
        return try Plan(graph: graph, parameters: consume parameters, input: Shape4(batch, 3, height ?? s.h, width ?? s.w),
                        threads: threads, options: options)
    }
}

extension HRNetModel {
    /// The values a training run from scratch starts from. Pose and segmentation: the official
    /// code's `init_weights` (`normalInitialParameters`); classification: PyTorch's default
    /// module initialization (`Graph.pytorchDefaultParameters`), as `hrnet train` has always
    /// started classifiers. Benchmarks that need only sane values use `graph.randomParameters`.
    /// HRNet-OCR: the official init skips every module whose name holds cls, aux or ocr, so
    /// the OCR head starts from PyTorch's default module initialization, the rest as HRNetV2.
    public func initialParameters(seed: UInt64 = 0) -> [String: Tensor] {
        if config.task == .classification { return graph.pytorchDefaultParameters(seed: seed) }
        var parameters = normalInitialParameters(seed: seed)
        if isOCR {
            for (key, value) in graph.pytorchDefaultParameters(seed: seed) where Self.isHeadKey(key, ocr: true) { parameters[key] = value }
        }
        return parameters
    }

    /// Starting weights for training from a checkpoint's `tensors` (already filtered to this
    /// model's keys, renamed as the task's official code does): bound to the graph; every key the
    /// checkpoint lacks starts from `initialParameters(seed:)`. A lacking key outside the head
    /// (`isHead`) is an error made by `failure` from its message unless `allowPartial`.
    public func startingParameters(binding tensors: [String: Tensor], source: String, isHead: (String) -> Bool, allowPartial: Bool,
                                   seed: UInt64, failure: (String) -> any Error) throws -> (parameters: [String: Tensor], report: BindReport) {
        let (bound, report) = try graph.bind(tensors, allowPartial: true, source: source, seed: seed)
        let missing = report.missing.filter { !isHead($0) }
        if !allowPartial, !missing.isEmpty {
            throw failure("\(source) lacks \(missing.count) keys of \(config.source): " + missing.prefix(5).joined(separator: ", ")
                          + (missing.count > 5 ? ", ..." : "") + " (--allow-partial starts them from initial values)")
        }
        var parameters = bound
        let initial = initialParameters(seed: seed)
        for key in report.missing { parameters[key] = initial[key] }
        return (parameters, report)
    }

    /// Whether the model is HRNet-OCR (seg_hrnet_ocr).
    public var isOCR: Bool {
        if case .segmentation(_, _, _, let ocr) = config.architecture.head { ocr != nil } else { false }
    }

    /// Whether `key` belongs to a segmentation head: `last_layer` (HRNetV2), or the OCR modules
    /// (`aux_head`, `conv3x3_ocr`, `ocr_*`, `cls_head`: the names the official init skips).
    /// The segmentation head's keys of this model: HRNetV2's and OCR's as `isHeadKey`, U-Net's
    /// FCN heads (`decode_head.*`, `auxiliary_head.*`).
    public func isSegmentationHeadKey(_ key: String) -> Bool {
        config.architecture.unet != nil ? key.hasPrefix("decode_head.") || key.hasPrefix("auxiliary_head.") : Self.isHeadKey(key, ocr: isOCR)
    }

    /// The final classifiers of a segmentation model (what `--reset-head` starts afresh).
    public var segmentationClassifierPrefixes: [String] {
        if config.architecture.unet != nil { return ["auxiliary_head.conv_seg.", "decode_head.conv_seg."] }
        return isOCR ? ["aux_head.3.", "cls_head."] : ["last_layer.3."]
    }

    public static func isHeadKey(_ key: String, ocr: Bool) -> Bool {
        ocr ? ["cls", "aux", "ocr"].contains { key.contains($0) } : key.hasPrefix("last_layer.")
    }

    /// The official pose and segmentation code's `init_weights`: every convolution weight drawn
    /// from a normal of standard deviation 0.001 and its bias 0, BN weight 1 and bias 0 (running
    /// mean 0, variance 1). With BN after each inner convolution the scale only matters for the
    /// head, whose heatmaps start near zero, as the official training starts.
    public func normalInitialParameters(seed: UInt64 = 0) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed)
        func normal() -> Float {
            // Box-Muller from two uniforms in (0, 1].
            let u1 = 1 - Double(rng.nextUnitFloat()), u2 = Double(rng.nextUnitFloat())
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
        var out: [String: Tensor] = [:]
        for spec in graph.parameters {
            let count = spec.shape.reduce(1, *)
            if spec.shape.count > 1 {
                out[spec.key] = Tensor(shape: spec.shape, scalars: (0..<count).map { _ in normal() * 0.001 })
            } else if spec.key.hasSuffix(".running_var") || spec.key.hasSuffix(".weight") {
                out[spec.key] = Tensor(shape: spec.shape, repeating: 1)
            } else {
                out[spec.key] = Tensor(zeros: spec.shape)
            }
        }
        return out
    }
}
