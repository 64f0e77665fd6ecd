import DNN
import Foundation

/// HRNet's backbone as a library: the streams leaving stage 4 of any config (pose, segmentation
/// or classification), highest resolution first, for heads of your own.
///
/// ```swift
/// let extractor = try FeatureExtractor(config: try Presets.config(named: "cls_w18_small_v2"),
///                                      weights: URL(fileURLWithPath: "hrnet_w18_small_v2.pth"))
/// let streams = try extractor.features(batch)   // (N,3,224,224) -> (N,18,56,56) (N,36,28,28) (N,72,14,14) (N,144,7,7)
/// ```
///
/// The same as compiling `HRNetModel(config:output: .features)` yourself; this keeps one plan per
/// input shape (see `ModelRunner`). Not for concurrent use: make one per thread.
public final class FeatureExtractor {
    public let runner: ModelRunner
    public var model: HRNetModel { runner.model }

    /// `parameters` by checkpoint key: the backbone's (extra ones, such as a head's, are dropped).
    public init(config: HRNetConfig, parameters: [String: Tensor], threads: Int? = nil, options: Plan.Options = .init()) throws {
        runner = try ModelRunner(model: HRNetModel(config: config, output: .features), parameters: parameters,
                                 threads: threads, options: options)
    }

    /// Loads a whole model's checkpoint (its head's keys are left out; every other missing,
    /// unexpected or mis-shaped key is an error, as in `HRNetModel.loadWeights`).
    public convenience init(config: HRNetConfig, weights url: URL, allowPartial: Bool = false, threads: Int? = nil,
                            options: Plan.Options = .init()) throws {
        let (parameters, _) = try HRNetModel(config: config, output: .features).loadWeights(url, allowPartial: allowPartial)
        try self.init(config: config, parameters: parameters, threads: threads, options: options)
    }

    /// Stage-4 streams of a normalized NCHW image batch, highest resolution first.
    /// - Complexity: one network pass; the first call at a new input shape also compiles a plan.
    public func features(_ images: Tensor) throws -> [Tensor] {
        try runner.run(images)
    }
}
