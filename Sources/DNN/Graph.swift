/// A static graph of tensor operations, built once per model and compiled into a `Plan`
/// for each input shape.
///
/// Values are 4-D NCHW activations. Channel counts are fixed when the graph is built;
/// batch and spatial sizes are fixed only when a plan is compiled, so one graph serves
/// every input size the model accepts. Parameters are named by their checkpoint keys
/// (e.g. `stage2.0.branches.1.0.conv1.weight`), so loading is a dictionary lookup.
public final class Graph {
    public private(set) var nodes: [Node] = []
    /// Every parameter the graph reads, in creation order, with its expected shape.
    public private(set) var parameters: [ParameterSpec] = []
    /// The values the model returns, in order.
    public var outputs: [Value] = []
    /// Indices into `outputs` that a plan returns channels-last, shape (N, H, W, C): for code
    /// that reads each pixel's channels together (RoIAlign). The conversion out of the
    /// engine's blocked layout costs the same either way.
    public var channelsLastOutputs: Set<Int> = []
    /// Prepended to every key declared from now on: a model nested in a larger one (mmdet's
    /// `backbone.`, `neck.`, `bbox_head.`) is built by the same code under its prefix.
    public var keyPrefix = ""
    /// Keys read by more than one node (a head shared across pyramid levels). The plan reads
    /// these without consuming them.
    public private(set) var sharedKeys: Set<String> = []
    /// Input sides must be multiples of `multiple` (an encoder-decoder that halves and doubles
    /// the map, so skip connections line up); `why` ends the error for other sizes.
    public var inputSideMultiple: (multiple: Int, why: String)?

    public init() {}

    /// A handle to the output of one node.
    public struct Value: Hashable, Sendable {
        public let id: Int
    }

    public struct Node: Sendable {
        public let op: Op
        public let inputs: [Value]
        /// Output channels (known at build time).
        public let channels: Int
    }

    public struct ParameterSpec: Equatable, Sendable {
        public let key: String
        public let shape: [Int]
    }

    public func channels(of v: Value) -> Int { nodes[v.id].channels }

    /// The graph's input (its first `input` node), e.g. to resize an output to the input's size.
    public var inputValue: Value? {
        nodes.firstIndex { if case .input = $0.op { true } else { false } }.map { Value(id: $0) }
    }

    // MARK: - Building

    func append(_ op: Op, _ inputs: [Value], channels: Int) -> Value {
        nodes.append(Node(op: op, inputs: inputs, channels: channels))
        return Value(id: nodes.count - 1)
    }

    /// Declares a parameter; a key declared again (same shape) is shared by the nodes that read it.
    func declare(_ key: String, _ shape: [Int]) {
        if let existing = parameters.first(where: { $0.key == key }) {
            precondition(existing.shape == shape, "parameter \(key) declared as \(existing.shape) and \(shape)")
            sharedKeys.insert(key)
            return
        }
        parameters.append(ParameterSpec(key: key, shape: shape))
    }

    /// The graph's input image batch.
    public func input(channels: Int) -> Value {
        append(.input, [], channels: channels)
    }

    /// 2-D convolution with weight `<key>.weight` (O, I/groups, kh, kw) and, if `bias`,
    /// `<key>.bias` (O).
    public func conv(_ x: Value, key: String, outChannels: Int, kernel: Int, stride: Int = 1,
                     padding: Int? = nil, dilation: Int = 1, groups: Int = 1, bias: Bool = false) -> Value {
        let key = keyPrefix + key
        let inC = channels(of: x)
        precondition(inC % groups == 0 && outChannels % groups == 0, "\(key): channels not divisible by groups")
        let p = Conv(key: key, kernel: (kernel, kernel), stride: (stride, stride),
                     padding: padding.map { ($0, $0) } ?? ((kernel - 1) / 2 * dilation, (kernel - 1) / 2 * dilation),
                     dilation: (dilation, dilation), groups: groups, hasBias: bias)
        declare("\(key).weight", [outChannels, inC / groups, kernel, kernel])
        if bias { declare("\(key).bias", [outChannels]) }
        return append(.conv(p), [x], channels: outChannels)
    }

