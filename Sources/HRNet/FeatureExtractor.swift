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
/// A plan is compiled for the first input shape and kept; a batch of another shape compiles a
/// new one (the parameters are kept for that). Not for concurrent use: make one per thread.
public final class FeatureExtractor {
    public let model: HRNetModel
    public let threads: Int?
    public let options: Plan.Options
    private let parameters: [String: Tensor]
    private var plan: Plan?

    /// `parameters` by checkpoint key, for the backbone only (see `HRNetModel.bind`).
    public init(config: HRNetConfig, parameters: [String: Tensor], threads: Int? = nil, options: Plan.Options = .init()) throws {
        let model = HRNetModel(config: config, output: .features)
        for spec in model.graph.parameters {
            guard let t = parameters[spec.key] else { throw GraphError("parameter \(spec.key) is missing") }
            guard t.shape == spec.shape else { throw GraphError("parameter \(spec.key) has shape \(t.shape), the model needs \(spec.shape)") }
        }
        let keys = Set(model.graph.parameters.map(\.key))
        self.model = model
        self.parameters = parameters.filter { keys.contains($0.key) }
        (self.threads, self.options) = (threads, options)
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
        guard images.rank == 4, let shape = Shape4(images.shape) else {
            throw GraphError("features: expected an NCHW batch (rank 4), got shape \(images.shape)")
        }
        if plan?.inputShape != shape {
            plan = nil  // free the old arena before building the new one
            plan = try Plan(graph: model.graph, parameters: parameters, input: shape, threads: threads, options: options)
        }
        return try plan!.run(images)
    }
}
