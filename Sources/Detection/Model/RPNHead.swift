import DNN

/// mmdet's `RPNHead` (one conv), keys under `rpn_head.`, shared by every level: `rpn_conv`
/// 3x3 (bias) + ReLU, then `rpn_cls` 1x1 (one sigmoid logit per anchor) and `rpn_reg` 1x1
/// (four deltas per anchor).
enum RPNHead {
    static func build(_ g: Graph, levels: [Graph.Value], spec: FasterRCNNSpec) -> [(scores: Graph.Value, deltas: Graph.Value)] {
        levels.map { x in
            let y = g.relu(g.conv(x, key: "rpn_conv", outChannels: spec.rpnFeatureChannels, kernel: 3, bias: true))
            return (g.conv(y, key: "rpn_cls", outChannels: spec.anchorsPerCell, kernel: 1, bias: true),
                    g.conv(y, key: "rpn_reg", outChannels: 4 * spec.anchorsPerCell, kernel: 1, bias: true))
        }
    }
}

/// mmdet's `Shared2FCBBoxHead`, keys under `roi_head.bbox_head.`: the pooled RoI features
/// flattened, `shared_fcs.i` (Linear + ReLU), then `fc_cls` (classes + background) and
/// `fc_reg` (4 deltas per class, or 4 when class-agnostic). Its own graph: its batch is the
/// number of RoIs.
enum BoxHead {
    static func graph(spec: FasterRCNNSpec) -> Graph {
        let g = Graph()
        g.keyPrefix = "roi_head.bbox_head."
        var x = g.input(channels: spec.roiInChannels)
        var features = spec.roiInChannels * spec.roiOutputSize * spec.roiOutputSize
        for i in 0..<spec.sharedFCs {
            x = g.relu(g.linear(x, key: "shared_fcs.\(i)", inFeatures: features, outFeatures: spec.fcChannels))
            features = spec.fcChannels
        }
        g.outputs = [g.linear(x, key: "fc_cls", inFeatures: features, outFeatures: spec.classes + 1),
                     g.linear(x, key: "fc_reg", inFeatures: features, outFeatures: 4 * (spec.classAgnosticBoxes ? 1 : spec.classes))]
        g.keyPrefix = ""
        return g
    }
}
