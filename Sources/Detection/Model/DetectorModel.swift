import DNN
import Foundation
import HRNet

/// A detector's graph, with mmdetection's state-dict keys (`backbone.`, `neck.`, `bbox_head.`),
/// so its checkpoints load by key.
public struct DetectorModel {
    /// What the graph returns.
    public enum Output: Sendable, Equatable {
        /// The head's raw outputs, level by level (FCOS: class logits, distances, centerness).
        case head
        /// The backbone's four streams (strides 4, 8, 16, 32).
        case backbone
        /// The neck's pyramid levels.
        case neck
    }

    public let spec: DetectorSpec
    public let output: Output
    /// The network up to the dense head. FCOS: per level class logits, distances, centerness.
    /// Faster R-CNN: the neck levels the RoI head pools from, then per level the RPN's
    /// objectness logits and deltas.
    public let graph: Graph
    /// Faster R-CNN's box head over pooled RoIs (batch = RoIs); nil for one-stage detectors.
    public let boxHead: Graph?

    public init(spec: DetectorSpec, output: Output = .head) {
        (self.spec, self.output) = (spec, output)
        (graph, boxHead) = Self.build(spec, output)
    }

    static func build(_ spec: DetectorSpec, _ output: Output) -> (Graph, Graph?) {
        let g = Graph()
        g.keyPrefix = "backbone."
        let streams = HRNetGraph.backbone(g, input: g.input(channels: 3), stage1: spec.stage1, stages: spec.stages,
                                       upsampling: .nearest, lastModuleFusesAll: true)
        if output == .backbone { g.outputs = streams; return (g, nil) }
        g.keyPrefix = "neck."
        let levels = HRFPN.build(g, streams: streams, spec: spec.neck)
        if output == .neck { g.outputs = levels; return (g, nil) }
        var boxHead: Graph?
        switch spec.head {
        case .fcos(let head):
            g.keyPrefix = "bbox_head."
            g.outputs = FCOSHead.build(g, levels: levels, spec: head).flatMap { [$0.classes, $0.boxes, $0.centerness] }
        case .fasterRCNN(let head):
            g.keyPrefix = "rpn_head."
            g.outputs = Array(levels.prefix(head.roiStrides.count))
                + RPNHead.build(g, levels: levels, spec: head).flatMap { [$0.scores, $0.deltas] }
            // The RoI features come out channels-last: RoIAlign reads a pixel's channels together.
            g.channelsLastOutputs = Set(0..<head.roiStrides.count)
            boxHead = BoxHead.graph(spec: head)
        }
        g.keyPrefix = ""
        return (g, boxHead)
    }

    /// Random parameters for every key of the dense network and the box head, with the
    /// classifiers' biases at mmdet's prior (sigmoid 0.01), so a random detector proposes as
    /// few boxes as a trained one instead of every point and class (for timing and tests).
    public func randomParameters(seed: UInt64 = 0) -> [String: Tensor] {
        var p = graph.randomParameters(seed: seed)
        for (k, v) in boxHead?.randomParameters(seed: seed &+ 1) ?? [:] { p[k] = v }
        for key in ["bbox_head.conv_cls.bias", "rpn_head.rpn_cls.bias"] where p[key] != nil {
            p[key] = Tensor(shape: p[key]!.shape, repeating: -4.595)
        }
        return p
    }

    /// Learnable parameters (BN running statistics excluded).
    public var parameterCount: Int {
        (graph.parameters + (boxHead?.parameters ?? [])).filter { !$0.key.hasSuffix("running_mean") && !$0.key.hasSuffix("running_var") }
            .map { $0.shape.reduce(1, *) }.reduce(0, +)
    }

    /// Matches a checkpoint's tensors to the graph by key: one error lists every missing,
    /// unexpected and mis-shaped key. A partial model (`.backbone`, `.neck`) ignores the keys of
    /// the parts it leaves out. A training run's checkpoint gives its model's keys.
    public func bind(_ tensors: [String: Tensor], source: String = "checkpoint") throws -> [String: Tensor] {
        var tensors = TrainingCheckpoint.modelWeights(tensors)
        if output != .head {
            let kept = Set(graph.parameters.map(\.key))
            let whole = DetectorModel(spec: spec)
            for p in whole.graph.parameters + (whole.boxHead?.parameters ?? []) where !kept.contains(p.key) {
                tensors.removeValue(forKey: p.key)
            }
        }
        return try Graph.bind(tensors, to: graph.parameters + (boxHead?.parameters ?? []), source: source).parameters
    }
}
