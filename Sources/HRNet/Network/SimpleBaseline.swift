import DNN

/// SimpleBaseline (Xiao, Wu and Wei, "Simple Baselines for Human Pose Estimation and Tracking",
/// 2018; the official repository's `pose_resnet`): a ResNet brings the image down to 1/32, then
/// transposed convolutions bring it back up to the heatmaps' 1/4. The encoder-decoder HRNet is
/// compared against: high resolution recovered from low, where HRNet keeps it throughout.
/// MODEL.EXTRA of the official files: NUM_LAYERS, NUM_DECONV_{LAYERS,FILTERS,KERNELS},
/// DECONV_WITH_BIAS, FINAL_CONV_KERNEL.
public struct SimpleBaselineSpec: Sendable, Equatable {
    /// NUM_LAYERS: the ResNet's depth, 18, 34, 50, 101 or 152.
    public var depth: Int
    /// Planes of the stem and of layer1...layer4. Officially 64, 128, 256, 512 (and the stem 64);
    /// MODEL.EXTRA.RESNET_PLANES (this project's key) gives small models for tests.
    public var planes: [Int]
    /// NUM_DECONV_FILTERS: output channels of each transposed convolution.
    public var deconvFilters: [Int]
    /// NUM_DECONV_KERNELS: 4, 3 or 2 (each doubles the map: see `deconvGeometry`).
    public var deconvKernels: [Int]
    /// DECONV_WITH_BIAS.
    public var deconvBias: Bool

    public init(depth: Int, planes: [Int] = [64, 128, 256, 512], deconvFilters: [Int] = [256, 256, 256],
                deconvKernels: [Int] = [4, 4, 4], deconvBias: Bool = false) {
        (self.depth, self.planes, self.deconvFilters, self.deconvKernels, self.deconvBias) =
            (depth, planes, deconvFilters, deconvKernels, deconvBias)
    }

    /// The official `resnet_spec`: block kind and blocks per layer of each depth.
    public static let resnets: [Int: (block: BlockKind, blocks: [Int])] = [
        18: (.basic, [2, 2, 2, 2]), 34: (.basic, [3, 4, 6, 3]), 50: (.bottleneck, [3, 4, 6, 3]),
        101: (.bottleneck, [3, 4, 23, 3]), 152: (.bottleneck, [3, 8, 36, 3]),
    ]

    public var block: BlockKind { Self.resnets[depth]!.block }
    public var blocks: [Int] { Self.resnets[depth]!.blocks }

    /// The official `_get_deconv_cfg`: (padding, output padding) of a stride-2 transposed
    /// convolution of `kernel`, so that each one exactly doubles the map; nil for other kernels.
    public static func deconvGeometry(kernel: Int) -> (padding: Int, outputPadding: Int)? {
        switch kernel {
        case 4: (1, 0)
        case 3: (1, 1)
        case 2: (0, 0)
        default: nil
        }
    }
}

enum SimpleBaseline {
    /// The ResNet (official keys `conv1`, `bn1`, `layer1`...`layer4`, as torchvision's, so an
    /// ImageNet ResNet checkpoint starts it) and the `deconv_layers` (transposed convolution at
    /// index 3i, BN at 3i + 1, ReLU at 3i + 2). Returns the last deconv layer's output (input / 4
    /// with three layers).
    static func representation(_ g: Graph, input: Graph.Value, spec: SimpleBaselineSpec) -> Graph.Value {
        // Stem: conv 7x7 stride 2, BN, ReLU, max pool 3x3 stride 2 (input / 4).
        var x = g.relu(g.batchNorm(g.conv(input, key: "conv1", outChannels: spec.planes[0], kernel: 7, stride: 2, padding: 3), key: "bn1"))
        x = g.maxPool(x, kernel: 3, stride: 2, padding: 1)
        // layer1 keeps the resolution, layer2...layer4 halve it (input / 32).
        for (i, count) in spec.blocks.enumerated() {
            x = Blocks.sequence(g, x, key: "layer\(i + 1)", kind: spec.block, planes: spec.planes[i], count: count,
                                stride: i == 0 ? 1 : 2)
        }
        // Deconvolution layers: each doubles the map (stride 2).
        for (i, (filters, kernel)) in zip(spec.deconvFilters, spec.deconvKernels).enumerated() {
            let (padding, outputPadding) = SimpleBaselineSpec.deconvGeometry(kernel: kernel)!
            x = g.transposedConv(x, key: "deconv_layers.\(3 * i)", outChannels: filters, kernel: kernel, stride: 2,
                                 padding: padding, outputPadding: outputPadding, bias: spec.deconvBias)
            x = g.relu(g.batchNorm(x, key: "deconv_layers.\(3 * i + 1)"))
        }
        return x
    }
}
