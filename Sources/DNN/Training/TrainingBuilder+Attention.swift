import CDNNL

/// What an OCR step's backward reads, as plain fp32 matrices the plan owns (the forward's
/// inputs reordered out of the blocked layout, and the soft-maxed weights).
struct AttentionSaves {
    var matrices: [UnsafeMutableRawPointer]
    /// The forward softmax, the hint for its backward.
    var softmax: PrimitiveDesc?
}

/// OCR's gather and attention, forward and backward, as oneDNN matmuls and softmaxes over plain
/// copies of the blocked activations (see `Plan.Builder.emitSpatialGather` for the math), and
/// `nn.Dropout2d` as an engine kernel.
extension TrainingPlan.Builder {
    typealias M = MatrixPrimitives

    /// A plan-owned plain copy of activation `v`, refreshed by a forward reorder.
    mutating func plainActivation(_ v: Int, plan: TrainingPlan) throws -> UnsafeMutableRawPointer {
        let p = plan.allocate(bytes: shapes[v].count * 4)
        try reorder(from: try activation(v), to: try plainMemory(v, p), .forward)
        return p
    }

    func plainMemory(_ v: Int, _ p: UnsafeMutableRawPointer) throws -> Memory {
        try Memory(try MemoryDesc.plain(shapes[v].dims), pointer: p)
    }

    /// A plain copy of the gradient of step `s`'s output.
    mutating func plainGradient(_ y: Int, plan: TrainingPlan) throws -> UnsafeMutableRawPointer {
        let p = plan.allocate(bytes: shapes[y].count * 4)
        let m = try plainMemory(y, p)
        keepAlive.append(m)
        try reorder(from: try gradient(y), to: m, .backward)
        return p
    }

    /// Writes (first consumer) or adds (later ones) a plain gradient into `x`'s blocked gradient.
    mutating func storeGradient(_ p: UnsafeMutableRawPointer, into x: Int, plan: TrainingPlan) throws {
        let plain = try plainMemory(x, p)
        keepAlive.append(plain)
        if claimGradient(x) {
            try reorder(from: plain, to: try gradient(x), .backward)
            return
        }
        let bytes = MemoryDesc.size(desc[x]!)
        let staged = try Memory(desc[x]!, pointer: plan.allocate(bytes: bytes))
        keepAlive.append(staged)
        try reorder(from: plain, to: staged, .backward)
        let dst = pointer(try gradient(x)), src = pointer(staged), threads = threads
        kernel(.backward, "accumulate") { TrainingKernels.accumulate(dst, src, count: bytes / 4, copy: false, threads: threads) }
    }

    mutating func matmul(_ a: M.Operand, _ b: M.Operand, scale: Float = 1, _ pa: UnsafeMutableRawPointer,
                         _ pb: UnsafeMutableRawPointer, into pc: UnsafeMutableRawPointer, _ pass: Pass, _ name: String) throws {
        let pd = try M.matmul(a, b, scale: scale, name: name)
        try call(pd, "matmul \(name)", [(DNNL_ARG_SRC, try M.memory(pd, dnnl_query_src_md, pa)),
                                       (DNNL_ARG_WEIGHTS, try M.memory(pd, dnnl_query_weights_md, pb)),
                                       (DNNL_ARG_DST, try M.memory(pd, dnnl_query_dst_md, pc))], pass)
    }

    /// Softmax in place over `axis` of `batch` matrices rows x columns; returns its descriptor.
    mutating func softmaxForward(_ p: UnsafeMutableRawPointer, batch: Int, rows: Int, columns: Int, axis: Int32,
                                 _ name: String) throws -> PrimitiveDesc {
        let pd = try M.softmax(batch: batch, rows: rows, columns: columns, axis: axis, name: name)
        keepAlive.append(pd)
        try call(pd, "softmax \(name)", [(DNNL_ARG_SRC, try M.memory(pd, dnnl_query_src_md, p)),
                                        (DNNL_ARG_DST, try M.memory(pd, dnnl_query_dst_md, p))], .forward)
        return pd
    }

    /// d(logits) into `gradient` from the soft-maxed `output` and d(output) `outputGradient`.
    mutating func softmaxBackward(output: UnsafeMutableRawPointer, outputGradient: UnsafeMutableRawPointer,
                                  into gradient: UnsafeMutableRawPointer, batch: Int, rows: Int, columns: Int, axis: Int32,
                                  hint: PrimitiveDesc, _ name: String) throws {
        let pd = try M.softmax(batch: batch, rows: rows, columns: columns, axis: axis, backward: true, hint: hint, name: name)
        try call(pd, "softmax \(name) backward", [(DNNL_ARG_DST, try M.memory(pd, dnnl_query_dst_md, output)),
                                                 (DNNL_ARG_DIFF_DST, try M.memory(pd, dnnl_query_diff_dst_md, outputGradient)),
                                                 (DNNL_ARG_DIFF_SRC, try M.memory(pd, dnnl_query_diff_src_md, gradient))], .backward)
    }

