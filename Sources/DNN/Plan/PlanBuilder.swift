import CDNNL
import Foundation

extension Plan {
    /// Lays out memory for a fused graph and emits its steps.
    struct Builder {
        let graph: Graph
        let shapes: [Shape4]
        let ops: [FusedOp]
        let block = Engine.shared.channelBlock
        let options: Plan.Options
        /// How activations are stored between the input and the outputs.
        let element: Element
        /// Memory descriptor of each materialized value.
        var desc: [Int: dnnl_memory_desc_t] = [:]
        var memory: [Int: Memory] = [:]
        let inputValue: Int
        /// Blocked copy of the input for ops other than convolutions (made only if needed).
        var blockedInput: Int?
        let inputMemory: Memory
        var outputMemories: [Memory] = []
        var arena: UnsafeMutableRawPointer
        var arenaBytes: Int
        /// Values whose sum post-op reads a residual that must first be copied into dst.
        var copyResidual: Set<Int> = []
        var steps: [Plan.Step] = []
        /// What each step is, by op type (for `Plan.profile`).
        var labels: [String] = []
        /// Each step's name: the op and the layer's checkpoint key for convolutions (`Plan.stepNames`).
        var names: [String] = []
        /// Multiply-adds x 2 of each step (convolutions and linear layers; 0 for the rest).
        var stepFlops: [Double] = []
        var keepAlive: [AnyObject] = []
        /// Steps whose primitive needs scratch memory, and its descriptor.
        var scratchpads: [(step: Int, desc: dnnl_memory_desc_t)] = []
        /// Engine kernels' scratch (`requestKernelScratch`), set by `shareScratchpad`.
        let kernelScratch = Plan.KernelScratch()
        var kernelScratchBytes = 0
        /// Packs weights into the chosen primitives' layouts.
        var packer = WeightPacker()
        /// (step name, oneDNN implementation) of every primitive, for diagnostics.
        var implementations: [(String, String)] = []
        /// With `options.int8`: the int8 convolutions and how values are stored (all NHWC).
        let int8: Int8Layout?
        /// Calibration: records the largest |x| of chosen values as the plan runs.
        let observer: RangeObserver?
        /// Packed weights shared with other plans of the graph (nil: this plan packs its own).
        let shared: PackedWeights?
        /// Where the arena and scratchpad come from when plans share them (see `Workspace`).
        let workspace: Workspace?