    /// Transposed convolution (`nn.ConvTranspose2d`, oneDNN's deconvolution): weight
    /// `<key>.weight` (I, O, kh, kw) as PyTorch stores it and, if `bias`, `<key>.bias` (O).
    /// Output size (in - 1) x stride - 2 x padding + kernel + outputPadding.
    public func transposedConv(_ x: Value, key: String, outChannels: Int, kernel: Int, stride: Int, padding: Int,
                               outputPadding: Int = 0, bias: Bool = false) -> Value {
        let key = keyPrefix + key
        precondition(outputPadding < stride, "\(key): output padding \(outputPadding) must be smaller than the stride \(stride)")
        let p = Conv(key: key, kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding),
                     dilation: (1, 1), groups: 1, hasBias: bias, transposed: true, outputPadding: (outputPadding, outputPadding))
        declare("\(key).weight", [channels(of: x), outChannels, kernel, kernel])
        if bias { declare("\(key).bias", [outChannels]) }
        return append(.conv(p), [x], channels: outChannels)
    }

    /// Batch normalization (inference: running statistics) with the four PyTorch keys under `key`.
    public func batchNorm(_ x: Value, key: String, eps: Float = 1e-5) -> Value {
        let key = keyPrefix + key
        let c = channels(of: x)
        for s in ["weight", "bias", "running_mean", "running_var"] { declare("\(key).\(s)", [c]) }
        return append(.batchNorm(BatchNorm(key: key, eps: eps)), [x], channels: c)
    }

    /// Group normalization (`nn.GroupNorm`): statistics over each group of `C / groups` channels
    /// and all pixels of one image, then the per-channel affine `<key>.weight`, `<key>.bias`.
    public func groupNorm(_ x: Value, key: String, groups: Int, eps: Float = 1e-5) -> Value {
        let key = keyPrefix + key
        let c = channels(of: x)
        precondition(groups > 0 && c % groups == 0, "\(key): \(c) channels do not split into \(groups) groups")
        for s in ["weight", "bias"] { declare("\(key).\(s)", [c]) }
        return append(.groupNorm(GroupNorm(key: key, groups: groups, eps: eps)), [x], channels: c)
    }

    /// Multiplication by one learned scalar `<key>.scale` (a 0-d tensor, mmcv's `Scale`).
    public func scale(_ x: Value, key: String) -> Value {
        let key = keyPrefix + key
        declare("\(key).scale", [])
        return append(.scale(ScalarScale(key: key)), [x], channels: channels(of: x))
    }

    /// Elementwise e^x.
    public func exp(_ x: Value) -> Value {
        append(.exp, [x], channels: channels(of: x))
    }

    public func relu(_ x: Value) -> Value {
        append(.relu, [x], channels: channels(of: x))
    }

    /// Elementwise sum of equally shaped values.
    public func add(_ a: Value, _ b: Value) -> Value {
        precondition(channels(of: a) == channels(of: b), "add: channels \(channels(of: a)) != \(channels(of: b))")
        return append(.add, [a, b], channels: channels(of: a))
    }

    /// Resize by an integer factor (`nn.Upsample(scale_factor:)`).
    public func upsample(_ x: Value, factor: Int, mode: ResizeMode) -> Value {
        append(.resize(Resize(mode: mode, target: .factor(factor))), [x], channels: channels(of: x))
    }

    /// Resize to the spatial size of `reference` (`F.interpolate(size=...)`).
    public func resize(_ x: Value, like reference: Value, mode: ResizeMode) -> Value {
        append(.resize(Resize(mode: mode, target: .like)), [x, reference], channels: channels(of: x))
    }

    /// Concatenation along channels.
    public func concat(_ xs: [Value]) -> Value {
        precondition(!xs.isEmpty, "concat of nothing")
        return append(.concat, xs, channels: xs.map { channels(of: $0) }.reduce(0, +))
    }

    public func maxPool(_ x: Value, kernel: Int, stride: Int, padding: Int = 0) -> Value {
        append(.pool(Pool(kind: .max, kernel: kernel, stride: stride, padding: padding)), [x], channels: channels(of: x))
    }

    /// Average pooling; padded positions count in the divisor (PyTorch's default).
    public func avgPool(_ x: Value, kernel: Int, stride: Int, padding: Int = 0) -> Value {
        append(.pool(Pool(kind: .average, kernel: kernel, stride: stride, padding: padding)), [x], channels: channels(of: x))
    }

    /// Mean over H and W, giving (N, C, 1, 1).
    public func globalAveragePool(_ x: Value) -> Value {
        append(.globalAveragePool, [x], channels: channels(of: x))
    }

    /// OCR's spatial gather (the official `SpatialGather_Module`, scale 1): each of `probs`'s K
    /// maps, soft-maxed over its pixels, weights the pixels of `feats` into one feature vector
    /// per map (a class centre). Output (N, C, K, 1): C = `feats`'s channels, one column per map,
    /// as the official code's `ocr_context` (batch x C x K x 1).
    public func spatialGather(_ feats: Value, probs: Value) -> Value {
        append(.spatialGather, [feats, probs], channels: channels(of: feats))
    }

    /// OCR's object attention (`_ObjectAttentionBlock` after its projections): every pixel of
    /// `query` (N, Ck, H, W) attends over the K columns of `key` (N, Ck, K, 1) with weights
    /// softmax(`scale` * q.k) and takes the weighted sum of `value`'s columns (N, Cv, K, 1).
    /// Output (N, Cv, H, W). Both matrix products are oneDNN matmuls.
    public func objectAttention(query: Value, key: Value, value: Value, scale: Float) -> Value {
        precondition(channels(of: query) == channels(of: key), "object attention: query and key channels differ")
        return append(.objectAttention(ObjectAttention(scale: scale)), [query, key, value], channels: channels(of: value))
    }

    /// `nn.Dropout2d(p)`: in training, each (image, channel) map is zeroed with probability `p`
    /// and the rest scaled by 1 / (1 - p); the identity at inference.
    public func channelDropout(_ x: Value, probability p: Float) -> Value {
        precondition(p >= 0 && p < 1, "dropout probability \(p) is outside [0, 1)")
        return append(.channelDropout(ChannelDropout(probability: p)), [x], channels: channels(of: x))
    }

    /// Fully connected layer over the flattened (C, H, W) of `x`; output (N, outFeatures, 1, 1).
    /// `inFeatures` must equal C*H*W at plan time.
    public func linear(_ x: Value, key: String, inFeatures: Int, outFeatures: Int, bias: Bool = true) -> Value {
        let key = keyPrefix + key
        declare("\(key).weight", [outFeatures, inFeatures])
        if bias { declare("\(key).bias", [outFeatures]) }
        return append(.linear(Linear(key: key, hasBias: bias)), [x], channels: outFeatures)
    }
}

