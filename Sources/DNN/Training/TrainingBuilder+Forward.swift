import CDNNL
import Foundation

extension TrainingPlan.Builder {
    /// Weight dims as oneDNN takes them (a leading group dimension for grouped convolutions).
    func weightDims(_ c: Conv, _ step: TrainingStep) -> [Int] {
        let oc = shapes[step.output].c, ic = shapes[step.inputs[0]].c
        let dims = [oc, ic / c.groups, c.kernel.h, c.kernel.w]
        return c.groups == 1 ? dims : [c.groups, oc / c.groups] + dims.dropFirst()
    }

    /// A primitive descriptor for `opDesc` (any oneDNN op descriptor), with a user scratchpad
    /// and, for backward, the forward descriptor as hint.
    func primitiveDesc<D>(_ opDesc: inout D, hint: PrimitiveDesc? = nil, _ name: String) throws -> PrimitiveDesc {
        let attr = try Attributes()
        var pdh: dnnl_primitive_desc_t?
        try withUnsafeMutablePointer(to: &opDesc) { d in
            try check(dnnl_primitive_desc_create(&pdh, UnsafeRawPointer(d), attr.handle, Engine.shared.engine, hint?.handle), name)
        }
        withExtendedLifetime(attr) {}
        return PrimitiveDesc(pdh!)
    }

    mutating func emitForward(_ s: Int, _ step: TrainingStep, plan: TrainingPlan) throws {
        let out = step.output
        let threads = threads
        switch step.kind {
        case .input:
            break
        case .conv(let c):
            try convolutionForward(s, step, c, plan: plan)
        case .batchNorm(let b, let relu):
            try batchNormForward(s, step, b, relu: relu, plan: plan)
        case .relu:
            let d = pointer(try activation(out)), a = pointer(try activation(step.inputs[0]))
            let count = MemoryDesc.size(desc[out]!) / 4
            kernel(.forward, "relu") { Kernels.relu(.f32, dst: d, src: a, count: count, threads: threads) }
        case .add(let relu):
            let d = pointer(try activation(out))
            let a = pointer(try activation(step.inputs[0])), b = pointer(try activation(step.inputs[1]))
            let count = MemoryDesc.size(desc[out]!) / 4
            kernel(.forward, relu ? "add + relu" : "add") { TrainingKernels.add(d, a, b, count: count, relu: relu, threads: threads) }
        case .resize(let r):
            let xs = shapes[step.inputs[0]], ys = shapes[out]
            let rows = Kernels.ResizeAxis(inSize: xs.h, outSize: ys.h, mode: r.mode)
            let cols = Kernels.ResizeAxis(inSize: xs.w, outSize: ys.w, mode: r.mode)
            let planes = xs.n * ((xs.c + block - 1) / block), blk = block
            let d = pointer(try activation(out)), x = pointer(try activation(step.inputs[0]))
            kernel(.forward, "resize") {
                Kernels.resize(.f32, dst: d, src: x, base: nil, planes: planes, inH: xs.h, inW: xs.w, rows: rows, cols: cols,
                               block: blk, relu: false, threads: threads)
            }
        case .concat:
            var mds = step.inputs.map { desc[$0]! }
            var dst = desc[out]!
            var pdh: dnnl_primitive_desc_t?
            let attr = try Attributes()
            try check(dnnl_concat_primitive_desc_create(&pdh, &dst, Int32(mds.count), 1, &mds, attr.handle, Engine.shared.engine), "concat")
            withExtendedLifetime(attr) {}
            var args: [(Int32, Memory)] = []
            for (k, x) in step.inputs.enumerated() { args.append((DNNL_ARG_MULTIPLE_SRC + Int32(k), try activation(x))) }
            args.append((DNNL_ARG_DST, try activation(out)))
            try call(PrimitiveDesc(pdh!), "concat", args, .forward)
        case .pool(let p):
            try poolForward(s, step, algorithm: p.kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_include_padding,
                            kernel: (p.kernel, p.kernel), stride: p.stride, padding: p.padding, plan: plan)
        case .globalAveragePool:
            let xs = shapes[step.inputs[0]]
            try poolForward(s, step, algorithm: dnnl_pooling_avg_exclude_padding, kernel: (xs.h, xs.w), stride: 1, padding: 0, plan: plan)
        case .linear(let l):
            try linearForward(s, step, l, plan: plan)
        case .groupNorm(let n, let relu):
            let shape = shapes[out], blk = block
            let stats = ownedPointer(bytes: 2 * shape.n * n.groups * 4).assumingMemoryBound(to: Float.self)
            groupStatistics[s] = stats
            let d = pointer(try activation(out)), x = pointer(try activation(step.inputs[0]))
            let gamma = store.valuePointer("\(n.key).weight")!, beta = store.valuePointer("\(n.key).bias")!
            // The parameters change between steps: read them at each run.
            kernel(.forward, relu ? "group norm + relu" : "group norm") {
                Kernels.groupNorm(.f32, dst: d, src: x, gamma: Array(UnsafeBufferPointer(start: gamma, count: shape.c)),
                                  beta: Array(UnsafeBufferPointer(start: beta, count: shape.c)), shape: shape, groups: n.groups,
                                  eps: n.eps, block: blk, relu: relu, threads: threads, statistics: stats)
            }
        case .scale(let c):
            let d = pointer(try activation(out)), x = pointer(try activation(step.inputs[0]))
            let factor = store.valuePointer("\(c.key).scale")!
            let count = MemoryDesc.size(desc[out]!) / 4
            kernel(.forward, "scale") { let f = factor.pointee; Kernels.map(.f32, dst: d, src: x, count: count, threads: threads) { $0 * f } }
        case .spatialGather:
            try spatialGatherForward(s, step, plan: plan)
        case .objectAttention(let a):
            try objectAttentionForward(s, step, scale: a.scale, plan: plan)
        case .channelDropout(let d):
            try channelDropoutForward(s, step, d, plan: plan)
        case .exp:
            let d = pointer(try activation(out)), x = pointer(try activation(step.inputs[0]))
            let count = MemoryDesc.size(desc[out]!) / 4, shape = shapes[out], blk = block
            kernel(.forward, "exp") {
                Kernels.map(.f32, dst: d, src: x, count: count, threads: threads) { Foundation.exp($0) }
                Kernels.zeroPadding(.f32, d, shape: shape, block: blk)
            }
        }
    }