        init(graph: Graph, shapes: [Shape4], input: Shape4, options: Plan.Options, observer: RangeObserver? = nil,
             shared: PackedWeights? = nil, workspace: Workspace? = nil) throws {
            self.options = options
            self.shared = shared
            self.workspace = workspace
            self.element = options.bf16 ? .bf16 : .f32
            self.observer = observer
            if options.bf16 && !hasNativeBF16 { throw DNNError.graph("bf16 needs a CPU with AVX512-BF16; this one has none (use fp32)") }
            if options.bf16 && options.int8 != nil { throw DNNError.graph("int8 and bf16 exclude each other (give one precision)") }
            if options.int8 != nil, graph.nodes.contains(where: { if case .groupNorm = $0.op { true } else { false } }) {
                throw DNNError.graph("int8 plans do not support group norm yet (use fp32 or bf16)")
            }
            self.graph = graph
            self.shapes = shapes
            self.ops = graph.fuse()
            guard let first = ops.first, case .input = first.kind else { throw DNNError.graph("graph has no input") }
            inputValue = first.output
            inputMemory = try Memory(try MemoryDesc.plain(input.dims), pointer: nil)
            desc[inputValue] = inputMemory.desc
            var int8: Int8Layout?
            if let table = options.int8 {
                int8 = try Int8Layout(ops: ops, graph: graph, inputValue: first.output, table: table, firstFreeID: graph.nodes.count + 1)
            }
            self.int8 = int8

            // Ops read the input through a blocked copy, except convolutions over a few channels
            // (an image), which oneDNN's kernels read straight from NCHW.
            let blockedInputID = graph.nodes.count
            var readsInput = false
            var onlyConvolutionsReadInput = true
            for op in ops where op.inputs.contains(inputValue) {
                // A resize to the input's size (the segmenter's logits) reads no pixel of it.
                if case .resize = op.kind, op.inputs[0] != inputValue { continue }
                if case .conv = op.kind, op.inputs[0] == inputValue {} else { onlyConvolutionsReadInput = false }
                if case .conv = op.kind, op.inputs[0] == inputValue, input.c <= Self.plainInputChannels, !options.bf16, int8 == nil { continue }
                readsInput = true
            }
            if readsInput {
                blockedInput = blockedInputID
                // A bf16 image (few channels) stays NCHW: oneDNN's bf16 kernels read it that way.
                desc[blockedInputID] = options.bf16 && input.c <= Self.plainInputChannels && onlyConvolutionsReadInput
                    ? try MemoryDesc.plain(input.dims, element) : try Self.activation(input, element, int8: int8, value: nil)
            }

            // Output descriptors.
            for op in ops.dropFirst() {
                let s = shapes[op.output]
                switch op.kind {
                case .linear: desc[op.output] = try MemoryDesc.plain([s.n, s.c], element)
                case .relu, .add: desc[op.output] = desc[Self.source(op.inputs[0], inputValue, blockedInput)]!
                default: desc[op.output] = try Self.activation(s, element, int8: int8, value: op.output)
                }
                if let copy = int8?.copies[op.output] { desc[copy.id] = try MemoryDesc.make(s.dims, dnnl_nhwc, type: copy.q.type) }
            }

            // Lifetimes: the last step that reads each value; outputs live to the end.
            var lastUse: [Int: Int] = [:]
            for (k, op) in ops.enumerated() {
                lastUse[op.output] = max(lastUse[op.output] ?? k, k)
                for v in Self.reads(op, int8) { lastUse[v] = k }
            }
            for v in graph.outputs { lastUse[v.id] = Int.max }

            var planner = MemoryPlanner()
            let desc = self.desc, inputValue = self.inputValue
            var copyResidual = Set<Int>()
            if let b = blockedInput { planner.allocate(b, bytes: MemoryDesc.size(desc[b]!)) }
            for (k, op) in ops.enumerated().dropFirst() {
                let out = op.output
                let bytes = MemoryDesc.size(desc[out]!)
                /// An input that dies at this step and may be overwritten by the output.
                func reusable(_ v: Int) -> Bool {
                    v != inputValue && lastUse[v] == k && MemoryDesc.equal(desc[v]!, desc[out]!)
                }
                var donor: Int?
                switch op.kind {
                case .conv(_, _, let postOps) where postOps.contains(.sum):
                    if reusable(op.inputs[1]) { donor = op.inputs[1] } else { copyResidual.insert(out) }
                case .add, .resizeAdd, .relu, .affine, .groupNorm, .scale, .exp, .identity:
                    donor = op.inputs.first { reusable($0) }
                default: break
                }
                if let d = donor { planner.share(out, with: d) } else { planner.allocate(out, bytes: bytes) }
                if let copy = int8?.copies[out] { planner.allocate(copy.id, bytes: MemoryDesc.size(desc[copy.id]!)) }
                for v in Self.reads(op, int8) where lastUse[v] == k && v != donor && v != inputValue { planner.release(v) }
                if lastUse[out] == k { planner.release(out) }
            }
            self.copyResidual = copyResidual
            let (offsets, total) = planner.layout()
            arenaBytes = total
            // Refuse before touching memory: a huge input must be an error, not a machine brought down.
            let available = SystemMemory.available
            guard UInt64(total) < available / 10 * 9 else {
                throw DNNError.graph(String(format: "input %@ needs %.1f GB of activations; this machine has %.1f GB available now (use a smaller batch or image)",
                                        input.description, Double(total) / 1e9, Double(available) / 1e9))
            }
            let buffer = workspace?.arena(atLeast: total) ?? Workspace.Buffer(bytes: total)
            keepAlive.append(buffer)
            arena = buffer.pointer
            for (v, slot) in planner.slotOf {
                memory[v] = try Memory(desc[v]!, pointer: arena + offsets[slot])
            }
            memory[inputValue] = inputMemory
        }

        /// Up to this many input channels a convolution reads the plain NCHW input directly.
        static let plainInputChannels = 4

        /// The layout of an activation: blocked (nChw16c) in fp32 and bf16 plans; NHWC, as
        /// integers where `int8` stores `value` so, in int8 plans.
        static func activation(_ s: Shape4, _ element: Element, int8: Int8Layout?, value: Int?) throws -> dnnl_memory_desc_t {
            guard let int8 else { return try MemoryDesc.blocked(s, element) }
            return try MemoryDesc.make(s.dims, dnnl_nhwc, type: value.flatMap { int8.stored[$0]?.type } ?? dnnl_f32)
        }

