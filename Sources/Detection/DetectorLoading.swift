import DNN
import Foundation

extension Detector {
    /// The detector a config, a preset or a checkpoint describes, as `hrnet detect` resolves it:
    /// a config file (mmdet's Python config) or a preset name gives the model; otherwise the
    /// checkpoint's own `meta` config does (mmdet's zoo files carry it). Class names come from
    /// the checkpoint when it has them.
    /// - Parameter weights: mmdet's .pth or a .safetensors; nil with `randomWeights` only.
    public static func load(config: URL? = nil, preset: String? = nil, weights: URL?, randomWeights: Bool = false,
                            options: Options = .init()) throws -> Detector {
        let (spec, parameters, source) = try resolve(config: config, preset: preset, weights: weights, randomWeights: randomWeights)
        let detector = try Detector(spec: spec, parameters: parameters, source: source, options: options)
        if DefaultDetector.isSelected(config: config, preset: preset, weights: weights, randomWeights: randomWeights) {
            detector.refiner = try DefaultDetector.refiner(threads: options.threads, plan: options.plan)
        }
        return detector
    }

    /// What `load` builds a detector from: the model and its parameters (the checkpoint's
    /// fp32 tensors, not yet matched to the model, or random ones), read once.
    public static func resolve(config: URL? = nil, preset: String? = nil, weights: URL?, randomWeights: Bool = false) throws
        -> (spec: DetectorSpec, parameters: [String: Tensor], source: String) {
        if DefaultDetector.isSelected(config: config, preset: preset, weights: weights, randomWeights: randomWeights) {
            let spec = try DefaultDetector.spec()
            return (spec, try DetectorModel(spec: spec).bind(try DefaultDetector.weights(), source: "person_default (embedded)"),
                    "person_default (embedded)")
        }
        var loaded: (tensors: [String: StoredTensor], metadata: CheckpointMetadata)?
        if let weights { loaded = try Checkpoint.loadWithMetadata(weights) }
        let classes = loaded?.metadata.classes
        var spec: DetectorSpec
        if let config {
            spec = try DetectorConfig.load(config)
        } else if preset == DefaultDetector.presetName {
            spec = try DefaultDetector.spec()
        } else if let preset {
            spec = try DetectorPresets.spec(named: preset)
        } else if let weights, let loaded {
            guard let text = loaded.metadata.strings["config"] ?? loaded.metadata.strings["cfg"] else {
                throw DetectionError("\(weights.lastPathComponent) carries no config (meta.config); give --config FILE or --preset NAME")
            }
            spec = try DetectorConfig.parse(text, source: "\(weights.lastPathComponent) (meta config)", classes: classes)
        } else {
            throw DetectionError("give --config FILE or --preset NAME (and --weights), or --weights of a checkpoint that carries its config")
        }
        if let classes, classes.count == spec.classes.count { spec.classes = classes }
        guard let loaded, let weights else {
            guard randomWeights else { throw DetectionError("give --weights FILE (or random weights for timing)") }
            return (spec, DetectorModel(spec: spec).randomParameters(seed: 0), "random weights")
        }
        return (spec, Checkpoint.floatTensors(loaded.tensors), weights.lastPathComponent)
    }
}
