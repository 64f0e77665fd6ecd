import CDNNL

/// Which convolutions of an int8 plan run in int8, and how each value they touch is stored.
///
/// oneDNN 2.6 runs u8/s8 convolutions with VNNI only on NHWC data (its int8 kernels for
/// nChw16c are the reference ones), so an int8 plan keeps every activation in NHWC: int8
/// where only int8 convolutions read it, fp32 where one of the engine's kernels (add,
/// resize + add, affine), a concat, a pooling or an fp32 convolution reads it. An fp32 value
/// that an int8 convolution reads gets an int8 copy, made once right after it is produced.
///
/// Quantization is symmetric, zero point 0: a value stored with scale s holds x / s rounded
/// and saturated; u8 where the value is known to be non-negative (it comes out of a ReLU),
/// else s8. Scales come from the calibration table's largest |x|: s = max / 255 (u8) or
/// max / 127 (s8).
///
/// Convolutions that read the network input or write a network output stay fp32: the first
/// one sees the normalized image (few channels, little work), the last ones are the heads
/// whose values are the answer.
struct Int8Layout {
    struct Quantized {
        let type: dnnl_data_type_t
        /// x = scale * stored integer.
        let scale: Float

        init(range: Float, nonNegative: Bool) {
            type = nonNegative ? dnnl_u8 : dnnl_s8
            let levels: Float = nonNegative ? 255 : 127
            // An all-zero value quantizes to zeros whatever the scale.
            scale = range > 0 ? range / levels : 1
        }
    }

    /// Output values of the fused convolutions that run in int8.
    private(set) var convs: Set<Int> = []
    /// Values stored as integers.
    private(set) var stored: [Int: Quantized] = [:]
    /// fp32 values read by int8 convolutions, and their integer copy (an id past the graph's nodes).
    private(set) var copies: [Int: (id: Int, q: Quantized)] = [:]
    /// Values that cannot be negative.
    private(set) var nonNegative: Set<Int> = []

    init(ops: [FusedOp], graph: Graph, inputValue: Int, table: QuantizationTable, firstFreeID: Int) throws {
        try table.check(against: graph)
        let outputs = Set(graph.outputs.map(\.id))
        for op in ops {
            switch op.kind {
            case .input, .linear: break
            case .conv(_, _, let postOps): if postOps.last == .relu { nonNegative.insert(op.output) }
            case .add(let relu), .resizeAdd(_, let relu), .affine(_, let relu), .groupNorm(_, let relu):
                if relu { nonNegative.insert(op.output) }
            case .exp: nonNegative.insert(op.output)
            case .scale, .spatialGather, .objectAttention: break
            case .identity: if nonNegative.contains(op.inputs[0]) { nonNegative.insert(op.output) }
            case .relu: nonNegative.insert(op.output)
            case .resize, .pool, .globalAveragePool, .concat:
                if op.inputs.allSatisfy(nonNegative.contains) { nonNegative.insert(op.output) }
            }
        }

        // The int8 convolutions and the largest |x| of what they read and write.
        var range: [Int: Float] = [:]
        for op in ops {
            guard case .conv(let node, _, _) = op.kind, case .conv(let c) = graph.nodes[node].op,
                  c.groups == 1, op.inputs[0] != inputValue, !outputs.contains(op.output) else { continue }
            let r = table.ranges[c.key]!
            convs.insert(op.output)
            range[op.inputs[0]] = max(range[op.inputs[0]] ?? 0, r.input)
            range[op.output] = max(range[op.output] ?? 0, r.output)
        }

        // A value is stored as integers when it comes out of an int8 convolution and only
        // int8 convolutions read it (as their input or as the residual of their sum).
        var readers: [Int: [FusedOp]] = [:]
        for op in ops { for v in Set(op.inputs) { readers[v, default: []].append(op) } }
        for v in convs where !outputs.contains(v) {
            let all = readers[v] ?? []
            if !all.isEmpty && all.allSatisfy({ convs.contains($0.output) }) {
                stored[v] = Quantized(range: range[v]!, nonNegative: nonNegative.contains(v))
            }
        }
        var next = firstFreeID
        for op in ops where convs.contains(op.output) {
            let x = op.inputs[0]
            guard stored[x] == nil, copies[x] == nil else { continue }
            copies[x] = (next, Quantized(range: range[x]!, nonNegative: nonNegative.contains(x)))
            next += 1
        }
    }

    /// What an int8 convolution reads for its input `x`: the value itself or its integer copy.
    func input(_ x: Int) -> (id: Int, q: Quantized) {
        if let q = stored[x] { return (x, q) }
        return copies[x]!
    }

    /// The scale a value holds its numbers in: its quantization scale, or 1 for fp32.
    func scale(_ v: Int) -> Float { stored[v]?.scale ?? 1 }
}
