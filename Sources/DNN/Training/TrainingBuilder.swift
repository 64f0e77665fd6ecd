import CDNNL
import Foundation

extension TrainingPlan {
    /// Lays out the arena for both passes and emits the steps of a `TrainingPlan`.
    ///
    /// Buffers: the activation of value v (id v), its gradient (id N + v), and a temporary for
    /// step s (id 2N + s) where a oneDNN primitive's result must be added to a gradient that
    /// already holds another consumer's share.
    struct Builder {
        let graph: Graph
        let shapes: [Shape4]
        let steps: [TrainingStep]
        let schedule: TrainingSchedule
        /// Set once the convolution layouts are known (`convolutionLayouts`).
        var store: ParameterStore!
        let threads: Int
        let options: TrainingPlan.Options
        /// The convolution algorithm of each convolution step (forward and both backward).
        var algorithms: [Int: dnnl_alg_kind_t] = [:]
        let block = Engine.shared.channelBlock
        let inputValue: Int
        let inputGradient: Bool
        var desc: [Int: dnnl_memory_desc_t] = [:]
        var slotOf: [Int: Int] = [:]
        var offsets: [Int] = []
        var arenaBytes = 0
        var arena: UnsafeMutableRawPointer?
        var memories: [Int: Memory] = [:]
        var keepAlive: [AnyObject] = []
        var implementations: [(String, String)] = []
        /// Primitives that need scratch memory (filled in once every primitive exists).
        var scratchpads: [(mode: Int?, forward: Bool, index: Int, desc: dnnl_memory_desc_t)] = []
        /// Weight-gradient staging memories (one buffer shared by all, set at the end).
        var staging: [Memory] = []
        /// Forward primitive descriptors, the hints for their backward ones (by step index, mode).
        var forwardDescs: [Int: [PrimitiveDesc]] = [:]
        /// Packed forward weights by parameter key (backward data reuses them when the layout agrees).
        var packedWeights: [String: Memory] = [:]
        /// Per-BN saved batch statistics and ReLU workspace (by step index).
        var batchStatistics: [Int: (mean: Memory, variance: Memory, workspace: Memory?)] = [:]
        /// OCR steps' plain fp32 copies of what their backward reads (`TrainingBuilder+Attention`).
        var attentionSaves: [Int: AttentionSaves] = [:]
        /// Group norm steps' saved means and reciprocal deviations (2 x N x groups floats).
        var groupStatistics: [Int: UnsafeMutablePointer<Float>] = [:]
        /// Gradients that already received a contribution during backward emission.
        var started = Set<Int>()
        /// Shared parameters (read by several nodes) whose gradient a backward step already writes.
        var claimedParameters = Set<String>()
        /// Where the second and later readers of a shared parameter write their gradient, added
        /// to the parameter's gradient after the last backward step.
        var sharedGradientParts: [(gradient: UnsafeMutablePointer<Float>, part: UnsafeMutablePointer<Float>, count: Int)] = []
        var prepare: [Step] = []
        var forward: [[Step]] = [[], []]
        var backward: [[Step]] = [[], []]
        /// The plan being built (owns every buffer the builder allocates).
        var owner: TrainingPlan?

        var N: Int { graph.nodes.count }
        func gradientID(_ v: Int) -> Int { N + v }
        func tempID(_ s: Int) -> Int { 2 * N + s }

        init(graph: Graph, shapes: [Shape4], input: Shape4, inputGradient: Bool, threads: Int, options: TrainingPlan.Options) throws {
            self.graph = graph
            self.options = options
            self.shapes = shapes
            self.threads = threads
            self.inputGradient = inputGradient
            steps = graph.trainingSteps(fuseAddReLU: options.fuseAddReLU)
            guard let first = steps.first, case .input = first.kind else { throw DNNError.graph("graph has no input") }
            inputValue = first.output
            schedule = TrainingSchedule(graph: graph, steps: steps, inputGradient: inputGradient)
            for step in steps {
                let s = shapes[step.output]
                switch step.kind {
                case .linear: desc[step.output] = try MemoryDesc.plain([s.n, s.c])
                case .relu, .add: desc[step.output] = desc[step.inputs[0]]!
                case .conv, .batchNorm, .resize, .concat, .pool, .globalAveragePool, .groupNorm, .scale, .exp, .spatialGather,
                     .objectAttention, .channelDropout:
                    if desc[step.inputs[0]].map({ $0.ndims == 2 }) ?? false {
                        throw DNNError.graph("node \(step.node) (\(graph.nodes[step.node].op.name)) reads a linear layer's output; only ReLU, add and outputs may")
                    }
                    desc[step.output] = try MemoryDesc.blocked(s)
                case .input:
                    // An image (a few channels) read only by convolutions stays NCHW: oneDNN's
                    // jit kernels read it directly, while a padded blocked copy sends them to ref:any
                    // (20x slower: the segmentation trainer's stem, whose image also sizes the
                    // resize of the logits to the labels, which reads no pixel of it).
                    let onlyConvolutions = steps.allSatisfy { t in
                        guard t.inputs.contains(step.output) else { return true }
                        switch t.kind {
                        case .conv: return true
                        case .resize: return t.inputs[0] != step.output
                        default: return false
                        }
                    }
                    desc[step.output] = s.c <= Plan.Builder.plainInputChannels && onlyConvolutions
                        ? try MemoryDesc.plain(s.dims) : try MemoryDesc.blocked(s)
                }
            }
            try planMemory()
        }

