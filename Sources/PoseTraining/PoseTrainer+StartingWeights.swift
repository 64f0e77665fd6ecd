import DNN
import Foundation
import HRNet

extension PoseTrainer {
    /// Loads a checkpoint to start pose training from, as the official `init_weights(pretrained)`
    /// (`load_state_dict(strict=False)`): keys the model lacks are dropped (torchvision's ResNet
    /// `fc.*` for SimpleBaseline, cls_hrnet's classification head for pose_hrnet), and the pose
    /// head the checkpoint lacks, or holds for another task (`final_layer.*`, and SimpleBaseline's
    /// `deconv_layers.*`), starts from the official initial values: normal weights of standard
    /// deviation 0.001, biases 0, BN 1 and 0. A pose checkpoint of the same model loads whole
    /// (fine-tuning). Any other missing or mis-shaped key is an error (missing: unless
    /// `allowPartial`, which starts them from initial values too).
    public static func startingParameters(from url: URL, config: HRNetConfig, allowPartial: Bool = false,
                                          seed: UInt64 = 0) throws -> (parameters: [String: Tensor], report: BindReport) {
        let model = HRNetModel(config: config)
        let specs = Dictionary(uniqueKeysWithValues: model.graph.parameters.map { ($0.key, $0.shape) })
        let name = url.lastPathComponent
        let loaded = try Checkpoint.loadFloat(url)
        func isHead(_ key: String) -> Bool { key.hasPrefix("final_layer.") || key.hasPrefix("deconv_layers.") }
        // Keys of the model only; a head of another shape (an ImageNet model's final_layer) is not ours.
        let tensors = loaded.filter { specs[$0.key] != nil && !(isHead($0.key) && specs[$0.key] != $0.value.shape) }
        guard tensors.keys.contains(where: { !isHead($0) }) else {
            throw PoseTrainingError.training("\(name) holds none of the backbone keys of \(config.source) "
                                             + "(conv1.weight, layer1...: is it a checkpoint of this network?)")
        }
        return try model.startingParameters(binding: tensors, source: name, isHead: isHead, allowPartial: allowPartial, seed: seed) {
            PoseTrainingError.training($0)
        }
    }
}
