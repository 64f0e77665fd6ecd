import CDNNL

extension TrainingPlan.Builder {
    /// Emits the backward of step `s`: parameter gradients into the store, input gradients
    /// written (first consumer) or added (later consumers) into the inputs' gradients.
    mutating func emitBackward(_ s: Int, _ step: TrainingStep, plan: TrainingPlan) throws {
        let y = step.output
        let threads = threads
        let needs = schedule.needsGradient
        switch step.kind {
        case .input:
            break
        case .conv(let c):
            try convolutionBackward(s, step, c)
        case .batchNorm(let b, let relu):
            try batchNormBackward(s, step, b, relu: relu, plan: plan)
        case .relu:
            let x = step.inputs[0]
            guard needs[x] else { return }
            let first = claimGradient(x)
            let gx = pointer(try gradient(x)), gy = pointer(try gradient(y)), out = pointer(try activation(y))
            let count = MemoryDesc.size(desc[y]!) / 4
            kernel(.backward, "relu") { TrainingKernels.reluBackward(gx: gx, gy: gy, y: out, count: count, accumulate: !first, threads: threads) }
        case .add(let relu):
            // One pass: g = relu ? (y > 0 ? gy : 0) : gy, written or added to each input's gradient
            // (in place where an input's gradient took over the output's buffer).
            let gy = pointer(try gradient(y))
            let mask: UnsafeMutablePointer<Float>? = relu ? pointer(try activation(y)) : nil
            let count = MemoryDesc.size(desc[y]!) / 4
            var targets: [TrainingKernels.GradientTarget] = []
            for x in step.inputs where needs[x] {
                let first = claimGradient(x)
                let gx = pointer(try gradient(x))
                targets.append(TrainingKernels.GradientTarget(pointer: gx, accumulate: !first))
            }
            // Nothing to do when the only target is the output's own buffer and no ReLU masks it.
            if !relu, targets.count == 1, targets[0].pointer == gy, !targets[0].accumulate { break }
            if !targets.isEmpty {
                let t = targets
                kernel(.backward, relu ? "add + relu" : "add") {
                    TrainingKernels.addBackward(gy: gy, y: mask, targets: t, count: count, threads: threads)
                }
            }
        case .resize(let r):
            let x = step.inputs[0]
            guard needs[x] else { return }
            let xs = shapes[x], ys = shapes[y]
            let rows = Kernels.ResizeAxis(inSize: xs.h, outSize: ys.h, mode: r.mode)
            let cols = Kernels.ResizeAxis(inSize: xs.w, outSize: ys.w, mode: r.mode)
            let planes = xs.n * ((xs.c + block - 1) / block), blk = block
            let first = claimGradient(x)
            let gx = pointer(try gradient(x)), gy = pointer(try gradient(y))
            kernel(.backward, "resize") {
                TrainingKernels.resizeBackward(gx: gx, gy: gy, planes: planes, inH: xs.h, inW: xs.w, rows: rows, cols: cols,
                                               block: blk, accumulate: !first, threads: threads)
            }
        case .concat:
            let ys = shapes[y]
            let gy = pointer(try gradient(y))
            var offset = 0
            for x in step.inputs {
                let c = shapes[x].c
                defer { offset += c }
                guard needs[x] else { continue }
                let first = claimGradient(x)
                let gx = pointer(try gradient(x)), o = offset, blk = block
                kernel(.backward, "concat") {
                    TrainingKernels.concatBackward(gx: gx, xChannels: c, gy: gy, yChannels: ys.c, offset: o, batch: ys.n,
                                                   pixels: ys.h * ys.w, block: blk, accumulate: !first, threads: threads)
                }
            }
        case .pool(let p):
            try poolBackward(s, step, algorithm: p.kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_include_padding,
                             kernel: (p.kernel, p.kernel), stride: p.stride, padding: p.padding)
        case .globalAveragePool:
            let xs = shapes[step.inputs[0]]
            try poolBackward(s, step, algorithm: dnnl_pooling_avg_exclude_padding, kernel: (xs.h, xs.w), stride: 1, padding: 0)
        case .linear(let l):
            try linearBackward(s, step, l)
        case .groupNorm(let n, let relu):
            let x = step.inputs[0], shape = shapes[x], blk = block
            let first = needs[x] ? claimGradient(x) : true
            let gx = needs[x] ? pointer(try gradient(x)) : nil
            let gy = pointer(try gradient(y)), xs = pointer(try activation(x))
            let mask: UnsafeMutablePointer<Float>? = relu ? pointer(try activation(y)) : nil
            let stats = groupStatistics[s]!, gamma = store.valuePointer("\(n.key).weight")!
            let dGamma = parameterGradient("\(n.key).weight"), dBeta = parameterGradient("\(n.key).bias")
            kernel(.backward, relu ? "group norm + relu" : "group norm") {
                TrainingKernels.groupNormBackward(gx: gx, accumulate: !first, gy: gy, x: xs, y: mask, statistics: stats, gamma: gamma,
                                                  dGamma: dGamma, dBeta: dBeta, shape: shape, groups: n.groups, block: blk, threads: threads)
            }
        case .scale(let c):
            let x = step.inputs[0], count = MemoryDesc.size(desc[y]!) / 4
            let gy = pointer(try gradient(y)), xs = pointer(try activation(x))
            let factor = store.valuePointer("\(c.key).scale")!, dFactor = parameterGradient("\(c.key).scale")
            let first = needs[x] ? claimGradient(x) : true
            let gx = needs[x] ? pointer(try gradient(x)) : nil
            kernel(.backward, "scale") {
                // d scale = sum gy * x (padding channels are 0 in both); gx (+)= scale * gy.
                var total = 0.0
                for i in 0..<count { total += Double(gy[i]) * Double(xs[i]) }
                let f = factor.pointee
                if let gx { for i in 0..<count { gx[i] = first ? f * gy[i] : gx[i] + f * gy[i] } }
                dFactor.pointee = Float(total)
            }
        case .spatialGather:
            try spatialGatherBackward(s, step, plan: plan)
        case .objectAttention(let a):
            try objectAttentionBackward(s, step, scale: a.scale, plan: plan)
        case .channelDropout:
            try channelDropoutBackward(s, step)
        case .exp:
            let x = step.inputs[0]
            guard needs[x] else { return }
            let first = claimGradient(x)
            let gx = pointer(try gradient(x)), gy = pointer(try gradient(y)), out = pointer(try activation(y))
            let count = MemoryDesc.size(desc[y]!) / 4
            kernel(.backward, "exp") {
                // d e^x = e^x dx: the output is the derivative (0 in padding channels).
                for i in 0..<count { gx[i] = first ? gy[i] * out[i] : gx[i] + gy[i] * out[i] }
            }
        }
    }