    /// Creates every convolution's forward primitive descriptor and returns the weight layouts
    /// they read, so the parameter store can keep the weights that way.
    mutating func convolutionLayouts() throws -> [String: PackedLayout] {
        var layouts: [String: PackedLayout] = [:]
        for (s, step) in steps.enumerated() {
            guard case .conv(let c) = step.kind else { continue }
            var (pd, algorithm) = try convolutionForwardDesc(step, c)
            let key = "\(c.key).weight"
            if let first = layouts[key], !MemoryDesc.equal(first.desc, pd.md(dnnl_query_weights_md)) {
                // A shared weight is stored once, in its first reader's layout: a later reader
                // (another pyramid level: another map size, so maybe Winograd) reads that layout.
                pd = try convolutionForwardDesc(step, c, algorithm: dnnl_convolution_direct, weights: first.desc)
                algorithm = dnnl_convolution_direct
                guard MemoryDesc.equal(first.desc, pd.md(dnnl_query_weights_md)) else {
                    throw DNNError.graph("convolution \(c.key): its readers need different weight layouts")
                }
            }
            forwardDescs[s] = [pd]
            algorithms[s] = algorithm
            keepAlive.append(pd)
            if layouts[key] == nil {
                layouts[key] = PackedLayout(desc: pd.md(dnnl_query_weights_md), dims: weightDims(c, step), transposed: c.transposed)
            }
        }
        return layouts
    }

    /// Whether a convolution may run as Winograd F(4x4, 3x3) under the plan's options.
    func winogradCandidate(_ step: TrainingStep, _ c: Conv) -> Bool {
        let ys = shapes[step.output], xs = shapes[step.inputs[0]]
        return options.winograd && !c.transposed && c.kernel == (3, 3) && c.stride == (1, 1) && c.dilation == (1, 1) && c.groups == 1
            && ys.h * ys.w >= options.winogradMinimumPixels && min(xs.c, ys.c) >= options.winogradMinimumChannels
    }

    /// The forward descriptor: Winograd where allowed and oneDNN has a kernel for it, else direct.
    func convolutionForwardDesc(_ step: TrainingStep, _ c: Conv) throws -> (PrimitiveDesc, dnnl_alg_kind_t) {
        if winogradCandidate(step, c), let pd = try? convolutionForwardDesc(step, c, algorithm: dnnl_convolution_winograd),
           pd.implementation.contains("wino") {
            return (pd, dnnl_convolution_winograd)
        }
        return (try convolutionForwardDesc(step, c, algorithm: dnnl_convolution_direct), dnnl_convolution_direct)
    }

