import DNN

/// U-Net (Ronneberger, Fischer and Brox, 2015) as MMSegmentation builds it (`UNet` backbone,
/// `FCNHead` decode and auxiliary heads; the unet-s5-d16 configs): an encoder that halves the
/// map four times, a decoder that doubles it back, each step concatenating the encoder's map of
/// that size (the skip connection). The encoder-decoder design HRNet is compared against.
/// Keys are MMSegmentation's (`backbone.encoder.*`, `backbone.decoder.*`, `decode_head.*`,
/// `auxiliary_head.*`), so its checkpoints load.
public struct UNetSpec: Sendable, Equatable {
    /// MODEL.EXTRA.BASE_CHANNELS: the first stage's channels; each stage doubles them (64).
    public var baseChannels: Int
    /// MODEL.EXTRA.ENC_NUM_CONVS: 3x3 conv-BN-ReLU per encoder stage; its count is the stage count (5).
    public var encoderConvs: [Int]
    /// MODEL.EXTRA.DEC_NUM_CONVS: per decoder stage, one fewer than the encoder's (4).
    public var decoderConvs: [Int]
    /// MODEL.EXTRA.HEAD_CHANNELS: the FCN heads' 3x3 conv width (64).
    public var headChannels: Int
    /// MODEL.EXTRA.AUX_HEAD: the auxiliary FCN head on the half-resolution decoder map
    /// (training only; outputs become [aux, main] as HRNet-OCR's).
    public var auxiliaryHead: Bool
    /// MODEL.EXTRA.DROPOUT: `Dropout2d` before each head's classifier (0.1).
    public var dropout: Float

    public init(baseChannels: Int = 64, encoderConvs: [Int] = [2, 2, 2, 2, 2], decoderConvs: [Int] = [2, 2, 2, 2],
                headChannels: Int = 64, auxiliaryHead: Bool = true, dropout: Float = 0.1) {
        (self.baseChannels, self.encoderConvs, self.decoderConvs, self.headChannels, self.auxiliaryHead, self.dropout) =
            (baseChannels, encoderConvs, decoderConvs, headChannels, auxiliaryHead, dropout)
    }

    /// How many times the encoder halves the map: input sides must be multiples of 2^this.
    public var downsamplings: Int { encoderConvs.count - 1 }
}

enum UNet {
    /// Builds [aux, main] (or [main]) logits: main at the input's size, aux at half of it.
    static func build(_ g: Graph, input: Graph.Value, spec: UNetSpec, classes: Int) -> [Graph.Value] {
        g.keyPrefix = "backbone."
        g.inputSideMultiple = (1 << spec.downsamplings, "U-Net halves the map \(spec.downsamplings) times and concatenates each level back")
        // Encoder: stage 0 at full size; stage i max-pools by 2 first (its blocks sit at index 1).
        var skips: [Graph.Value] = []
        var x = input
        for (i, convs) in spec.encoderConvs.enumerated() {
            let channels = spec.baseChannels << i
            if i > 0 { x = g.maxPool(x, kernel: 2, stride: 2) }
            x = convBlock(g, x, key: "encoder.\(i).\(i == 0 ? 0 : 1)", channels: channels, convs: convs)
            skips.append(x)
        }
        // Decoder: up (bilinear x2, then conv1x1-BN-ReLU to the skip's width), concat [skip, up], convs.
        var decoded = [x]
        for i in stride(from: spec.decoderConvs.count - 1, through: 0, by: -1) {
            let skip = skips[i], channels = spec.baseChannels << i
            let up = conv(g, g.upsample(x, factor: 2, mode: .bilinear(alignCorners: false)),
                          key: "decoder.\(i).upsample.interp_upsample.1", channels: channels, kernel: 1)
            x = convBlock(g, g.concat([skip, up]), key: "decoder.\(i).conv_block", channels: channels, convs: spec.decoderConvs[i])
            decoded.append(x)
        }
        // Heads: the decode head on the full-size map (last), the auxiliary on the one before.
        var outputs: [Graph.Value] = []
        if spec.auxiliaryHead {
            g.keyPrefix = "auxiliary_head."
            outputs.append(fcnHead(g, decoded[decoded.count - 2], spec: spec, classes: classes))
        }
        g.keyPrefix = "decode_head."
        outputs.append(fcnHead(g, decoded[decoded.count - 1], spec: spec, classes: classes))
        g.keyPrefix = ""
        return outputs
    }

    /// mmcv's ConvModule: conv (no bias) `<key>.conv`, BN `<key>.bn`, ReLU.
    static func conv(_ g: Graph, _ x: Graph.Value, key: String, channels: Int, kernel: Int) -> Graph.Value {
        g.relu(g.batchNorm(g.conv(x, key: "\(key).conv", outChannels: channels, kernel: kernel), key: "\(key).bn"))
    }

    /// `BasicConvBlock`: `convs` 3x3 ConvModules under `<key>.convs.i`.
    static func convBlock(_ g: Graph, _ x: Graph.Value, key: String, channels: Int, convs: Int) -> Graph.Value {
        var y = x
        for i in 0..<convs { y = conv(g, y, key: "\(key).convs.\(i)", channels: channels, kernel: 3) }
        return y
    }

    /// `FCNHead` (one conv, no input concat): conv3x3-BN-ReLU, Dropout2d, `conv_seg` 1x1 with bias.
    static func fcnHead(_ g: Graph, _ x: Graph.Value, spec: UNetSpec, classes: Int) -> Graph.Value {
        let y = g.channelDropout(conv(g, x, key: "convs.0", channels: spec.headChannels, kernel: 3), probability: spec.dropout)
        return g.conv(y, key: "conv_seg", outChannels: classes, kernel: 1, bias: true)
    }
}
