import CDNNL

extension Plan.Builder {
    /// An int8 convolution (u8/s8 input, s8 weights, s32 accumulation with VNNI), BN folded
    /// in, its ReLU and residual sum fused as post-ops.
    ///
    /// Weights get one symmetric scale per output channel (max |w| / 127 after the BN fold).
    /// With input scale s_x, weight scale s_w[o] and output scale s_y (1 for an fp32 output),
    /// oneDNN 2.x computes y = s_x s_w[o] / s_y * (acc + b'), the bias added to the accumulator
    /// before the output scales, so the fp32 bias is given as b' = b / (s_x s_w[o]).
    mutating func emitInt8Conv(node: Int, batchNorm bn: Int?, postOps: [PostOp], op: FusedOp,
                               p: inout [String: Tensor], plan: Plan) throws {
        guard let int8, case .conv(let c) = graph.nodes[node].op else { fatalError("not an int8 convolution") }
        let out = op.output
        let (weight, folded) = Self.foldedWeights(c, batchNorm: bn, &p, graph)
        let oc = weight.shape[0], perChannel = weight.count / oc
        let input = int8.input(op.inputs[0])
        let outScale = int8.scale(out)
        var weightScale = [Float](repeating: 1, count: oc)
        for o in 0..<oc {
            var m: Float = 0
            for k in 0..<perChannel { m = max(m, abs(weight.scalars[o * perChannel + k])) }
            if m > 0 { weightScale[o] = m / 127 }
        }
        let outputScales = (0..<oc).map { input.q.scale * weightScale[$0] / outScale }
        let bias = (0..<oc).map { (folded?[$0] ?? 0) / (input.q.scale * weightScale[$0]) }

        // The residual of a sum post-op: already in dst (dst took over its buffer), or copied
        // there now, rescaled to dst's scale. A signed residual copied under an unsigned output
        // is kept s8 (the ReLU comes after the sum) and the sum reads it as s8.
        var sumScale: Float = 1
        var sumType = dnnl_data_type_undef
        if postOps.contains(.sum) {
            let r = op.inputs[1]
            if copyResidual.contains(out) {
                let dstType = desc[out]!.data_type
                let viewType = dstType == dnnl_f32 ? dnnl_f32 : (int8.nonNegative.contains(r) ? dnnl_u8 : dnnl_s8)
                var view = desc[out]!
                view.data_type = viewType
                let target = try Memory(view, pointer: pointer(out))
                try reorder(from: memory[r]!, to: target, scale: int8.scale(r) / outScale)
                if viewType != dstType { sumType = viewType }
            } else {
                sumScale = int8.scale(r) / outScale
            }
        }

        let xs = shapes[op.inputs[0]], ys = shapes[out]
        var src = desc[input.id]!, dst = desc[out]!
        var wAny = try MemoryDesc.make(weight.shape, dnnl_format_tag_any, type: dnnl_s8)
        var bMd = try MemoryDesc.plain([oc])
        let geometry = ConvGeometry(c, xs, ys)
        let attr = try Attributes()
        try check(dnnl_primitive_attr_set_output_scales(attr.handle, Int64(oc), 1 << 1, outputScales), "set_output_scales \(c.key)")
        var po: dnnl_post_ops_t?
        try check(dnnl_post_ops_create(&po), "post_ops_create")
        defer { dnnl_post_ops_destroy(po) }
        for op in postOps {
            if op == .sum { try check(dnnl_post_ops_append_sum_v2(po, sumScale, sumType), "post_ops_append_sum") }
            else { try op.appendEltwise(to: po, scalar: { Self.scalar(&p, $0, graph) }) }
        }
        try check(dnnl_primitive_attr_set_post_ops(attr.handle, po), "primitive_attr_set_post_ops")
        var cd = try c.forwardDesc(dnnl_forward_inference, dnnl_convolution_direct, src: &src, weights: &wAny, bias: &bMd,
                                   dst: &dst, geometry)
        var pdh: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&pdh, &cd, attr.handle, Engine.shared.engine, nil), "int8 convolution \(c.key)")
        let pd = PrimitiveDesc(pdh!)

        // Quantize and pack the weights once: the reorder divides channel o by its scale, rounds,
        // and adds whatever compensation the chosen kernel wants (for s8 inputs).
        let target = pd.md(dnnl_query_weights_md)
        let packed = try Memory(target, pointer: plan.own(bytes: MemoryDesc.size(target)))
        var plain = weight.scalars
        try plain.withUnsafeMutableBytes { raw in
            let user = try Memory(try MemoryDesc.plain(weight.shape), pointer: raw.baseAddress!)
            let r = try Self.reorderPrimitive(from: user.desc, to: target, scales: weightScale.map { 1 / $0 }, mask: 1 << 0)
            var args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: user.handle), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: packed.handle)]
            try check(dnnl_primitive_execute(r.handle, Engine.shared.stream, 2, &args), "weights reorder \(c.key)")
            try check(dnnl_stream_wait(Engine.shared.stream), "stream_wait")
        }
        let args: [(Int32, Memory)] = [(DNNL_ARG_SRC, memory[input.id]!), (DNNL_ARG_WEIGHTS, packed),
                                       (DNNL_ARG_BIAS, try Memory(bMd, pointer: plan.own(bias))), (DNNL_ARG_DST, memory[out]!)]
        try primitive(pd, "int8 convolution \(c.key)", args)
    }

    /// The convolution's weights with its batch norm folded in, and the bias that results
    /// (nil when there is neither a bias nor a BN). Takes the tensors out of `p`.
    static func foldedWeights(_ c: Conv, batchNorm bn: Int?, _ p: inout [String: Tensor], _ graph: Graph) -> (Tensor, [Float]?) {
        var weight = take(&p, "\(c.key).weight", graph)
        if c.transposed { weight = weight.swappingLeadingAxes() }
        var bias = c.hasBias ? take(&p, "\(c.key).bias", graph).scalars : nil
        let oc = weight.shape[0]
        if let bn, case .batchNorm(let b) = graph.nodes[bn].op {
            let (scale, shift) = batchNormAffine(&p, b, graph)
            let perChannel = weight.count / oc
            weight.scalars.withUnsafeMutableBufferPointer { w in
                for o in 0..<oc { for k in 0..<perChannel { w[o * perChannel + k] *= scale[o] } }
            }
            bias = (0..<oc).map { (bias?[$0] ?? 0) * scale[$0] + shift[$0] }
        }
        return (weight, bias)
    }

    /// A reorder that multiplies by `scales` (one, or one per index of the dimensions in `mask`),
    /// rounding and saturating to the target's integer type.
    static func reorderPrimitive(from: dnnl_memory_desc_t, to: dnnl_memory_desc_t, scales: [Float], mask: Int32) throws -> Primitive {
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        try check(dnnl_primitive_attr_set_output_scales(attr, Int64(scales.count), mask, scales), "reorder output scales")
        var pd: dnnl_primitive_desc_t?
        var s = from, d = to
        try check(dnnl_reorder_primitive_desc_create(&pd, &s, Engine.shared.engine, &d, Engine.shared.engine, attr), "scaled reorder")
        let desc = PrimitiveDesc(pd!)
        return try Primitive(desc.handle, name: "scaled reorder")
    }

    /// A step that copies `from` into `to`, multiplied by `scale` (quantizing or dequantizing).
    mutating func reorder(from: Memory, to: Memory, scale: Float) throws {
        if scale == 1 && from.desc.data_type == to.desc.data_type { return try reorder(from: from, to: to) }
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        try check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, [scale]), "reorder output scales")
        var pd: dnnl_primitive_desc_t?
        var s = from.desc, d = to.desc
        try check(dnnl_reorder_primitive_desc_create(&pd, &s, Engine.shared.engine, &d, Engine.shared.engine, attr), "scaled reorder")
        try primitive(PrimitiveDesc(pd!), "quantize", [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, to)])
    }

    /// During calibration, a step recording the largest |x| of `value` (fp32) right after it is made.
    mutating func observe(_ value: Int, threads: Int) {
        guard let observer, observer.values.contains(value) else { return }
        let v = source(value)
        let p = UnsafeRawPointer(pointer(v)), count = MemoryDesc.size(desc[v]!) / 4
        kernel("calibration range") { observer.record(value, Kernels.maxAbs(p, count: count, threads: threads)) }
    }
}

/// Collects, during calibration, the largest |x| of chosen values over every run of a plan.
final class RangeObserver {
    let values: Set<Int>
    private(set) var maxAbs: [Int: Float] = [:]
    init(values: Set<Int>) { self.values = values }
    func record(_ value: Int, _ m: Float) { maxAbs[value] = max(maxAbs[value] ?? 0, m) }
}
