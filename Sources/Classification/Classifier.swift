import DNN
import Foundation
import HRNet

/// An HRNet classifier (cls_hrnet / timm `hrnet_*`): normalized image batches in, ranked classes out.
///
/// ```swift
/// let classifier = try Classifier(config: try Presets.config(named: "cls_w18_small_v2"),
///                                 weights: URL(fileURLWithPath: "hrnet_w18_small_v2.pth"))
/// let top5 = try classifier.classify(batch, top: 5)   // batch (N, 3, 224, 224), RGB, ImageNet mean/std
/// print(top5[0].map { "\($0.label ?? "\($0.index)") \($0.probability)" })
/// ```
///
/// Labels default to ImageNet-1k's names for a 1000-class model and to none otherwise.
public final class Classifier {
    public let runner: ModelRunner
    public let labels: ClassLabels?
    public var model: HRNetModel { runner.model }
    public var classes: Int { model.config.numClasses ?? 0 }

    public init(config: HRNetConfig, parameters: [String: Tensor], labels: ClassLabels? = nil, threads: Int? = nil,
                options: Plan.Options = .init()) throws {
        guard case .classification(let spec) = config.architecture.head else {
            throw ClassificationError("\(config.source): MODEL.NAME \(config.modelName) is not a classifier (cls_hrnet)")
        }
        if let labels { try labels.check(classes: spec.classes) }
        self.labels = labels ?? (spec.classes == ClassLabels.imageNet.count ? .imageNet : nil)
        runner = try ModelRunner(model: HRNetModel(config: config), parameters: parameters, threads: threads, options: options)
    }

    /// Loads a checkpoint (official cls_hrnet or timm state dicts, .pth or .safetensors; every
    /// missing, unexpected or mis-shaped key is an error unless `allowPartial`).
    public convenience init(config: HRNetConfig, weights url: URL, labels: ClassLabels? = nil, allowPartial: Bool = false,
                            threads: Int? = nil, options: Plan.Options = .init()) throws {
        let (parameters, _) = try HRNetModel(config: config).loadWeights(url, allowPartial: allowPartial)
        try self.init(config: config, parameters: parameters, labels: labels, threads: threads, options: options)
    }

    /// Raw logits (N, classes) of a normalized NCHW batch.
    public func logits(_ images: Tensor) throws -> Tensor {
        let y = try runner.run(images)[0]
        return Tensor(shape: [y.shape[0], y.shape[1]], scalars: y.scalars)
    }

    /// The `top` most probable classes of each image, most probable first.
    public func classify(_ images: Tensor, top k: Int = 5) throws -> [[Prediction]] {
        try Scores.top(try logits(images), k: k, labels: labels)
    }
}
