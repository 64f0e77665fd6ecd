import DNN
import Foundation

extension DetectorModel {
    /// mmdetection's initial values for a detector trained from scratch (no `init_cfg`
    /// checkpoint): the HRNet backbone's convolutions Kaiming-normal (fan out, ReLU: std
    /// sqrt(2 / fan_out)) with norms at 1 and 0; HRFPN's convolutions Caffe2-Xavier (uniform
    /// within sqrt(3 / fan_in)), biases 0; the dense head's convolutions normal with std 0.01,
    /// biases 0, except the classifier's bias at the prior -log(99) (sigmoid 0.01), group norms
    /// 1 and 0, the level scales 1.
    public func initialParameters(seed: UInt64 = 0) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed)
        func normal() -> Float {
            let u1 = 1 - Double(rng.nextUnitFloat()), u2 = Double(rng.nextUnitFloat())
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
        var out: [String: Tensor] = [:]
        for spec in graph.parameters + (boxHead?.parameters ?? []) {
            let count = spec.shape.reduce(1, *), key = spec.key
            if spec.shape.count > 1 {
                let fanIn = spec.shape.dropFirst().reduce(1, *), fanOut = spec.shape[0] * spec.shape.dropFirst(2).reduce(1, *)
                let values: [Float]
                if key.hasPrefix("neck.") {
                    let bound = (3 / Float(fanIn)).squareRoot()
                    values = (0..<count).map { _ in (rng.nextUnitFloat() * 2 - 1) * bound }
                } else if key.hasPrefix("backbone.") {
                    let std = (2 / Float(fanOut)).squareRoot()
                    values = (0..<count).map { _ in normal() * std }
                } else {
                    values = (0..<count).map { _ in normal() * 0.01 }
                }
                out[key] = Tensor(shape: spec.shape, scalars: values)
            } else if spec.shape.isEmpty || key.hasSuffix(".running_var") || (key.hasSuffix(".weight") && spec.shape.count == 1) {
                out[key] = Tensor(shape: spec.shape, repeating: 1)
            } else {
                out[key] = Tensor(zeros: spec.shape)
            }
        }
        for key in ["bbox_head.conv_cls.bias", "rpn_head.rpn_cls.bias"] where out[key] != nil {
            out[key] = Tensor(shape: out[key]!.shape, repeating: Float(-log(99.0)))
        }
        return out
    }
}