    /// - Parameter weights: the weights' layout (nil: oneDNN's choice).
    func convolutionForwardDesc(_ step: TrainingStep, _ c: Conv, algorithm: dnnl_alg_kind_t,
                                weights layout: dnnl_memory_desc_t? = nil) throws -> PrimitiveDesc {
        let x = step.inputs[0], y = step.output
        let geometry = ConvGeometry(c, shapes[x], shapes[y])
        let wdims = weightDims(c, step)
        let oc = shapes[y].c
        var src = desc[x]!, dst = desc[y]!
        var weights = try layout ?? MemoryDesc.any(wdims)
        var bias = try MemoryDesc.plain([oc])
        var cd = try withUnsafePointer(to: &bias) { bp in
            try c.forwardDesc(dnnl_forward_training, algorithm, src: &src, weights: &weights, bias: c.hasBias ? bp : nil,
                              dst: &dst, geometry)
        }
        return try primitiveDesc(&cd, c.operationName)
    }

    mutating func convolutionForward(_ s: Int, _ step: TrainingStep, _ c: Conv, plan: TrainingPlan) throws {
        let x = step.inputs[0], y = step.output
        let oc = shapes[y].c
        let pd = forwardDescs[s]![0]
        // The store keeps the weights in this primitive's layout: it reads them in place.
        let packed = try storedMemory("\(c.key).weight", gradient: false)
        packedWeights["\(c.key).weight"] = packed
        var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, try activation(x)), (DNNL_ARG_WEIGHTS, packed), (DNNL_ARG_DST, try activation(y))]
        if c.hasBias { args.append((DNNL_ARG_BIAS, try storeMemory(store.valuePointer("\(c.key).bias")!, dims: [oc]))) }
        try call(pd, c.operationName, args, .forward)
    }

    /// oneDNN flags of a BN: learnable scale and shift, fused ReLU, running statistics in eval mode.
    static func batchNormFlags(relu: Bool, eval: Bool) -> UInt32 {
        dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | (relu ? dnnl_fuse_norm_relu.rawValue : 0)
            | (eval ? dnnl_use_global_stats.rawValue : 0)
    }

    mutating func batchNormForward(_ s: Int, _ step: TrainingStep, _ b: BatchNorm, relu: Bool, plan: TrainingPlan) throws {
        let x = step.inputs[0], y = step.output
        let xs = shapes[x]
        var data = desc[x]!
        var pds: [PrimitiveDesc] = []
        // Synchronized: train mode normalizes with the statistics of every process's batch, given to oneDNN.
        let sync = plan.batchNormCommunicator
        for eval in [false, true] {
            var bd = dnnl_batch_normalization_desc_t()
            try check(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, &data, b.eps,
                                                                 Self.batchNormFlags(relu: relu, eval: eval || sync != nil)),
                      "batch norm \(b.key)")
            pds.append(try primitiveDesc(&bd, "batch norm \(b.key)"))
        }
        forwardDescs[s] = pds
        keepAlive.append(contentsOf: pds)
        let channels = try MemoryDesc.plain([xs.c])
        let mean = try ownedMemory(channels, plan: plan), variance = try ownedMemory(channels, plan: plan)
        let workspace = relu ? try ownedMemory(pds[0].md(dnnl_query_workspace_md), plan: plan) : nil
        batchStatistics[s] = (mean, variance, workspace)
        let scale = try storeMemory(store.valuePointer("\(b.key).weight")!, dims: [xs.c])
        let shift = try storeMemory(store.valuePointer("\(b.key).bias")!, dims: [xs.c])
        let runningMean = try storeMemory(store.valuePointer("\(b.key).running_mean")!, dims: [xs.c])
        let runningVariance = try storeMemory(store.valuePointer("\(b.key).running_var")!, dims: [xs.c])
        let rm = pointer(runningMean), rv = pointer(runningVariance), bm = pointer(mean), bv = pointer(variance)
        var samples = xs.n * xs.h * xs.w
        if let sync {
            let source = pointer(try activation(x)), blk = block, threads = threads, key = b.key
            samples *= sync.size
            let count = Double(samples)
            kernel(.forward, mode: 0, "synchronized batch statistics") {
                var sums = SynchronizedBatchNorm.channelSums(source, shape: xs, block: blk, threads: threads)
                SynchronizedBatchNorm.allReduce(&sums, sync, key)
                SynchronizedBatchNorm.statistics(sums, channels: xs.c, count: count, mean: bm, variance: bv)
            }
        }
        for (m, pd) in pds.enumerated() {
            var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, try activation(x)), (DNNL_ARG_DST, try activation(y)),
                                           (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift),
                                           (DNNL_ARG_MEAN, m == 0 ? mean : runningMean),
                                           (DNNL_ARG_VARIANCE, m == 0 ? variance : runningVariance)]
            if let workspace { args.append((DNNL_ARG_WORKSPACE, workspace)) }
            try call(pd, "batch norm \(b.key)" + (relu ? " + relu" : ""), args, .forward, mode: m,
                     serial: MemoryDesc.size(data) < Self.serialBytes)
        }
        // Train mode: fold the batch statistics into the running ones (PyTorch's update).
        let c = xs.c
        kernel(.forward, mode: 0, "running statistics") { [unowned plan] in
            TrainingKernels.updateRunningStatistics(mean: rm, variance: rv, batchMean: bm, batchVariance: bv, channels: c,
                                                    samples: samples, momentum: plan.batchNormMomentum)
        }
    }

    /// Pooling geometry (right padding by PyTorch's floor rule).
    func poolPadding(_ s: TrainingStep, kernel: (Int, Int), stride: Int, padding: Int) -> [Int64] {
        let xs = shapes[s.inputs[0]], ys = shapes[s.output]
        return [
            Plan.Builder.rightPadding(in: xs.h, out: ys.h, kernel: kernel.0, stride: stride, dilation: 1, left: padding),
            Plan.Builder.rightPadding(in: xs.w, out: ys.w, kernel: kernel.1, stride: stride, dilation: 1, left: padding),
        ]
    }

    mutating func poolForward(_ s: Int, _ step: TrainingStep, algorithm: dnnl_alg_kind_t, kernel: (Int, Int), stride: Int,
                              padding: Int, plan: TrainingPlan) throws {
        var src = desc[step.inputs[0]]!, dst = desc[step.output]!
        var pdesc = dnnl_pooling_v2_desc_t()
        try check(dnnl_pooling_v2_forward_desc_init(&pdesc, dnnl_forward_training, algorithm, &src, &dst,
                                                    [Int64(stride), Int64(stride)], [Int64(kernel.0), Int64(kernel.1)], [0, 0],
                                                    [Int64(padding), Int64(padding)],
                                                    poolPadding(step, kernel: kernel, stride: stride, padding: padding)), "pooling")
        let pd = try primitiveDesc(&pdesc, "pooling")
        forwardDescs[s] = [pd]
        keepAlive.append(pd)
        var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, try activation(step.inputs[0])), (DNNL_ARG_DST, try activation(step.output))]
        let ws = pd.md(dnnl_query_workspace_md)
        if MemoryDesc.size(ws) > 0 {
            let workspace = try ownedMemory(ws, plan: plan)
            batchStatistics[s] = (workspace, workspace, workspace)
            args.append((DNNL_ARG_WORKSPACE, workspace))
        }
        try call(pd, "pooling", args, .forward)
    }

    /// Linear weights as oneDNN sees them: (O, C, H, W) over the input's flattened features.
    func linearWeightDims(_ step: TrainingStep) -> [Int] {
        let xs = shapes[step.inputs[0]]
        return [shapes[step.output].c, xs.c, xs.h, xs.w]
    }

    mutating func linearForward(_ s: Int, _ step: TrainingStep, _ l: Linear, plan: TrainingPlan) throws {
        let x = step.inputs[0], y = step.output
        let wdims = linearWeightDims(step)
        var src = desc[x]!, dst = desc[y]!
        var weights = try MemoryDesc.any(wdims)
        var bias = try MemoryDesc.plain([wdims[0]])
        var ipd = dnnl_inner_product_desc_t()
        try withUnsafeMutablePointer(to: &bias) { bp in
            try check(dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_training, &src, &weights, l.hasBias ? bp : nil, &dst),
                      "linear \(l.key)")
        }
        let pd = try primitiveDesc(&ipd, "linear \(l.key)")
        forwardDescs[s] = [pd]
        keepAlive.append(pd)
        let packed = try ownedMemory(pd.md(dnnl_query_weights_md), plan: plan)
        try reorder(from: try storeMemory(store.valuePointer("\(l.key).weight")!, dims: wdims), to: packed, .prepare,
                    name: "pack \(l.key).weight")
        packedWeights["\(l.key).weight"] = packed
        var args: [(Int32, Memory)] = [(DNNL_ARG_SRC, try activation(x)), (DNNL_ARG_WEIGHTS, packed), (DNNL_ARG_DST, try activation(y))]
        if l.hasBias { args.append((DNNL_ARG_BIAS, try storeMemory(store.valuePointer("\(l.key).bias")!, dims: [wdims[0]]))) }
        try call(pd, "linear \(l.key)", args, .forward)
    }
}