    /// Where the weight gradient of a primitive goes: straight into the store when oneDNN
    /// wants the plain layout, else into the shared staging buffer and reordered after.
    mutating func weightGradient(_ md: dnnl_memory_desc_t, key: String, dims: [Int]) throws -> (target: Memory, store: Memory?) {
        let plain = try storeMemory(parameterGradient(key), dims: dims)
        if MemoryDesc.equal(md, plain.desc) { return (plain, nil) }
        let m = try Memory(md, pointer: nil)
        staging.append(m)
        keepAlive.append(m)
        return (m, plain)
    }

    mutating func convolutionBackward(_ s: Int, _ step: TrainingStep, _ c: Conv) throws {
        let x = step.inputs[0], y = step.output
        let geometry = ConvGeometry(c, shapes[x], shapes[y])
        let wdims = weightDims(c, step)
        let oc = shapes[y].c
        let hint = forwardDescs[s]![0]
        // Backward runs the forward's algorithm; direct where oneDNN has no Winograd kernel for a pass.
        var algorithm = algorithms[s] ?? dnnl_convolution_direct
        let key = "\(c.key).weight"
        let stored = try storedMemory(key, gradient: true)
        var src = desc[x]!, diffDst = desc[y]!
        var diffBias = try MemoryDesc.plain([oc])

        /// Backward weights writing `layout`; nil where oneDNN has only its reference kernel for it.
        func weightsDesc(_ layout: dnnl_memory_desc_t, allowReference: Bool = false) throws -> PrimitiveDesc? {
            var diffWeights = layout
            var cd = try withUnsafePointer(to: &diffBias) { bp in
                try c.backwardWeightsDesc(algorithm, src: &src, diffWeights: &diffWeights, diffBias: c.hasBias ? bp : nil,
                                          diffDst: &diffDst, geometry)
            }
            guard let pd = try? primitiveDesc(&cd, hint: hint, "\(c.operationName) backward weights") else { return nil }
            return pd.implementation.hasPrefix("ref") && !allowReference ? nil : pd
        }
        // Straight into the stored gradient when the kernel can write the weights' layout;
        // else into the staging buffer, reordered after.
        var dw = stored
        var wpd = try weightsDesc(stored.desc)
        if wpd == nil, algorithm == dnnl_convolution_winograd, try weightsDesc(try MemoryDesc.any(wdims)) == nil {
            algorithm = dnnl_convolution_direct
            wpd = try weightsDesc(stored.desc)
        }
        if wpd == nil {
            guard let any = try weightsDesc(try MemoryDesc.any(wdims)) ?? weightsDesc(try MemoryDesc.any(wdims), allowReference: true) else {
                throw DNNError.graph("convolution \(c.key): oneDNN has no backward-weights kernel")
            }
            wpd = any
            dw = try Memory(any.md(dnnl_query_diff_weights_md), pointer: nil)
            staging.append(dw)
            keepAlive.append(dw)
        }
        var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, try activation(x)), (DNNL_ARG_DIFF_DST, try gradient(y)), (DNNL_ARG_DIFF_WEIGHTS, dw)]
        if c.hasBias { args.append((DNNL_ARG_DIFF_BIAS, try storeMemory(parameterGradient("\(c.key).bias"), dims: [oc]))) }
        try call(wpd!, "\(c.operationName) backward weights", args, .backward)
        if dw !== stored { try reorder(from: dw, to: stored, .backward, name: "unpack \(c.key).weight gradient") }

        guard schedule.needsGradient[x] else { return }
        algorithm = algorithms[s] ?? dnnl_convolution_direct
        var diffSrc = desc[x]!
        let packed = packedWeights[key]!
        /// Backward data reading `layout`; nil where only the reference kernel would do.
        func dataDesc(_ layout: dnnl_memory_desc_t, allowReference: Bool = false) throws -> PrimitiveDesc? {
            var weights = layout
            var dd = try c.backwardDataDesc(algorithm, diffSrc: &diffSrc, weights: &weights, diffDst: &diffDst, geometry)
            guard let pd = try? primitiveDesc(&dd, hint: hint, "\(c.operationName) backward data") else { return nil }
            return pd.implementation.hasPrefix("ref") && !allowReference ? nil : pd
        }
        var weights = packed
        var dpd = try dataDesc(packed.desc)
        if dpd == nil, algorithm == dnnl_convolution_winograd {
            algorithm = dnnl_convolution_direct
            dpd = try dataDesc(packed.desc)
        }
        if dpd == nil {
            // Backward data wants another weight layout (transposed blocks): packed just before
            // use into the shared staging buffer rather than keeping a second copy of every weight.
            guard let any = try dataDesc(try MemoryDesc.any(wdims)) ?? dataDesc(try MemoryDesc.any(wdims), allowReference: true) else {
                throw DNNError.graph("convolution \(c.key): oneDNN has no backward-data kernel")
            }
            dpd = any
            weights = try Memory(any.md(dnnl_query_weights_md), pointer: nil)
            staging.append(weights)
            keepAlive.append(weights)
            try reorder(from: packed, to: weights, .backward, name: "pack \(c.key).weight for backward")
        }
        let (target, accumulate) = try gradientTarget(s, x)
        try call(dpd!, "\(c.operationName) backward data",
                 [(DNNL_ARG_DIFF_DST, try gradient(y)), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_DIFF_SRC, target)], .backward)
        if accumulate { try accumulateTemp(s, into: x) }
    }

    mutating func batchNormBackward(_ s: Int, _ step: TrainingStep, _ b: BatchNorm, relu: Bool, plan: TrainingPlan) throws {
        let x = step.inputs[0], y = step.output
        let xs = shapes[x]
        var data = desc[x]!, diffData = desc[y]!
        let stats = batchStatistics[s]!
        let scale = try storeMemory(store.valuePointer("\(b.key).weight")!, dims: [xs.c])
        // oneDNN 2.6 checks that the shift is given to backward too (it does not read it).
        let shift = try storeMemory(store.valuePointer("\(b.key).bias")!, dims: [xs.c])
        let runningMean = try storeMemory(store.valuePointer("\(b.key).running_mean")!, dims: [xs.c])
        let runningVariance = try storeMemory(store.valuePointer("\(b.key).running_var")!, dims: [xs.c])
        let diffScale = try storeMemory(parameterGradient("\(b.key).weight"), dims: [xs.c])
        let diffShift = try storeMemory(parameterGradient("\(b.key).bias"), dims: [xs.c])
        // A BN straight on an input that needs no gradient still gives its parameters one.
        let (target, accumulate): (Memory, Bool) = schedule.needsGradient[x] ? try gradientTarget(s, x) : (try memory(tempID(s)), false)
        let sync = plan.batchNormCommunicator
        for eval in [false, true] {
            var bd = dnnl_batch_normalization_desc_t()
            try check(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &diffData, &data, b.eps,
                                                                  Self.batchNormFlags(relu: relu, eval: eval || sync != nil)),
                      "batch norm \(b.key) backward")
            let m = eval ? 1 : 0
            let pd = try primitiveDesc(&bd, hint: forwardDescs[s]![m], "batch norm \(b.key) backward")
            var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, try activation(x)),
                                           (DNNL_ARG_MEAN, eval ? runningMean : stats.mean),
                                           (DNNL_ARG_VARIANCE, eval ? runningVariance : stats.variance),
                                           (DNNL_ARG_DIFF_DST, try gradient(y)), (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift),
                                           (DNNL_ARG_DIFF_SRC, target), (DNNL_ARG_DIFF_SCALE, diffScale), (DNNL_ARG_DIFF_SHIFT, diffShift)]
            if let ws = stats.workspace { args.append((DNNL_ARG_WORKSPACE, ws)) }
            try call(pd, "batch norm \(b.key) backward", args, .backward, mode: m, serial: MemoryDesc.size(data) < Self.serialBytes)
        }
        if let sync {
            // The statistics' own gradient, from the shift and scale gradient sums of every process.
            let dShift = pointer(diffShift), dScale = pointer(diffScale), gamma = pointer(scale)
            let mean = pointer(stats.mean), variance = pointer(stats.variance)
            let dx = pointer(target), source = pointer(try activation(x))
            let (c, blk, threads, eps, key) = (xs.c, block, threads, b.eps, b.key)
            let count = Double(xs.n * xs.h * xs.w * sync.size), correct = schedule.needsGradient[x]
            kernel(.backward, mode: 0, "synchronized batch norm backward") {
                var sums = (0..<c).map { Double(dShift[$0]) } + (0..<c).map { Double(dScale[$0]) }
                SynchronizedBatchNorm.allReduce(&sums, sync, key)
                guard correct else { return }
                SynchronizedBatchNorm.correctGradient(dx, x: source, shape: xs, block: blk, mean: mean, variance: variance, gamma: gamma,
                                                      eps: eps, sums: sums, count: count, threads: threads)
            }
        }
        if accumulate { try accumulateTemp(s, into: x) }
    }

    mutating func poolBackward(_ s: Int, _ step: TrainingStep, algorithm: dnnl_alg_kind_t, kernel: (Int, Int), stride: Int,
                               padding: Int) throws {
        let x = step.inputs[0], y = step.output
        guard schedule.needsGradient[x] else { return }
        var diffSrc = desc[x]!, diffDst = desc[y]!
        var pdesc = dnnl_pooling_v2_desc_t()
        try check(dnnl_pooling_v2_backward_desc_init(&pdesc, algorithm, &diffSrc, &diffDst, [Int64(stride), Int64(stride)],
                                                     [Int64(kernel.0), Int64(kernel.1)], [0, 0], [Int64(padding), Int64(padding)],
                                                     poolPadding(step, kernel: kernel, stride: stride, padding: padding)),
                  "pooling backward")
        let pd = try primitiveDesc(&pdesc, hint: forwardDescs[s]![0], "pooling backward")
        let (target, accumulate) = try gradientTarget(s, x)
        var args: [(Int32, Memory)] = [(DNNL_ARG_DIFF_DST, try gradient(y)), (DNNL_ARG_DIFF_SRC, target)]
        if let ws = batchStatistics[s]?.workspace { args.append((DNNL_ARG_WORKSPACE, ws)) }
        try call(pd, "pooling backward", args, .backward)
        if accumulate { try accumulateTemp(s, into: x) }
    }

    mutating func linearBackward(_ s: Int, _ step: TrainingStep, _ l: Linear) throws {
        let x = step.inputs[0], y = step.output
        let wdims = linearWeightDims(step)
        let hint = forwardDescs[s]![0]
        var src = desc[x]!, diffDst = desc[y]!
        var diffWeights = try MemoryDesc.any(wdims)
        var diffBias = try MemoryDesc.plain([wdims[0]])
        var wd = dnnl_inner_product_desc_t()
        try withUnsafeMutablePointer(to: &diffBias) { bp in
            try check(dnnl_inner_product_backward_weights_desc_init(&wd, &src, &diffWeights, l.hasBias ? bp : nil, &diffDst),
                      "linear \(l.key) backward weights")
        }
        let wpd = try primitiveDesc(&wd, hint: hint, "linear \(l.key) backward weights")
        let (dw, dwStore) = try weightGradient(wpd.md(dnnl_query_diff_weights_md), key: "\(l.key).weight", dims: wdims)
        var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, try activation(x)), (DNNL_ARG_DIFF_DST, try gradient(y)), (DNNL_ARG_DIFF_WEIGHTS, dw)]
        if l.hasBias { args.append((DNNL_ARG_DIFF_BIAS, try storeMemory(parameterGradient("\(l.key).bias"), dims: [wdims[0]]))) }
        try call(wpd, "linear \(l.key) backward weights", args, .backward)
        if let dwStore { try reorder(from: dw, to: dwStore, .backward, name: "unpack \(l.key).weight gradient") }

        guard schedule.needsGradient[x] else { return }
        var diffSrc = desc[x]!
        var weights = try MemoryDesc.any(wdims)
        var dd = dnnl_inner_product_desc_t()
        try check(dnnl_inner_product_backward_data_desc_init(&dd, &diffSrc, &weights, &diffDst), "linear \(l.key) backward data")
        let dpd = try primitiveDesc(&dd, hint: hint, "linear \(l.key) backward data")
        var packed = packedWeights["\(l.key).weight"]!
        if !MemoryDesc.equal(dpd.md(dnnl_query_weights_md), packed.desc) {
            let md = dpd.md(dnnl_query_weights_md)
            let other = try Memory(md, pointer: ownedPointer(bytes: MemoryDesc.size(md)))
            keepAlive.append(other)
            try reorder(from: try storeMemory(store.valuePointer("\(l.key).weight")!, dims: wdims), to: other, .prepare,
                        name: "pack \(l.key).weight for backward")
            packed = other
        }
        let (target, accumulate) = try gradientTarget(s, x)
        try call(dpd, "linear \(l.key) backward data",
                 [(DNNL_ARG_DIFF_DST, try gradient(y)), (DNNL_ARG_WEIGHTS, packed), (DNNL_ARG_DIFF_SRC, target)], .backward)
        if accumulate { try accumulateTemp(s, into: x) }
    }
}
