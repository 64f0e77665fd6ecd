import CDefaultModel
import DNN
import Foundation

/// The embedded default model: a small pose HRNet (widths 16/32/64/128, input 256x192 (h x w)
/// as its pose_default.yaml says, 17 COCO keypoints) trained by `hrnet train` on `hrnet synth` data. Its experiment file
/// and weights are assembled into the binary (Sources/CDefaultModel, whose README gives the
/// commands that reproduce it), so `hrnet pose` and `hrnet demo` run with no file. It knows
/// synthetic figures, not real photos: for those, the official COCO checkpoints.
public enum DefaultModel {
    /// The preset name that selects it (`--preset pose_default`); commands given no model use it.
    public static let presetName = "pose_default"

    /// Where errors say the bytes came from.
    static let source = URL(fileURLWithPath: "<embedded pose_default.safetensors>")

    public static func config() throws -> HRNetConfig {
        let bytes = UnsafeBufferPointer(start: hrnet_default_config(), count: hrnet_default_config_size())
        return try HRNetConfig.parse(yaml: String(decoding: bytes, as: UTF8.self), source: "pose_default.yaml (embedded)")
    }

    /// The weights with the official state-dict keys (read from the binary's read-only data, not copied
    /// until converted).
    public static func weights() throws -> [String: Tensor] {
        try SafeTensors.embeddedFloatTensors(hrnet_default_weights(), count: hrnet_default_weights_size(), source: source)
    }

    /// The model and its bound parameters.
    public static func load() throws -> (model: HRNetModel, parameters: [String: Tensor]) {
        let model = HRNetModel(config: try config())
        return (model, try model.bind(try weights(), source: "pose_default (embedded)").parameters)
    }
}
