import DNN

/// The stacked hourglass (Newell, Yang and Deng, "Stacked Hourglass Networks for Human Pose
/// Estimation", 2016) as MMPose builds it (`HourglassNet` backbone with `CPMHead` /
/// `TopdownHeatmapMultiStageHead`; hourglass52 = one stack): each hourglass goes down to 1/128
/// of the input by strided residual blocks and back up by nearest upsampling, adding at every
/// level a residual branch kept at that level's size; stacks are chained, and each stack's
/// heatmaps are supervised (intermediate supervision). The encoder-decoder HRNet is compared
/// against. Keys are MMPose 0.x's (`backbone.*`, `keypoint_head.multi_final_layers.*`).
public struct HourglassSpec: Sendable, Equatable {
    /// MODEL.EXTRA.NUM_STACKS (1: Hourglass-52; 2: Hourglass-104).
    public var stacks: Int
    /// MODEL.EXTRA.DOWNSAMPLE_TIMES: the levels of each hourglass (5).
    public var downsampleTimes: Int
    /// MODEL.EXTRA.STAGE_CHANNELS: channels at each level, the first also the stem's output
    /// ([256, 256, 384, 384, 384, 512]).
    public var stageChannels: [Int]
    /// MODEL.EXTRA.STAGE_BLOCKS: BasicBlocks at each level ([2, 2, 2, 2, 2, 4]).
    public var stageBlocks: [Int]
    /// MODEL.EXTRA.FEAT_CHANNEL: each stack's output features (256).
    public var featureChannels: Int

    public init(stacks: Int = 1, downsampleTimes: Int = 5, stageChannels: [Int] = [256, 256, 384, 384, 384, 512],
                stageBlocks: [Int] = [2, 2, 2, 2, 2, 4], featureChannels: Int = 256) {
        (self.stacks, self.downsampleTimes, self.stageChannels, self.stageBlocks, self.featureChannels) =
            (stacks, downsampleTimes, stageChannels, stageBlocks, featureChannels)
    }

    /// Input sides must be multiples of this: the stem's 4 times 2 per level.
    public var inputMultiple: Int { 4 << downsampleTimes }
}

enum Hourglass {
    /// One heatmap output per stack, at 1/4 of the input; the last is the prediction.
    static func build(_ g: Graph, input: Graph.Value, spec: HourglassSpec, joints: Int) -> [Graph.Value] {
        g.keyPrefix = "backbone."
        g.inputSideMultiple = (spec.inputMultiple, "the stem's 4 times 2 per hourglass level, \(spec.downsampleTimes) levels")
        let c = spec.stageChannels[0]
        // Stem: conv 7x7 stride 2 to c / 2, then a stride-2 BasicBlock to c (input / 4).
        var inter = convModule(g, input, key: "stem.0", channels: c / 2, kernel: 7, stride: 2, relu: true)
        inter = Blocks.residual(g, inter, key: "stem.1.0", kind: .basic, planes: c, stride: 2)
        var features: [Graph.Value] = []
        for s in 0..<spec.stacks {
            let hourglass = module(g, inter, key: "hourglass_modules.\(s)", depth: spec.downsampleTimes,
                                   channels: spec.stageChannels, blocks: spec.stageBlocks)
            let out = convModule(g, hourglass, key: "out_convs.\(s)", channels: spec.featureChannels, kernel: 3, stride: 1, relu: true)
            features.append(out)
            if s < spec.stacks - 1 {
                // The next stack reads the previous input plus the remapped output, through one BasicBlock.
                let sum = g.add(convModule(g, inter, key: "conv1x1s.\(s)", channels: c, kernel: 1, stride: 1, relu: false),
                                convModule(g, out, key: "remap_convs.\(s)", channels: c, kernel: 1, stride: 1, relu: false))
                inter = Blocks.residual(g, g.relu(sum), key: "inters.\(s)", kind: .basic, planes: c)
            }
        }
        g.keyPrefix = "keypoint_head."
        let heatmaps = features.enumerated().map { s, x in g.conv(x, key: "multi_final_layers.\(s)", outChannels: joints, kernel: 1, bias: true) }
        g.keyPrefix = ""
        return heatmaps
    }

    /// `HourglassModule`: up1 (blocks at this level) + up2(low3(low2(low1(x)))), where low1 halves
    /// the map with a stride-2 block, low2 is the next level (or blocks at the deepest), low3
    /// returns to this level's channels and up2 doubles the map (nearest).
    static func module(_ g: Graph, _ x: Graph.Value, key: String, depth: Int, channels: [Int], blocks: [Int]) -> Graph.Value {
        let (c0, c1, b0) = (channels[0], channels[1], blocks[0])
        let up1 = Blocks.sequence(g, x, key: "\(key).up1", kind: .basic, planes: c0, count: b0)
        var low = Blocks.sequence(g, x, key: "\(key).low1", kind: .basic, planes: c1, count: b0, stride: 2)
        if depth > 1 {
            low = module(g, low, key: "\(key).low2", depth: depth - 1, channels: Array(channels.dropFirst()), blocks: Array(blocks.dropFirst()))
        } else {
            low = Blocks.sequence(g, low, key: "\(key).low2", kind: .basic, planes: c1, count: blocks[1])
        }
        // low3: the width changes in its last block (MMPose's downsample_first=False).
        for n in 0..<b0 { low = Blocks.residual(g, low, key: "\(key).low3.\(n)", kind: .basic, planes: n == b0 - 1 ? c0 : c1) }
        return g.add(up1, g.upsample(low, factor: 2, mode: .nearest))
    }

    /// mmcv's ConvModule: conv (no bias) `<key>.conv`, BN `<key>.bn`, ReLU when `relu`.
    static func convModule(_ g: Graph, _ x: Graph.Value, key: String, channels: Int, kernel: Int, stride: Int, relu: Bool) -> Graph.Value {
        let y = g.batchNorm(g.conv(x, key: "\(key).conv", outChannels: channels, kernel: kernel, stride: stride), key: "\(key).bn")
        return relu ? g.relu(y) : y
    }
}
