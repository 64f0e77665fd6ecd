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
        var loaded: (tensors: [String: StoredTensor], metadata: CheckpointMetadata)?
        if let weights { loaded = try Checkpoint.loadWithMetadata(weights) }
        let classes = loaded?.metadata.classes
        var spec: DetectorSpec
        if let config {
            spec = try DetectorConfig.load(config)
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
        let model = DetectorModel(spec: spec)
        guard let loaded, let weights else {
            guard randomWeights else { throw DetectionError("give --weights FILE (or random weights for timing)") }
            return try Detector(spec: spec, parameters: model.randomParameters(seed: 0), options: options)
        }
        let tensors = loaded.tensors.filter { $0.value.dtype.isFloatingPoint }.mapValues { $0.floatTensor() }
        return try Detector(spec: spec, parameters: try model.bind(tensors, source: weights.lastPathComponent), options: options)
    }
}