    // MARK: - Spatial gather: out (C x K) = F (C x S) . A^T, A = softmax over S of P (K x S)

    mutating func spatialGatherForward(_ s: Int, _ step: TrainingStep, plan: TrainingPlan) throws {
        let f = shapes[step.inputs[0]], p = shapes[step.inputs[1]], pixels = f.h * f.w
        let feats = try plainActivation(step.inputs[0], plan: plan)
        let weights = try plainActivation(step.inputs[1], plan: plan)
        let softmax = try softmaxForward(weights, batch: p.n, rows: p.c, columns: pixels, axis: 2, "spatial gather")
        let product = plan.allocate(bytes: shapes[step.output].count * 4)
        try matmul(M.Operand(batch: f.n, rows: f.c, columns: pixels), M.Operand(batch: p.n, rows: p.c, columns: pixels, transposed: true),
                   feats, weights, into: product, .forward, "spatial gather")
        let m = try plainMemory(step.output, product)
        keepAlive.append(m)
        try reorder(from: m, to: try activation(step.output), .forward)
        attentionSaves[s] = AttentionSaves(matrices: [feats, weights], softmax: softmax)
    }

    mutating func spatialGatherBackward(_ s: Int, _ step: TrainingStep, plan: TrainingPlan) throws {
        let (fx, px) = (step.inputs[0], step.inputs[1])
        let f = shapes[fx], p = shapes[px], pixels = f.h * f.w
        let saved = attentionSaves[s]!
        let (feats, weights) = (saved.matrices[0], saved.matrices[1])
        let gy = try plainGradient(step.output, plan: plan)
        let gOut = M.Operand(batch: f.n, rows: f.c, columns: p.c)
        if schedule.needsGradient[fx] {
            // dF (C x S) = dOut (C x K) . A (K x S)
            let gf = plan.allocate(bytes: f.count * 4)
            try matmul(gOut, M.Operand(batch: p.n, rows: p.c, columns: pixels), gy, weights, into: gf, .backward, "spatial gather backward features")
            try storeGradient(gf, into: fx, plan: plan)
        }
        if schedule.needsGradient[px] {
            // dA (K x S) = dOut^T (K x C) . F (C x S), then back through the softmax.
            let ga = plan.allocate(bytes: p.count * 4), gp = plan.allocate(bytes: p.count * 4)
            var t = gOut
            t.transposed = true
            try matmul(t, M.Operand(batch: f.n, rows: f.c, columns: pixels), gy, feats, into: ga, .backward, "spatial gather backward maps")
            try softmaxBackward(output: weights, outputGradient: ga, into: gp, batch: p.n, rows: p.c, columns: pixels, axis: 2,
                                hint: saved.softmax!, "spatial gather")
            try storeGradient(gp, into: px, plan: plan)
        }
    }

    // MARK: - Object attention: out (Cv x S) = V (Cv x K) . W^T, W (S x K) = softmax over K of scale x Q^T (S x Ck) . Kt (Ck x K)

    mutating func objectAttentionForward(_ s: Int, _ step: TrainingStep, scale: Float, plan: TrainingPlan) throws {
        let q = shapes[step.inputs[0]], k = shapes[step.inputs[1]], v = shapes[step.inputs[2]]
        let (pixels, centres) = (q.h * q.w, k.h * k.w)
        let query = try plainActivation(step.inputs[0], plan: plan)
        let key = try plainActivation(step.inputs[1], plan: plan)
        let value = try plainActivation(step.inputs[2], plan: plan)
        let weights = plan.allocate(bytes: q.n * centres * pixels * 4)
        try matmul(M.Operand(batch: q.n, rows: q.c, columns: pixels, transposed: true), M.Operand(batch: q.n, rows: k.c, columns: centres),
                   scale: scale, query, key, into: weights, .forward, "object attention similarity")
        let softmax = try softmaxForward(weights, batch: q.n, rows: pixels, columns: centres, axis: 2, "object attention")
        let product = plan.allocate(bytes: shapes[step.output].count * 4)
        try matmul(M.Operand(batch: q.n, rows: v.c, columns: centres), M.Operand(batch: q.n, rows: pixels, columns: centres, transposed: true),
                   value, weights, into: product, .forward, "object attention context")
        let m = try plainMemory(step.output, product)
        keepAlive.append(m)
        try reorder(from: m, to: try activation(step.output), .forward)
        attentionSaves[s] = AttentionSaves(matrices: [query, key, value, weights], softmax: softmax)
    }