        /// The values a step reads: its inputs, and for an int8 convolution the integer copy of its input.
        static func reads(_ op: FusedOp, _ int8: Int8Layout?) -> Set<Int> {
            var values = Set(op.inputs)
            if let int8, int8.convs.contains(op.output), let copy = int8.copies[op.inputs[0]] { values.insert(copy.id) }
            return values
        }

        /// The value an op reads for `v`: the blocked input copy stands in for the input.
        static func source(_ v: Int, _ input: Int, _ blocked: Int?) -> Int {
            v == input ? (blocked ?? input) : v
        }
        func source(_ v: Int) -> Int { Self.source(v, inputValue, blockedInput) }

        func pointer(_ v: Int) -> UnsafeMutableRawPointer {
            var p: UnsafeMutableRawPointer?
            dnnl_memory_get_data_handle(memory[v]!.handle, &p)
            return p!
        }

        /// `kind` names the op type for profiles (default: the name's first word).
        mutating func primitive(_ pd: PrimitiveDesc, _ name: String, _ args: [(Int32, Memory)], kind: String? = nil,
                                flops: Double = 0) throws {
            let p = try Primitive(pd.handle, name: name)
            implementations.append((name, pd.implementation))
            labels.append("\(kind ?? String(name.prefix { $0 != " " })) [\(pd.implementation)]")
            names.append(name)
            stepFlops.append(flops)
            let scratch = pd.md(dnnl_query_scratchpad_md)
            if MemoryDesc.size(scratch) > 0 { scratchpads.append((steps.count, scratch)) }
            keepAlive.append(p)
            args.forEach { keepAlive.append($0.1) }
            steps.append(.primitive(p, args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.handle) }))
        }

        /// An engine kernel (not oneDNN) as a step; `label` may name its implementation in
        /// brackets, else "[engine]" is added; `name` is the step's name (default: the label).
        mutating func kernel(_ label: String, name: String? = nil, flops: Double = 0, _ body: @escaping () -> Void) {
            steps.append(.kernel(body))
            labels.append(label.hasSuffix("]") ? label : label + " [engine]")
            names.append(name ?? label)
            stepFlops.append(flops)
        }

        /// Asks for `bytes` of scratch for an engine kernel; it gets the scratchpad the
        /// primitives share (steps run one at a time), through `kernelScratch` once emitted.
        mutating func requestKernelScratch(_ bytes: Int) { kernelScratchBytes = max(kernelScratchBytes, bytes) }

        mutating func reorder(from: Memory, to: Memory) throws {
            var pd: dnnl_primitive_desc_t?
            var s = from.desc, d = to.desc
            try check(dnnl_reorder_primitive_desc_create(&pd, &s, Engine.shared.engine, &d, Engine.shared.engine, nil), "reorder")
            try primitive(PrimitiveDesc(pd!), "reorder", [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, to)])
        }

        /// Emits every step; packs weights into `plan`-owned memory.
        mutating func emit(parameters p: inout [String: Tensor], threads: Int, plan: Plan) throws {
            defer { packer.finish() }
            if let b = blockedInput { try reorder(from: inputMemory, to: memory[b]!) }
            observe(inputValue, threads: threads)
            for op in ops.dropFirst() {
                defer { observe(op.output, threads: threads) }
                let out = op.output
                let s = shapes[out]
                let ins = op.inputs.map(source)
                switch op.kind {
                case .input: break
                case .conv(let node, let bn, let postOps) where int8?.convs.contains(out) == true:
                    try emitInt8Conv(node: node, batchNorm: bn, postOps: postOps, op: op, p: &p, plan: plan)
                case .conv(let node, let bn, let postOps):
                    if copyResidual.contains(out) { try reorder(from: memory[op.inputs[1]]!, to: memory[out]!) }
                    if try !emitWinogradBF16(node: node, batchNorm: bn, postOps: postOps, x: op.inputs[0], src: ins[0], out: out,
                                             threads: threads, p: &p, plan: plan) {
                        try emitConv(node: node, batchNorm: bn, postOps: postOps, x: op.inputs[0], src: ins[0], out: out, threads: threads,
                                     p: &p, plan: plan)
                    }
                case .add(let relu):
                    let (d, a, b, e) = (pointer(out), pointer(ins[0]), pointer(ins[1]), element)
                    let count = MemoryDesc.size(desc[out]!) / e.size
                    kernel(relu ? "add+relu" : "add") { Kernels.add(e, dst: d, a, b, count: count, relu: relu, threads: threads) }
                case .relu:
                    let (d, a, e) = (pointer(out), pointer(ins[0]), element)
                    let count = MemoryDesc.size(desc[out]!) / e.size
                    kernel("relu") { Kernels.relu(e, dst: d, src: a, count: count, threads: threads) }
                case .resize(let node):
                    try emitResize(node: node, base: nil, x: ins[0], out: out, relu: false, threads: threads)
                case .resizeAdd(let node, let relu):
                    try emitResize(node: node, base: ins[0], x: ins[1], out: out, relu: relu, threads: threads)
                case .affine(let node, let relu):
                    guard case .batchNorm(let b) = graph.nodes[node].op else { fatalError("affine without batch norm") }
                    let (scale, shift) = Self.batchNormAffine(&p, b, graph)
                    let (d, x, e) = (pointer(out), pointer(ins[0]), element)
                    // NHWC (int8 plans) is the blocked layout with one block of all C channels.
                    let blk = int8 == nil ? block : s.c
                    let blocks = (s.c + blk - 1) / blk, planes = s.n * blocks, pixels = s.h * s.w
                    kernel(relu ? "batch norm+relu" : "batch norm") {
                        Kernels.affine(e, dst: d, src: x, scale: scale, shift: shift, planes: planes, blocks: blocks,
                                       pixels: pixels, block: blk, relu: relu, threads: threads)
                    }
                case .concat where int8 == nil && op.inputs.allSatisfy({ shapes[$0].c % block == 0 }):
                    // Whole channel blocks: each input is one run of bytes per image in the output.
                    let bytes = op.inputs.map { MemoryDesc.size(desc[$0]!) / s.n }
                    let (d, sources) = (pointer(out), ins.map { UnsafeRawPointer(pointer($0)) })
                    kernel("concat") { Kernels.concatenate(dst: d, sources: sources, bytesPerImage: bytes, batch: s.n, threads: threads) }
                case .concat:
                    var mds = ins.map { desc[$0]! }
                    var dst = desc[out]!
                    var pd: dnnl_primitive_desc_t?
                    let attr = try Attributes()
                    try check(dnnl_concat_primitive_desc_create(&pd, &dst, Int32(mds.count), 1, &mds, attr.handle, Engine.shared.engine), "concat")
                    withExtendedLifetime(attr) {}
                    try primitive(PrimitiveDesc(pd!), "concat",
                                  ins.enumerated().map { (DNNL_ARG_MULTIPLE_SRC + Int32($0.offset), memory[$0.element]!) } + [(DNNL_ARG_DST, memory[out]!)])
                case .pool(let pool):
                    try emitPool(x: ins[0], in: shapes[op.inputs[0]], out: out,
                                 algorithm: pool.kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_include_padding,
                                 kernel: (pool.kernel, pool.kernel), stride: pool.stride, padding: pool.padding)
                case .globalAveragePool:
                    let x = shapes[op.inputs[0]]
                    try emitPool(x: ins[0], in: x, out: out, algorithm: dnnl_pooling_avg_exclude_padding,
                                 kernel: (x.h, x.w), stride: 1, padding: 0)
                case .linear(let node):
                    try emitLinear(node: node, x: ins[0], out: out, p: &p, plan: plan)
                case .groupNorm(let node, let relu):
                    guard case .groupNorm(let g) = graph.nodes[node].op else { fatalError("not a group norm") }
                    let gamma = Self.take(&p, "\(g.key).weight", graph).scalars, beta = Self.take(&p, "\(g.key).bias", graph).scalars
                    let (d, x, e, blk) = (pointer(out), pointer(ins[0]), element, block)
                    kernel(relu ? "group norm+relu" : "group norm") {
                        Kernels.groupNorm(e, dst: d, src: x, gamma: gamma, beta: beta, shape: s, groups: g.groups, eps: g.eps,
                                          block: blk, relu: relu, threads: threads)
                    }
                case .scale(let node):
                    guard case .scale(let c) = graph.nodes[node].op else { fatalError("not a scale") }
                    let factor = Self.scalar(&p, c.key, graph)
                    let (d, x, e) = (pointer(out), pointer(ins[0]), element)
                    let count = MemoryDesc.size(desc[out]!) / e.size
                    kernel("scale") { Kernels.map(e, dst: d, src: x, count: count, threads: threads) { $0 * factor } }
                case .spatialGather:
                    try emitSpatialGather(op, plan: plan)
                case .objectAttention(let node):
                    guard case .objectAttention(let a) = graph.nodes[node].op else { fatalError("not an attention") }
                    try emitObjectAttention(op, scale: a.scale, plan: plan)
                case .identity:
                    let (d, x, bytes) = (pointer(out), pointer(ins[0]), MemoryDesc.size(desc[out]!))
                    if d != x { kernel("dropout (identity)") { d.copyMemory(from: x, byteCount: bytes) } }
                case .exp:
                    let (d, x, e, blk) = (pointer(out), pointer(ins[0]), element, int8 == nil ? block : s.c)
                    let count = MemoryDesc.size(desc[out]!) / e.size
                    // Padding channels of the blocked layout stay zero (e^0 would make them 1).
                    kernel("exp") {
                        Kernels.map(e, dst: d, src: x, count: count, threads: threads) { Foundation.exp($0) }
                        Kernels.zeroPadding(e, d, shape: s, block: blk)
                    }
                }
                if let copy = int8?.copies[out] { try reorder(from: memory[out]!, to: memory[copy.id]!, scale: 1 / copy.q.scale) }
            }
            try shareScratchpad(plan: plan)
            for (k, v) in graph.outputs.enumerated() {
                let s = shapes[v.id]
                let dims = desc[v.id]!.ndims == 2 ? [s.n, s.c] : s.dims
                let md = dims.count == 4 && graph.channelsLastOutputs.contains(k) ? try MemoryDesc.make(dims, dnnl_nhwc) : try MemoryDesc.plain(dims)
                let m = try Memory(md, pointer: nil)
                outputMemories.append(m)
                try reorder(from: memory[source(v.id)]!, to: m)
            }
        }

        /// One scratch buffer, as large as the largest need, passed to every primitive that asks.
        mutating func shareScratchpad(plan: Plan) throws {
            let bytes = max(scratchpads.map({ MemoryDesc.size($0.desc) }).max() ?? 0, kernelScratchBytes)
            guard bytes > 0 else { return }
            let buffer: UnsafeMutableRawPointer
            if let workspace {
                let shared = workspace.scratchpad(atLeast: bytes)
                keepAlive.append(shared)
                buffer = shared.pointer
            } else {
                buffer = plan.own(bytes: bytes)
            }
            kernelScratch.pointer = buffer
            for (step, md) in scratchpads {
                guard case .primitive(let p, var args) = steps[step] else { continue }
                let m = try Memory(md, pointer: buffer)
                keepAlive.append(m)
                args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: m.handle))
                steps[step] = .primitive(p, args)
            }
        }

        /// Takes a parameter out of `p` (freeing it once packed), or copies it when other nodes
        /// read it too.
        static func take(_ p: inout [String: Tensor], _ key: String, _ graph: Graph) -> Tensor {
            graph.sharedKeys.contains(key) ? p[key]! : p.removeValue(forKey: key)!
        }

        /// The value of a scalar parameter (`<key>.scale`).
        static func scalar(_ p: inout [String: Tensor], _ key: String, _ graph: Graph) -> Float {
            take(&p, "\(key).scale", graph).scalars[0]
        }

        /// BN as y = x * scale + shift with scale = gamma / sqrt(var + eps), shift = beta - mean * scale;
        /// takes the BN's four tensors out of `p`.
        static func batchNormAffine(_ p: inout [String: Tensor], _ b: BatchNorm, _ graph: Graph) -> (scale: [Float], shift: [Float]) {
            let gamma = take(&p, "\(b.key).weight", graph).scalars, beta = take(&p, "\(b.key).bias", graph).scalars
            let mean = take(&p, "\(b.key).running_mean", graph).scalars
            let variance = take(&p, "\(b.key).running_var", graph).scalars
            let scale = (0..<gamma.count).map { gamma[$0] / (variance[$0] + b.eps).squareRoot() }
            let shift = (0..<gamma.count).map { beta[$0] - mean[$0] * scale[$0] }
            return (scale, shift)
        }
    }
}