        /// Whether step `s`'s backward needs a temporary for input `x` (a primitive's result
        /// added to a gradient another consumer already wrote, or a BN whose input needs none).
        func needsTemp(_ s: Int) -> Bool {
            let step = steps[s]
            guard schedule.needsGradient[step.output] else { return false }
            let t = schedule.backwardTime(s)
            switch step.kind {
            case .conv, .pool, .globalAveragePool, .linear:
                let x = step.inputs[0]
                return schedule.needsGradient[x] && schedule.gradientBirth[x] != t
            case .batchNorm:
                let x = step.inputs[0]
                return !schedule.needsGradient[x] || schedule.gradientBirth[x] != t
            default: return false
            }
        }

        /// The value whose buffer an op's result may take over at time `t`, if any.
        private mutating func planMemory() throws {
            var planner = MemoryPlanner()
            var births: [Int: [(id: Int, bytes: Int, donor: Int?)]] = [:]
            var deaths: [Int: [Int]] = [:]
            let S = steps.count
            let sched = schedule
            func bytes(_ v: Int) -> Int { MemoryDesc.size(desc[v]!) }
            // Activations.
            for (s, step) in steps.enumerated() {
                let out = step.output
                var donor: Int?
                switch step.kind {
                case .relu, .add:
                    donor = step.inputs.first { $0 != inputValue && sched.activationDeath[$0] == s && MemoryDesc.equal(desc[$0]!, desc[out]!) }
                default: break
                }
                births[s, default: []].append((out, bytes(out), donor))
                deaths[sched.activationDeath[out], default: []].append(out)
            }
            // Gradients of outputs arrive at the seed time.
            for v in Set(graph.outputs.map(\.id)) {
                births[sched.seedTime, default: []].append((gradientID(v), bytes(v), nil))
            }
            // Gradients born in backward, possibly in place of the gradient of the step's output.
            for (s, step) in steps.enumerated() where sched.needsGradient[step.output] {
                let t = sched.backwardTime(s)
                var donated = false
                for x in Set(step.differentiableInputs) where sched.needsGradient[x] && sched.gradientBirth[x] == t {
                    var donor: Int?
                    switch step.kind {
                    case .relu, .add, .batchNorm:
                        if !donated, x != inputValue, MemoryDesc.equal(desc[x]!, desc[step.output]!) {
                            donor = gradientID(step.output)
                            donated = true
                        }
                    default: break
                    }
                    births[t, default: []].append((gradientID(x), bytes(x), donor))
                }
                if needsTemp(s) {
                    births[t, default: []].append((tempID(s), bytes(step.inputs[0]), nil))
                    deaths[t, default: []].append(tempID(s))
                }
            }
            for v in 0..<N where sched.gradientDeath[v] >= 0 && (sched.needsGradient[v] || graph.outputs.contains(where: { $0.id == v })) {
                deaths[sched.gradientDeath[v], default: []].append(gradientID(v))
            }
            var donors = Set<Int>()
            for t in 0...(2 * S + 2) {
                for b in births[t] ?? [] {
                    if let d = b.donor, slotOf(planner, d) != nil {
                        planner.share(b.id, with: d)
                        donors.insert(d)
                    } else {
                        planner.allocate(b.id, bytes: b.bytes)
                    }
                }
                for id in deaths[t] ?? [] where !donors.contains(id) { planner.release(id) }
            }
            slotOf = planner.slotOf
            let (o, total) = planner.layout()
            offsets = o
            arenaBytes = total
            let available = SystemMemory.available
            guard UInt64(total) < available / 10 * 9 else {
                throw DNNError.graph(String(format: "training on %@ needs %.1f GB of activations and gradients; this machine has %.1f GB available now (use a smaller batch or image)",
                                        shapes[inputValue].description, Double(total) / 1e9, Double(available) / 1e9))
            }
        }

