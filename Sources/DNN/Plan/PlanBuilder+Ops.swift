import CDNNL

extension Plan.Builder {
    /// The implementation name of oneDNN's fp32 Winograd F(2x2, 3x3) kernel.
    static let smallTileWinograd = "wino_2x3"

    /// Right padding that makes oneDNN's output size equal PyTorch's floor rule.
    static func rightPadding(in size: Int, out: Int, kernel: Int, stride: Int, dilation: Int, left: Int) -> Int64 {
        Int64((out - 1) * stride + (kernel - 1) * dilation + 1 - size - left)
    }

    /// Convolution with BN folded in and `postOps` (ReLU / sum) fused.
    /// `x` is the input value (for its shape), `src` the memory it is read from.
    mutating func emitConv(node: Int, batchNorm bn: Int?, postOps: [PostOp], x: Int, src srcValue: Int, out: Int,
                           threads: Int, p: inout [String: Tensor], plan: Plan) throws {
        guard case .conv(let c) = graph.nodes[node].op else { fatalError("not a convolution") }
        let graph = self.graph, oc = graph.nodes[node].channels
        let xs = shapes[x], ys = shapes[out]
        if options.phasedTransposedConvolutions, int8 == nil, !postOps.contains(.sum),
           let phases = TransposedPhases(c, input: xs, output: ys),
           try emitPhasedTransposedConv(phases, node: node, batchNorm: bn, postOps: postOps, x: x, src: srcValue, out: out,
                                        threads: threads, p: &p, plan: plan) {
            return
        }
        let oihw = [oc, xs.c / c.groups, c.kernel.h, c.kernel.w]
        let wdims = c.groups == 1 ? oihw : [c.groups, oc / c.groups] + oihw.dropFirst()
        let hasBias = c.hasBias || bn != nil
        let fullSrc = desc[srcValue]!, fullDst = desc[out]!
        var src = fullSrc, dst = fullDst
        var wAny = try MemoryDesc.make(wdims, dnnl_format_tag_any, type: element.dnnl)
        var bMd = try MemoryDesc.plain([oc])
        let geometry = ConvGeometry(c, xs, ys)
        let attr = try Attributes(postOps: postOps, scalar: { Self.scalar(&p, $0, graph) })
        /// A primitive descriptor for `algorithm` (on `src` and `dst`), or nil where oneDNN has no implementation.
        func descriptor(_ algorithm: dnnl_alg_kind_t) throws -> PrimitiveDesc? {
            var cd = try withUnsafePointer(to: &bMd) { bp in
                try c.forwardDesc(dnnl_forward_inference, algorithm, src: &src, weights: &wAny, bias: hasBias ? bp : nil,
                                  dst: &dst, geometry)
            }
            var pdh: dnnl_primitive_desc_t?
            let status = dnnl_primitive_desc_create(&pdh, &cd, attr.handle, Engine.shared.engine, nil)
            if status == dnnl_unimplemented && algorithm != dnnl_convolution_direct { return nil }
            try check(status, c.operationName)
            return PrimitiveDesc(pdh!)
        }
        // Winograd does a 3x3 convolution with fewer multiplications. oneDNN's F(4x4, 3x3) kernel
        // keeps weights of 4x the memory and pays on large maps only; its F(2x2, 3x3) kernel (which
        // takes problems that fit the caches, batch <= threads) keeps 16/9 and pays on small maps
        // too. So maps under `winogradMinimumPixels` (or batches under `winogradMinimumBatchPixels`)
        // take Winograd only where that kernel runs.
        let winograd = options.winograd && !c.transposed && c.kernel == (3, 3) && c.stride == (1, 1) && c.groups == 1
            && c.dilation == (1, 1)
        let large = ys.h * ys.w >= options.winogradMinimumPixels && xs.n * ys.h * ys.w >= options.winogradMinimumBatchPixels
        var fast = try (winograd ? descriptor(dnnl_convolution_winograd) : nil).flatMap {
            large || $0.implementation.contains(Self.smallTileWinograd) ? $0 : nil
        }
        // The F(2x2, 3x3) kernel takes at most `threads` images at once; a larger batch on a small
        // map runs as slices of that many images (the blocked layouts keep each image contiguous).
        var slices = 1
        if winograd, fast == nil, !large, xs.n > threads, let slice = (1...max(1, threads)).last(where: { xs.n % $0 == 0 }),
           MemoryDesc.equal(fullSrc, try MemoryDesc.blocked(xs, element)), MemoryDesc.equal(fullDst, try MemoryDesc.blocked(ys, element)) {
            (src, dst) = (try MemoryDesc.blocked(Shape4(slice, xs.c, xs.h, xs.w), element), try MemoryDesc.blocked(Shape4(slice, ys.c, ys.h, ys.w), element))
            if let pd = try descriptor(dnnl_convolution_winograd), pd.implementation.contains(Self.smallTileWinograd) {
                (fast, slices) = (pd, xs.n / slice)
            } else {
                (src, dst) = (fullSrc, fullDst)
            }
        }
        // The F(2x2, 3x3) kernel also refuses weights larger than its caches take (Zen 5: 192 -> 32
        // channels, not 192 -> 48). One image it refuses runs as parts of the output channels it
        // takes, each writing its own channel blocks (contiguous in one image's blocked layout):
        // pose W48 384x288's 24x18 maps of 192 channels, whose weights are read from memory at every
        // run, took 0.58 ms direct and 0.54 ms in oneDNN's F(4x4) kernel, 6 x 0.053 ms so.
        var parts = 1
        if winograd, fast == nil, xs.n == 1, c.groups == 1, oc % 32 == 0,
           MemoryDesc.equal(fullSrc, try MemoryDesc.blocked(xs, element)), MemoryDesc.equal(fullDst, try MemoryDesc.blocked(ys, element)) {
            let (blocks, wFull, bFull) = (oc / 16, wAny, bMd)
            for count in 2...blocks where blocks % count == 0 {
                let width = oc / count
                dst = try MemoryDesc.blocked(Shape4(1, width, ys.h, ys.w), element)
                wAny = try MemoryDesc.make([width] + wdims.dropFirst(), dnnl_format_tag_any, type: element.dnnl)
                bMd = try MemoryDesc.plain([width])
                if let pd = try descriptor(dnnl_convolution_winograd), pd.implementation.contains(Self.smallTileWinograd) {
                    (fast, parts) = (pd, count)
                    break
                }
            }
            if parts == 1 { (dst, wAny, bMd) = (fullDst, wFull, bFull) }
        }
        let pd = try fast ?? descriptor(dnnl_convolution_direct)!

        let sharedKey = "\(c.key)|\(bn.map { graph.nodes[$0].op.name } ?? "")|\(element)"
        // Folded once, whatever the number of parts packed from it.
        var folded: ([Float], [Float]?)?
        func foldedWeights() -> ([Float], [Float]?) {
            if folded == nil {
                let (weight, bias) = Self.foldedWeights(c, batchNorm: bn, &p, graph)
                folded = (weight.scalars, bias)
            }
            return folded!
        }
        let kind = (c.transposed ? "transposed convolution " : "convolution ") + "\(c.kernel.h)x\(c.kernel.w)"
            + (c.stride.h > 1 ? " stride \(c.stride.h)" : "")
        // A transposed convolution multiplies every input pixel by the whole kernel.
        let flops = c.transposed ? 2 * Double(xs.count) * Double(oc * c.kernel.h * c.kernel.w)
            : 2 * Double(ys.count) * Double(xs.c / c.groups * c.kernel.h * c.kernel.w)
        // A step per slice of the batch or part of the output channels, each writing its own stretch
        // of dst; each part packs its rows of the weights, the slices share them.
        let pieces = slices * parts, width = oc / parts, perOutput = wdims.dropFirst().reduce(1, *)
        let weights = try (0..<parts).map { k in
            let (key, dims) = parts == 1 ? (sharedKey, wdims) : ("\(sharedKey)|part \(k) of \(parts)", [width] + wdims.dropFirst())
            let (packed, biasPointer) = try packedWeights(key, into: pd.md(dnnl_query_weights_md), dims: dims, plan: plan) {
                let (weight, bias) = foldedWeights()
                guard parts > 1 else { return (weight, bias) }
                return (Array(weight[(k * width * perOutput)..<((k + 1) * width * perOutput)]), bias.map { Array($0[(k * width)..<((k + 1) * width)]) })
            }
            return (packed, try biasPointer.map { try Memory(bMd, pointer: $0) })
        }
        let (srcBytes, dstBytes) = (MemoryDesc.size(src), MemoryDesc.size(dst))
        for i in 0..<pieces {
            let (packed, bias) = weights[parts == 1 ? 0 : i]
            let x = slices == 1 ? memory[srcValue]! : try Memory(src, pointer: pointer(srcValue) + i * srcBytes)
            let y = pieces == 1 ? memory[out]! : try Memory(dst, pointer: pointer(out) + i * dstBytes)
            var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, x), (DNNL_ARG_WEIGHTS, packed), (DNNL_ARG_DST, y)]
            if let bias { args.append((DNNL_ARG_BIAS, bias)) }
            try primitive(pd, c.operationName, args, kind: kind, flops: flops / Double(pieces))
        }
    }

    /// Weights in the layout a chosen implementation wants (`target`) and the bias: packed once,
    /// or read from the plans of other shapes that packed this layout already (`PackedWeights`).
    /// `make` gives the (BN-folded) weights and bias only when they must be packed: it takes them
    /// out of the parameter dictionary, so once packed the fp32 copy is freed.
    mutating func packedWeights(_ sharedKey: String, into target: dnnl_memory_desc_t, dims: [Int], plan: Plan,
                                make: () throws -> ([Float], [Float]?)) throws -> (Memory, UnsafeMutableRawPointer?) {
        if let shared, let e = shared.lookup(sharedKey, target) {
            return (try Memory(target, pointer: e.weights), e.bias)
        }
        let (weight, bias) = try make()
        guard let shared else {
            return (try packer.pack(weight, dims: dims, into: target, plan: plan), bias.map { plan.own($0) })
        }
        let storage = shared.allocate(MemoryDesc.size(target))
        let packed = try packer.pack(weight, dims: dims, into: target, plan: plan, storage: storage)
        let biasPointer = bias.map { b in
            let q = shared.allocate(b.count * 4)
            b.withUnsafeBytes { q.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return q
        }
        shared.store(sharedKey, .init(desc: target, weights: storage, bias: biasPointer))
        return (packed, biasPointer)
    }

    /// Resize (nearest or bilinear) into `out`, optionally added to `base` and ReLU'd.
    mutating func emitResize(node: Int, base: Int?, x: Int, out: Int, relu: Bool, threads: Int) throws {
        guard case .resize(let r) = graph.nodes[node].op else { fatalError("not a resize") }
        let xs = shapes[graph.nodes[node].inputs[0].id], ys = shapes[out]
        let rows = Kernels.ResizeAxis(inSize: xs.h, outSize: ys.h, mode: r.mode)
        let cols = Kernels.ResizeAxis(inSize: xs.w, outSize: ys.w, mode: r.mode)
        let planes = xs.n * ((xs.c + block - 1) / block)
        let (d, s, b, blk, e) = (pointer(out), pointer(x), base.map { UnsafeRawPointer(pointer($0)) }, block, element)
        if int8 != nil {
            kernel(base == nil ? "resize" : "resize+add") {
                Kernels.resizeNHWC(dst: d, src: s, base: b, batch: xs.n, channels: xs.c, inH: xs.h, inW: xs.w, rows: rows, cols: cols,
                                   relu: relu, threads: threads)
            }
            return
        }
        kernel(base == nil ? "resize" : "resize+add") {
            Kernels.resize(e, dst: d, src: s, base: b, planes: planes, inH: xs.h, inW: xs.w, rows: rows, cols: cols,
                           block: blk, relu: relu, threads: threads)
        }
    }

    mutating func emitPool(x: Int, in xs: Shape4, out: Int, algorithm: dnnl_alg_kind_t, kernel: (Int, Int), stride: Int,
                           padding: Int) throws {
        let ys = shapes[out]
        var src = desc[x]!, dst = desc[out]!
        let padR: [Int64] = [
            Self.rightPadding(in: xs.h, out: ys.h, kernel: kernel.0, stride: stride, dilation: 1, left: padding),
            Self.rightPadding(in: xs.w, out: ys.w, kernel: kernel.1, stride: stride, dilation: 1, left: padding),
        ]
        var pdesc = dnnl_pooling_v2_desc_t()
        try check(dnnl_pooling_v2_forward_desc_init(&pdesc, dnnl_forward_inference, algorithm, &src, &dst,
                                                    [Int64(stride), Int64(stride)], [Int64(kernel.0), Int64(kernel.1)],
                                                    [0, 0], [Int64(padding), Int64(padding)], padR), "pooling")
        var pdh: dnnl_primitive_desc_t?
        let attr = try Attributes()
        try check(dnnl_primitive_desc_create(&pdh, &pdesc, attr.handle, Engine.shared.engine, nil), "pooling")
        withExtendedLifetime(attr) {}
        try primitive(PrimitiveDesc(pdh!), "pooling", [(DNNL_ARG_SRC, memory[x]!), (DNNL_ARG_DST, memory[out]!)])
    }

    mutating func emitLinear(node: Int, x: Int, out: Int, p: inout [String: Tensor], plan: Plan) throws {
        guard case .linear(let l) = graph.nodes[node].op else { fatalError("not a linear layer") }
        let weight = Self.take(&p, "\(l.key).weight", graph)
        let o = weight.shape[0]
        var src = desc[x]!, dst = desc[out]!
        let srcDims = withUnsafeBytes(of: src.dims) { raw in
            (0..<Int(src.ndims)).map { Int(raw.load(fromByteOffset: $0 * 8, as: Int64.self)) }
        }
        let wdims = [o] + srcDims.dropFirst()
        var wAny = try MemoryDesc.make(wdims, dnnl_format_tag_any, type: element.dnnl)
        var bMd = try MemoryDesc.plain([o])
        var ipd = dnnl_inner_product_desc_t()
        try withUnsafeMutablePointer(to: &bMd) { bp in
            try check(dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src, &wAny,
                                                           l.hasBias ? bp : nil, &dst), "linear \(l.key)")
        }
        var pdh: dnnl_primitive_desc_t?
        let attr = try Attributes()
        try check(dnnl_primitive_desc_create(&pdh, &ipd, attr.handle, Engine.shared.engine, nil), "linear \(l.key)")
        withExtendedLifetime(attr) {}
        let pd = PrimitiveDesc(pdh!)
        let packed = try packer.pack(weight.scalars, dims: wdims, into: pd.md(dnnl_query_weights_md), plan: plan)
        var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, memory[x]!), (DNNL_ARG_WEIGHTS, packed), (DNNL_ARG_DST, memory[out]!)]
        if l.hasBias { args.append((DNNL_ARG_BIAS, try Memory(bMd, pointer: plan.own(Self.take(&p, "\(l.key).bias", graph).scalars)))) }
        try primitive(pd, "linear \(l.key)", args)
    }
}