    mutating func objectAttentionBackward(_ s: Int, _ step: TrainingStep, scale: Float, plan: TrainingPlan) throws {
        let (qx, kx, vx) = (step.inputs[0], step.inputs[1], step.inputs[2])
        let q = shapes[qx], k = shapes[kx], v = shapes[vx]
        let (n, pixels, centres) = (q.n, q.h * q.w, k.h * k.w)
        let saved = attentionSaves[s]!
        let (query, key, value, weights) = (saved.matrices[0], saved.matrices[1], saved.matrices[2], saved.matrices[3])
        let gy = try plainGradient(step.output, plan: plan)
        let gOut = M.Operand(batch: n, rows: v.c, columns: pixels)
        let w = M.Operand(batch: n, rows: pixels, columns: centres)
        if schedule.needsGradient[vx] {
            // dV (Cv x K) = dOut (Cv x S) . W (S x K)
            let gv = plan.allocate(bytes: v.count * 4)
            try matmul(gOut, w, gy, weights, into: gv, .backward, "object attention backward values")
            try storeGradient(gv, into: vx, plan: plan)
        }
        guard schedule.needsGradient[qx] || schedule.needsGradient[kx] else { return }
        // dW (S x K) = dOut^T (S x Cv) . V (Cv x K), then back through the softmax to the logits dL.
        let gw = plan.allocate(bytes: n * centres * pixels * 4), gl = plan.allocate(bytes: n * centres * pixels * 4)
        var gOutT = gOut
        gOutT.transposed = true
        try matmul(gOutT, M.Operand(batch: n, rows: v.c, columns: centres), gy, value, into: gw, .backward,
                   "object attention backward weights")
        try softmaxBackward(output: weights, outputGradient: gw, into: gl, batch: n, rows: pixels, columns: centres, axis: 2,
                            hint: saved.softmax!, "object attention")
        var glT = w
        glT.transposed = true
        if schedule.needsGradient[qx] {
            // dQ (Ck x S) = scale x Kt (Ck x K) . dL^T (K x S)
            let gq = plan.allocate(bytes: q.count * 4)
            try matmul(M.Operand(batch: n, rows: k.c, columns: centres), glT, scale: scale, key, gl, into: gq, .backward,
                       "object attention backward queries")
            try storeGradient(gq, into: qx, plan: plan)
        }
        if schedule.needsGradient[kx] {
            // dKt (Ck x K) = scale x Q (Ck x S) . dL (S x K)
            let gk = plan.allocate(bytes: k.count * 4)
            try matmul(M.Operand(batch: n, rows: q.c, columns: pixels), w, scale: scale, query, gl, into: gk, .backward,
                       "object attention backward keys")
            try storeGradient(gk, into: kx, plan: plan)
        }
    }

    // MARK: - Channel dropout

    mutating func channelDropoutForward(_ s: Int, _ step: TrainingStep, _ d: ChannelDropout, plan: TrainingPlan) throws {
        let shape = shapes[step.output], blk = block, threads = threads, p = d.probability
        let mask = plan.allocate(bytes: shape.n * shape.c * 4).assumingMemoryBound(to: Float.self)
        attentionSaves[s] = AttentionSaves(matrices: [UnsafeMutableRawPointer(mask)], softmax: nil)
        let dst = pointer(try activation(step.output)), src = pointer(try activation(step.inputs[0]))
        let layer = UInt64(s)
        kernel(.forward, mode: 0, "channel dropout") { [unowned plan] in
            TrainingKernels.dropoutMask(mask, count: shape.n * shape.c, probability: p, seed: plan.dropoutSeed, stream: layer)
            TrainingKernels.channelScale(dst, src, mask: mask, shape: shape, block: blk, accumulate: false, threads: threads)
        }
        let bytes = MemoryDesc.size(desc[step.output]!)
        kernel(.forward, mode: 1, "channel dropout (identity)") { dst.update(from: src, count: bytes / 4) }
    }

    mutating func channelDropoutBackward(_ s: Int, _ step: TrainingStep) throws {
        let x = step.inputs[0]
        guard schedule.needsGradient[x] else { return }
        let shape = shapes[x], blk = block, threads = threads
        let mask = attentionSaves[s]!.matrices[0].assumingMemoryBound(to: Float.self)
        let first = claimGradient(x)
        let gx = pointer(try gradient(x)), gy = pointer(try gradient(step.output))
        let count = MemoryDesc.size(desc[x]!) / 4
        kernel(.backward, mode: 0, "channel dropout") {
            TrainingKernels.channelScale(gx, gy, mask: mask, shape: shape, block: blk, accumulate: !first, threads: threads)
        }
        kernel(.backward, mode: 1, "channel dropout (identity)") {
            TrainingKernels.accumulate(gx, gy, count: count, copy: first, threads: threads)
        }
    }
}