        private func slotOf(_ planner: MemoryPlanner, _ id: Int) -> Int? { planner.slotOf[id] }

        /// The memory of an arena buffer (activation, gradient or temporary).
        mutating func memory(_ id: Int) throws -> Memory {
            if let m = memories[id] { return m }
            guard let slot = slotOf[id], let arena else { fatalError("buffer \(id) has no slot") }
            let v = id < N ? id : id < 2 * N ? id - N : steps[id - 2 * N].inputs[0]
            let m = try Memory(desc[v]!, pointer: arena + offsets[slot])
            memories[id] = m
            return m
        }
        mutating func activation(_ v: Int) throws -> Memory { try memory(v) }
        mutating func gradient(_ v: Int) throws -> Memory { try memory(gradientID(v)) }

        func pointer(_ m: Memory) -> UnsafeMutablePointer<Float> {
            var p: UnsafeMutableRawPointer?
            dnnl_memory_get_data_handle(m.handle, &p)
            return p!.assumingMemoryBound(to: Float.self)
        }

        /// A plan-owned, zeroed buffer.
        func ownedPointer(bytes: Int) -> UnsafeMutableRawPointer { owner!.allocate(bytes: bytes) }

        /// A memory over a plan-owned, zeroed buffer.
        mutating func ownedMemory(_ md: dnnl_memory_desc_t, plan: TrainingPlan) throws -> Memory {
            let m = try Memory(md, pointer: plan.allocate(bytes: MemoryDesc.size(md)))
            keepAlive.append(m)
            return m
        }
        /// A parameter's stored value or gradient as a oneDNN memory (packed or plain as stored).
        mutating func storedMemory(_ key: String, gradient: Bool) throws -> Memory {
            let e = store.entry(key)!
            let p = gradient ? parameterGradient(key) : store.values + e.offset
            let md = try store.layouts[key]?.desc ?? MemoryDesc.plain(e.shape)
            let m = try Memory(md, pointer: UnsafeMutableRawPointer(p))
            keepAlive.append(m)
            return m
        }

        /// Where a backward step writes a parameter's gradient: the store's, or for the second
        /// and later readers of a shared parameter (a head shared by pyramid levels) a part of
        /// their own, added to the store's after the last backward step.
        mutating func parameterGradient(_ key: String) -> UnsafeMutablePointer<Float> {
            let e = store.entry(key)!
            let gradient = store.gradients + e.offset
            guard graph.sharedKeys.contains(key), !claimedParameters.insert(key).inserted else { return gradient }
            let part = owner!.allocate(bytes: max(e.count, 16) * 4).assumingMemoryBound(to: Float.self)
            sharedGradientParts.append((gradient, part, e.count))
            return part
        }

        /// A plain fp32 memory over the parameter store (values or gradients).
        mutating func storeMemory(_ p: UnsafeMutablePointer<Float>, dims: [Int]) throws -> Memory {
            let m = try Memory(try MemoryDesc.plain(dims), pointer: UnsafeMutableRawPointer(p))
            keepAlive.append(m)
            return m
        }

        // MARK: - Steps

        enum Pass { case prepare, forward, backward }

