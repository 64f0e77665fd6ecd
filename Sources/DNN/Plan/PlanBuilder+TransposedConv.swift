import CDNNL

/// A strided transposed convolution run as ordinary convolutions, one per output phase.
///
/// With stride s, output pixel o = s*m + r (phase r) receives input pixel i through kernel tap k
/// only when o = s*i - padding + k, that is i = m + (r + padding - k) / s: each phase is an
/// ordinary stride-1 convolution of the input with the taps k = r + padding (mod s), at
/// consecutive input offsets. SimpleBaseline's 4x4 stride-2 layers become four 2x2 convolutions
/// (its 3x3 ones a 1x1, two 1x2/2x1 and a 2x2; its 2x2 ones four 1x1): the same multiplications,
/// but oneDNN's convolution kernels run them at 2-3x the rate of its deconvolution kernel. An
/// engine kernel then interleaves the phases into the output.
struct TransposedPhases {
    /// Along one axis: for each phase r, its kernel taps (ascending input offset), the left and
    /// right padding of its convolution, and its output count.
    struct Axis {
        var taps: [[Int]] = [], padL: [Int] = [], padR: [Int] = [], count: [Int] = []

        init?(kernel: Int, stride s: Int, padding: Int, input: Int, output: Int) {
            for r in 0..<s {
                // Taps ordered by input offset d = (r + padding - k) / s, lowest first.
                let ks = (0..<kernel).filter { (r + padding - $0) % s == 0 }.sorted { $0 > $1 }
                let n = output > r ? (output - r + s - 1) / s : 0
                guard let k0 = ks.first, let k1 = ks.last, n > 0 else { return nil }
                let (dmin, dmax) = ((r + padding - k0) / s, (r + padding - k1) / s)
                let (left, right) = (-dmin, n - input + dmax)
                guard left >= 0, right >= 0 else { return nil }
                taps.append(ks); padL.append(left); padR.append(right); count.append(n)
            }
        }
    }
    let h: Axis, w: Axis, stride: Int

    /// Nil where the decomposition does not apply (stride 1, groups, dilation, a phase with no taps
    /// or one needing negative padding): the transposed convolution runs as oneDNN's deconvolution.
    init?(_ c: Conv, input xs: Shape4, output ys: Shape4) {
        guard c.transposed, c.stride.h == c.stride.w, c.stride.h > 1, c.groups == 1, c.dilation == (1, 1),
              let h = Axis(kernel: c.kernel.h, stride: c.stride.h, padding: c.padding.h, input: xs.h, output: ys.h),
              let w = Axis(kernel: c.kernel.w, stride: c.stride.w, padding: c.padding.w, input: xs.w, output: ys.w)
        else { return nil }
        (self.h, self.w, stride) = (h, w, c.stride.h)
    }

    /// Phase (rh, rw)'s (O, I, th, tw) weights from the transposed convolution's (O, I, kh, kw).
    func weights(_ weight: [Float], outputs: Int, inputs: Int, kernel: (h: Int, w: Int), rh: Int, rw: Int) -> [Float] {
        let (th, tw) = (h.taps[rh], w.taps[rw])
        var phase = [Float](repeating: 0, count: outputs * inputs * th.count * tw.count)
        for oi in 0..<(outputs * inputs) {
            for (a, kh) in th.enumerated() {
                for (b, kw) in tw.enumerated() {
                    phase[(oi * th.count + a) * tw.count + b] = weight[(oi * kernel.h + kh) * kernel.w + kw]
                }
            }
        }
        return phase
    }
}

