import DNN

/// mmdet's FCOS head, keys under `bbox_head.`, one set of weights shared by every level:
/// a classification and a regression tower (`cls_convs.i`, `reg_convs.i`: conv3x3, GroupNorm,
/// ReLU), then `conv_cls` (class logits), `conv_reg` (box distances, times the level's
/// learned `scales.l`, then exp) and `conv_centerness` (on the classification tower).
enum FCOSHead {
    /// Per level: class logits (classes), distances left/top/right/bottom (4), centerness logit (1).
    static func build(_ g: Graph, levels: [Graph.Value], spec: FCOSHeadSpec) -> [(classes: Graph.Value, boxes: Graph.Value, centerness: Graph.Value)] {
        func tower(_ x: Graph.Value, _ name: String) -> Graph.Value {
            var y = x
            for i in 0..<spec.stackedConvs {
                y = g.conv(y, key: "\(name).\(i).conv", outChannels: spec.featureChannels, kernel: 3, bias: spec.towerBias)
                if let groups = spec.normGroups { y = g.groupNorm(y, key: "\(name).\(i).gn", groups: groups) }
                y = g.relu(y)
            }
            return y
        }
        return levels.enumerated().map { l, x in
            let clsFeature = tower(x, "cls_convs"), regFeature = tower(x, "reg_convs")
            let classes = g.conv(clsFeature, key: "conv_cls", outChannels: spec.classes, kernel: 3, bias: true)
            let scaled = g.scale(g.conv(regFeature, key: "conv_reg", outChannels: 4, kernel: 3, bias: true), key: "scales.\(l)")
            // norm_on_bbox: ReLU here, times the stride in post-processing.
            let boxes = spec.normOnBox ? g.relu(scaled) : g.exp(scaled)
            let centerness = g.conv(spec.centernessOnRegression ? regFeature : clsFeature, key: "conv_centerness",
                                    outChannels: 1, kernel: 3, bias: true)
            return (classes, boxes, centerness)
        }
    }
}