        /// Creates the primitive of `pd` and appends its call to `pass` (both modes unless `mode`).
        /// A `serial` call runs on one thread: for small work (weight reorders, BN on small maps)
        /// a fork and join of the OpenMP team costs more than the work, and on a loaded machine
        /// each of its barriers waits for a descheduled thread.
        mutating func call(_ pd: PrimitiveDesc, _ name: String, _ args: [(Int32, Memory)], _ pass: Pass, mode: Int? = nil,
                           serial: Bool = false) throws {
            let p = try Primitive(pd.handle, name: name)
            implementations.append((name, pd.implementation))
            keepAlive.append(p)
            args.forEach { keepAlive.append($0.1) }
            // Profile key: the op kind, pass and implementation (not the layer).
            let kind = name.split(separator: " ").prefix { !$0.contains(".") && $0 != "pack" && $0 != "unpack" }.joined(separator: " ")
            let key = "\(pass) \(name.hasPrefix("pack") ? "pack weights" : name.hasPrefix("unpack") ? "unpack gradient" : kind)"
                + (name.contains("backward") ? " backward" : "") + (name.contains("weights") && name.contains("backward") ? " weights" : "")
                + (name.contains("data") ? " data" : "") + " [\(pd.implementation)]"
            let step = Step.call(p, args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.handle) }, key)
            let scratch = pd.md(dnnl_query_scratchpad_md)
            let serial = serial && threads > 1
            func append(_ list: inout [Step], mode m: Int?, forward: Bool) {
                if serial { list.append(.threads(1)) }
                if MemoryDesc.size(scratch) > 0 { scratchpads.append((m, forward, list.count, scratch)) }
                list.append(step)
                if serial { list.append(.threads(Int32(threads))) }
            }
            for m in mode.map({ [$0] }) ?? [0, 1] {
                switch pass {
                case .prepare: if m == 0 { append(&prepare, mode: nil, forward: true) }
                case .forward: append(&forward[m], mode: m, forward: true)
                case .backward: append(&backward[m], mode: m, forward: false)
                }
            }
        }

        mutating func kernel(_ pass: Pass, mode: Int? = nil, _ name: String, _ body: @escaping () -> Void) {
            let key = "\(pass) \(name) [swift]"
            for m in mode.map({ [$0] }) ?? [0, 1] {
                switch pass {
                case .prepare: if m == 0 { prepare.append(.kernel(key, body)) }
                case .forward: forward[m].append(.kernel(key, body))
                case .backward: backward[m].append(.kernel(key, body))
                }
            }
        }

        /// Bytes below which a reorder or a batch norm runs on one thread (`call`'s `serial`):
        /// the weights of most convolutions, BN on maps of a few thousand values per channel block.
        static let serialBytes = 1 << 19

        mutating func reorder(from: Memory, to: Memory, _ pass: Pass, name: String = "reorder") throws {
            var pd: dnnl_primitive_desc_t?
            var s = from.desc, d = to.desc
            let attr = try Attributes()
            try check(dnnl_reorder_primitive_desc_create(&pd, &s, Engine.shared.engine, &d, Engine.shared.engine, attr.handle), name)
            try call(PrimitiveDesc(pd!), name, [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, to)], pass,
                     serial: MemoryDesc.size(to.desc) < Self.serialBytes)
        }

        /// Whether this is the first backward step to write `x`'s gradient (it then writes; later
        /// ones add to it); marks it written.
        mutating func claimGradient(_ x: Int) -> Bool {
            started.insert(x).inserted
        }

        /// Where step `s`'s backward writes its result for input `x`, and whether that result
        /// must then be added to the gradient (another consumer wrote it first).
        mutating func gradientTarget(_ s: Int, _ x: Int) throws -> (memory: Memory, accumulate: Bool) {
            if claimGradient(x) { return (try gradient(x), false) }
            return (try memory(tempID(s)), true)
        }

        /// Adds the temporary of step `s` into the gradient of `x`.
        mutating func accumulateTemp(_ s: Int, into x: Int) throws {
            let dst = pointer(try gradient(x)), src = pointer(try memory(tempID(s)))
            let count = MemoryDesc.size(desc[x]!) / 4, threads = threads
            kernel(.backward, "accumulate") { TrainingKernels.accumulate(dst, src, count: count, copy: false, threads: threads) }
        }

        /// Emits every step into `plan`.
        mutating func emit(plan: TrainingPlan) throws {
            owner = plan
            defer { owner = nil }
            arena = plan.allocate(bytes: arenaBytes)
            let input = shapes[inputValue]
            // Forward.
            let userInput = try Memory(try MemoryDesc.plain(input.dims), pointer: UnsafeMutableRawPointer(plan.inputBuffer))
            keepAlive.append(userInput)
            try reorder(from: userInput, to: try activation(inputValue), .forward)
            for (s, step) in steps.enumerated() { try emitForward(s, step, plan: plan) }
            let outputCopyStart = forward.map(\.count)
            for v in graph.outputs {
                let shape = shapes[v.id]
                let p = plan.allocate(bytes: shape.count * 4).assumingMemoryBound(to: Float.self)
                plan.outputBuffers.append(p)
                let dims = desc[v.id]!.ndims == 2 ? [shape.n, shape.c] : shape.dims
                let m = try Memory(try MemoryDesc.plain(dims), pointer: UnsafeMutableRawPointer(p))
                keepAlive.append(m)
                try reorder(from: try activation(v.id), to: m, .forward)
            }
            // Backward: the output gradients arrive, then each step in reverse.
            let backwardStart = backward.map(\.count)
            for v in graph.outputs {
                let shape = shapes[v.id]
                let p = plan.allocate(bytes: shape.count * 4).assumingMemoryBound(to: Float.self)
                plan.outputGradientBuffers.append(p)
                let dims = desc[v.id]!.ndims == 2 ? [shape.n, shape.c] : shape.dims
                let m = try Memory(try MemoryDesc.plain(dims), pointer: UnsafeMutableRawPointer(p))
                keepAlive.append(m)
                if started.contains(v.id) {
                    // The same value listed twice as an output: add the second gradient.
                    let t = try Memory(desc[v.id]!, pointer: plan.allocate(bytes: MemoryDesc.size(desc[v.id]!)))
                    keepAlive.append(t)
                    try reorder(from: m, to: t, .backward)
                    let dst = pointer(try gradient(v.id)), src = pointer(t), count = MemoryDesc.size(desc[v.id]!) / 4
                    kernel(.backward, "accumulate") { TrainingKernels.accumulate(dst, src, count: count, copy: false, threads: 1) }
                } else {
                    started.insert(v.id)
                    try reorder(from: m, to: try gradient(v.id), .backward)
                }
            }
            let seedEnd = backward.map(\.count)
            for s in steps.indices.reversed() where schedule.needsGradient[steps[s].output] {
                try emitBackward(s, steps[s], plan: plan)
            }
            if !sharedGradientParts.isEmpty {
                let parts = sharedGradientParts, threads = threads
                kernel(.backward, "shared parameter gradients") {
                    for p in parts { TrainingKernels.accumulate(p.gradient, p.part, count: p.count, copy: false, threads: threads) }
                }
            }
            let backwardEnd = backward.map(\.count)
            if inputGradient {
                let p = plan.allocate(bytes: input.count * 4).assumingMemoryBound(to: Float.self)
                plan.inputGradientBuffer = p
                let m = try Memory(try MemoryDesc.plain(input.dims), pointer: UnsafeMutableRawPointer(p))
                keepAlive.append(m)
                if started.contains(inputValue) {
                    try reorder(from: try gradient(inputValue), to: m, .backward)
                } else {
                    // Nothing reaches the input: its gradient is zero (the buffer stays zeroed).
                }
            }
            try shareScratchpad(plan: plan)
            try shareStaging(plan: plan)
            // Split the emitted lists into the plan's phases.
            plan.prepare = prepare
            plan.forwardSteps = (0..<2).map { Array(forward[$0][..<outputCopyStart[$0]]) }
            plan.outputCopy = Array(forward[0][outputCopyStart[0]...])
            plan.seedSteps = Array(backward[0][backwardStart[0]..<seedEnd[0]])
            plan.backwardSteps = (0..<2).map { Array(backward[$0][seedEnd[$0]..<backwardEnd[$0]]) }
            plan.inputGradientCopy = Array(backward[0][backwardEnd[0]...])
            plan.keepAlive = keepAlive
        }

        /// One scratch buffer, as large as the largest need, given to every primitive that asks.
        mutating func shareScratchpad(plan: TrainingPlan) throws {
            guard let bytes = scratchpads.map({ MemoryDesc.size($0.desc) }).max() else { return }
            let buffer = plan.allocate(bytes: bytes)
            for sp in scratchpads {
                let m = try Memory(sp.desc, pointer: buffer)
                keepAlive.append(m)
                let arg = dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: m.handle)
                func patch(_ list: inout [Step]) {
                    guard case .call(let p, var args, let name) = list[sp.index] else { return }
                    args.append(arg)
                    list[sp.index] = .call(p, args, name)
                }
                if let mode = sp.mode {
                    if sp.forward { patch(&forward[mode]) } else { patch(&backward[mode]) }
                } else {
                    patch(&prepare)
                }
            }
        }

        mutating func shareStaging(plan: TrainingPlan) throws {
            guard let bytes = staging.map({ MemoryDesc.size($0.desc) }).max() else { return }
            let buffer = plan.allocate(bytes: bytes)
            for m in staging { try m.setPointer(buffer) }
        }
    }
}