// MARK: - Operations

public enum Op: Sendable {
    case input
    case conv(Conv)
    case batchNorm(BatchNorm)
    case relu
    case add
    case resize(Resize)
    case concat
    case pool(Pool)
    case globalAveragePool
    case linear(Linear)
    case groupNorm(GroupNorm)
    case scale(ScalarScale)
    case exp
    /// inputs: [feats, probs]
    case spatialGather
    /// inputs: [query, key, value]
    case objectAttention(ObjectAttention)
    case channelDropout(ChannelDropout)
}

public struct Conv: Sendable {
    public let key: String
    public let kernel: (h: Int, w: Int)
    public let stride: (h: Int, w: Int)
    public let padding: (h: Int, w: Int)
    public let dilation: (h: Int, w: Int)
    public let groups: Int
    public let hasBias: Bool
    /// A transposed convolution: its weight is stored (I, O, kh, kw), it scatters each input
    /// pixel over a kernel-sized window of the output, `stride` apart.
    public var transposed = false
    /// Extra rows and columns on the bottom and right of a transposed convolution's output.
    public var outputPadding: (h: Int, w: Int) = (0, 0)
}

public struct BatchNorm: Sendable {
    public let key: String
    public let eps: Float
}

public enum ResizeMode: Equatable, Sendable {
    case nearest
    case bilinear(alignCorners: Bool)
}

public struct Resize: Sendable {
    public enum Target: Equatable, Sendable {
        case factor(Int)
        /// The spatial size of the node's second input.
        case like
    }
    public let mode: ResizeMode
    public let target: Target
}

public struct Pool: Sendable {
    public enum Kind: Sendable { case max, average }
    public let kind: Kind
    public let kernel: Int
    public let stride: Int
    public let padding: Int
}

public struct Linear: Sendable {
    public let key: String
    public let hasBias: Bool
}

public struct GroupNorm: Sendable {
    public let key: String
    public let groups: Int
    public let eps: Float
}

/// y = x * `<key>.scale`, one scalar for all elements.
public struct ScalarScale: Sendable {
    public let key: String
}

public struct ObjectAttention: Sendable {
    /// Multiplies the query-key products before the softmax (the official KEY_CHANNELS^-0.5).
    public let scale: Float
}

public struct ChannelDropout: Sendable {
    public let probability: Float
}
