import CDefaultDetector
import DNN
import Foundation
import HRNet
import Pose

/// The embedded default person detector: a small FCOS-HRNetV2p (an HRNet-W18-small-like
/// backbone, 320x240 input, one class) trained by `hrnet train` on `hrnet synth` people. Its
/// config and weights are assembled into the binary (Sources/CDefaultDetector, whose README
/// gives the commands that reproduce it), so `hrnet detect` and `hrnet pose` on a photo with no
/// boxes need no file. Like the default pose model it knows synthetic figures, not real photos.
public enum DefaultDetector {
    /// The preset name that selects it (`--preset person_default`, `--detector person_default`).
    public static let presetName = "person_default"

    /// Whether `Detector.load`/`resolve` given these pick it: nothing given, or the preset's name.
    public static func isSelected(config: URL?, preset: String?, weights: URL?, randomWeights: Bool) -> Bool {
        config == nil && weights == nil && !randomWeights && (preset == nil || preset == presetName)
    }

    public static func spec() throws -> DetectorSpec {
        let bytes = UnsafeBufferPointer(start: hrnet_person_detector_config(), count: hrnet_person_detector_config_size())
        return try DetectorConfig.parse(String(decoding: bytes, as: UTF8.self), source: "person_detector.py (embedded)", classes: ["person"])
    }

    /// The weights with mmdetection's keys (read from the binary's read-only data).
    public static func weights() throws -> [String: Tensor] {
        try SafeTensors.embeddedFloatTensors(hrnet_person_detector_weights(), count: hrnet_person_detector_weights_size(),
                                             source: URL(fileURLWithPath: "<embedded person_detector.safetensors>"))
    }

    /// Its second stage (`BoxRefiner`): the embedded pose model's network with the four extreme
    /// points as keypoints (box_refiner.yaml), trained on `hrnet synth --extreme-points` people.
    public static func refiner(threads: Int?, plan: Plan.Options = .init()) throws -> BoxRefiner {
        let text = UnsafeBufferPointer(start: hrnet_box_refiner_config(), count: hrnet_box_refiner_config_size())
        let config = try HRNetConfig.parse(yaml: String(decoding: text, as: UTF8.self), source: "box_refiner.yaml (embedded)")
        let weights = try SafeTensors.embeddedFloatTensors(hrnet_box_refiner_weights(), count: hrnet_box_refiner_weights_size(),
                                                           source: URL(fileURLWithPath: "<embedded box_refiner.safetensors>"))
        let parameters = try HRNetModel(config: config).bind(weights, source: "box_refiner (embedded)").parameters
        var options = PoseEstimator.Options(config: config)
        (options.threads, options.plan) = (threads, plan)
        return try BoxRefiner(config: config, parameters: parameters, options: options)
    }
}