extension Plan.Builder {
    /// The transposed convolution `node` as one convolution per output phase into a plan-owned
    /// buffer, then interleaved into `out` (see `TransposedPhases`). BN is folded and ReLU fused
    /// into each phase's convolution as in `emitConv`. Emits nothing and returns false where
    /// oneDNN would run a phase with its reference kernel (odd channel counts): the
    /// deconvolution is faster there.
    mutating func emitPhasedTransposedConv(_ phases: TransposedPhases, node: Int, batchNorm bn: Int?, postOps: [PostOp],
                                           x: Int, src srcValue: Int, out: Int, threads: Int, p: inout [String: Tensor],
                                           plan: Plan) throws -> Bool {
        guard case .conv(let c) = graph.nodes[node].op else { fatalError("not a convolution") }
        let oc = graph.nodes[node].channels, xs = shapes[x], ys = shapes[out]
        let s = phases.stride, graph = self.graph
        let hasBias = c.hasBias || bn != nil
        let attr = try Attributes(postOps: postOps, scalar: { Self.scalar(&p, $0, graph) })
        defer { withExtendedLifetime(attr) {} }
        var bMd = try MemoryDesc.plain([oc])
        // Phase (rh, rw) at index rh * s + rw: its output's layout and primitive descriptor.
        var chosen: [(dst: dnnl_memory_desc_t, pd: PrimitiveDesc)] = []
        for rh in 0..<s {
            for rw in 0..<s {
                let shape = Shape4(ys.n, ys.c, phases.h.count[rh], phases.w.count[rw])
                var src = desc[srcValue]!, dst = try MemoryDesc.blocked(shape, element)
                var wAny = try MemoryDesc.make([oc, xs.c, phases.h.taps[rh].count, phases.w.taps[rw].count], dnnl_format_tag_any,
                                               type: element.dnnl)
                var cd = dnnl_convolution_desc_t()
                try withUnsafePointer(to: &bMd) { bp in
                    try check(dnnl_dilated_convolution_forward_desc_init(
                        &cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &wAny, hasBias ? bp : nil, &dst,
                        [1, 1], [0, 0], [Int64(phases.h.padL[rh]), Int64(phases.w.padL[rw])],
                        [Int64(phases.h.padR[rh]), Int64(phases.w.padR[rw])]), c.operationName)
                }
                var pdh: dnnl_primitive_desc_t?
                try check(dnnl_primitive_desc_create(&pdh, &cd, attr.handle, Engine.shared.engine, nil), c.operationName)
                let pd = PrimitiveDesc(pdh!)
                if pd.implementation.hasPrefix("ref") { return false }
                chosen.append((dst, pd))
            }
        }
        // The folded weights, made once when some phase is not in the shared store yet.
        var folded: ([Float], [Float]?)?
        var buffers: [UnsafeRawPointer] = []
        for (index, (dst, pd)) in chosen.enumerated() {
            let (rh, rw) = index.quotientAndRemainder(dividingBy: s)
            let (th, tw) = (phases.h.taps[rh].count, phases.w.taps[rw].count)
            let sharedKey = "\(c.key)|phase \(rh) \(rw)|\(bn.map { graph.nodes[$0].op.name } ?? "")|\(element)"
            let (packed, biasPointer) = try packedWeights(sharedKey, into: pd.md(dnnl_query_weights_md), dims: [oc, xs.c, th, tw],
                                                          plan: plan) {
                if folded == nil {
                    let (weight, bias) = Self.foldedWeights(c, batchNorm: bn, &p, graph)
                    folded = (weight.scalars, bias)
                }
                return (phases.weights(folded!.0, outputs: oc, inputs: xs.c, kernel: c.kernel, rh: rh, rw: rw), folded!.1)
            }
            let buffer = plan.own(bytes: MemoryDesc.size(dst))
            buffers.append(UnsafeRawPointer(buffer))
            var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, memory[srcValue]!), (DNNL_ARG_WEIGHTS, packed),
                                           (DNNL_ARG_DST, try Memory(dst, pointer: buffer))]
            if let biasPointer { args.append((DNNL_ARG_BIAS, try Memory(bMd, pointer: biasPointer))) }
            let flops = 2 * Double(ys.n * ys.c * phases.h.count[rh] * phases.w.count[rw]) * Double(xs.c * th * tw)
            try primitive(pd, c.operationName, args, kind: "transposed convolution \(c.kernel.h)x\(c.kernel.w) as \(th)x\(tw) phase",
                          flops: flops)
        }
        let d = pointer(out)
        let geometry = Kernels.PhaseGeometry(stride: s, rows: phases.h.count, columns: phases.w.count,
                                             planes: ys.n * ((ys.c + block - 1) / block), outH: ys.h, outW: ys.w,
                                             pixelBytes: block * element.size)
        kernel("interleave phases") { Kernels.interleavePhases(dst: d, phases: buffers, geometry, threads: threads) }
        return true
    }
}
