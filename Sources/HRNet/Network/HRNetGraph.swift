import DNN

/// Builds the HRNet graph for an architecture, with the official state-dict key names, so
/// official checkpoints load by key.
public enum HRNetGraph {
    /// What the graph returns.
    public enum Output: Sendable, Equatable {
        /// The task head's output: heatmaps, segmentation logits or class logits.
        case head
        /// The backbone's representation: the streams leaving stage 4, highest resolution first
        /// (at 1/4, 1/8, 1/16, 1/32 of the input; C, 2C, 4C, 8C channels), with no head. pose_hrnet's
        /// last module fuses into the highest stream only, so a pose config gives that one stream.
        case features
    }

    public static func build(_ a: Architecture, output: Output = .head) -> Graph {
        let g = Graph()
        if let spec = a.simpleBaseline, case .pose(let joints, let k) = a.head {
            let x = SimpleBaseline.representation(g, input: g.input(channels: 3), spec: spec)
            g.outputs = [output == .features ? x
                : g.conv(x, key: "final_layer", outChannels: joints, kernel: k, padding: k == 3 ? 1 : 0, bias: true)]
            return g
        }
        if let spec = a.hourglass, case .pose(let joints, _) = a.head {
            g.outputs = Hourglass.build(g, input: g.input(channels: 3), spec: spec, joints: joints)
            return g
        }
        if let spec = a.unet, case .segmentation(let classes, _, _, _) = a.head {
            g.outputs = UNet.build(g, input: g.input(channels: 3), spec: spec, classes: classes)
            return g
        }
        let upsampling: FuseUpsampling
        if case .segmentation(_, _, let ac, _) = a.head { upsampling = .bilinear(alignCorners: ac) } else { upsampling = .nearest }
        var lastFusesAll = true
        if case .pose = a.head { lastFusesAll = false }
        let streams = backbone(g, input: g.input(channels: 3), stage1: a.stage1, stages: a.stages, upsampling: upsampling,
                               lastModuleFusesAll: lastFusesAll)

        if output == .features {
            g.outputs = streams
            return g
        }
        switch a.head {
        case .pose(let joints, let k):
            g.outputs = [g.conv(streams[0], key: "final_layer", outChannels: joints, kernel: k, padding: k == 3 ? 1 : 0, bias: true)]
        case .segmentation(let classes, _, let ac, let ocr?):
            g.outputs = OCRHead.build(g, streams: streams, classes: classes, spec: ocr, alignCorners: ac)
        case .segmentation(let classes, let k, let ac, nil):
            g.outputs = [SegmentationHead.build(g, streams: streams, classes: classes, finalKernel: k, alignCorners: ac)]
        case .classification(let spec):
            g.outputs = [ClassificationHead.build(g, streams: streams, spec: spec)]
        }
        return g
    }
}

extension HRNetGraph {
    /// The HRNet backbone into `g`: stem, stage 1, then stages 2..4, each a transition that adds
    /// a lower-resolution stream and modules that fuse them all. Returns the streams leaving the
    /// last stage, highest resolution first; only the highest unless `lastModuleFusesAll`
    /// (pose_hrnet's last module fuses into stream 0 alone; HRNetV2 and mmdet's
    /// `multiscale_output` keep all). Keys are the official ones under `g.keyPrefix`.
    public static func backbone(_ g: Graph, input: Graph.Value, stage1 s1: StageSpec, stages: [StageSpec],
                                upsampling: FuseUpsampling, lastModuleFusesAll: Bool) -> [Graph.Value] {
        // Stem: two stride-2 conv3x3 (input / 4).
        var x = g.relu(g.batchNorm(g.conv(input, key: "conv1", outChannels: 64, kernel: 3, stride: 2), key: "bn1"))
        x = g.relu(g.batchNorm(g.conv(x, key: "conv2", outChannels: 64, kernel: 3, stride: 2), key: "bn2"))

        // Stage 1 (layer1): one high-resolution stream.
        x = Blocks.sequence(g, x, key: "layer1", kind: s1.block, planes: s1.channels[0], count: s1.blocks[0])

        // Stages 2..4: a transition adds a lower-resolution stream, then modules fuse them all.
        var streams = [x]
        for (s, spec) in stages.enumerated() {
            let number = s + 2
            streams = Transition.build(g, key: "transition\(number - 1)", streams: streams, to: spec.outputChannels)
            for m in 0..<spec.modules {
                let lastOfNetwork = s == stages.count - 1 && m == spec.modules - 1
                streams = HighResolutionModule.build(g, key: "stage\(number).\(m)", streams: streams, spec: spec,
                                                     multiScaleOutput: lastModuleFusesAll || !lastOfNetwork, upsampling: upsampling)
            }
        }
        return streams
    }
}

/// How a fusion unit brings a lower-resolution stream up to a higher one.
public enum FuseUpsampling: Sendable, Equatable {
    /// pose_hrnet and mmdet's HRNet: `nn.Upsample(scale_factor=2^(j-i), mode='nearest')`.
    case nearest
    /// seg_hrnet: bilinear `F.interpolate` to the target stream's size.
    case bilinear(alignCorners: Bool)
}

/// HRNetV2's head: every stream upsampled (bilinear) to the highest, concatenated, then
/// `last_layer`: conv1x1 (bias) + BN + ReLU + conv to the classes (bias). Logits at input / 4.
enum SegmentationHead {
    static func build(_ g: Graph, streams: [Graph.Value], classes: Int, finalKernel k: Int, alignCorners: Bool) -> Graph.Value {
        let high = streams[0]
        let all = [high] + streams.dropFirst().map { g.resize($0, like: high, mode: .bilinear(alignCorners: alignCorners)) }
        let x = all.count == 1 ? high : g.concat(all)
        let c = g.channels(of: x)
        let y = g.relu(g.batchNorm(g.conv(x, key: "last_layer.0", outChannels: c, kernel: 1, bias: true), key: "last_layer.1"))
        return g.conv(y, key: "last_layer.3", outChannels: classes, kernel: k, padding: k == 3 ? 1 : 0, bias: true)
    }
}
