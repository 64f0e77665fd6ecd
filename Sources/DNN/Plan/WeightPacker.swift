import CDNNL

/// Reorders plain (row-major) weights into the layouts the chosen convolutions want, once, at
/// plan time. This is most of a plan's compile time (Winograd transforms above all), so:
/// - one reorder primitive per distinct (source, target) layout pair: HRNet repeats a few conv
///   shapes dozens of times (every BasicBlock of a branch is alike);
/// - one scratch buffer for all of them, where oneDNN would allocate and page-fault a fresh
///   one per call (the Winograd reorder's is 36/9 of the weights);
/// - Winograd weights are transformed here (`WinogradWeights`), straight from OIHW into memory
///   nobody zeroes first.
struct WeightPacker {
    private var cache: [(source: dnnl_memory_desc_t, target: dnnl_memory_desc_t, pd: PrimitiveDesc, primitive: Primitive, scratch: Int)] = []
    private var scratch: UnsafeMutableRawPointer?
    private var scratchBytes = 0

    /// Packs `scalars` (shape `dims`, row-major) into new memory of layout `target`, owned by `plan`.
    mutating func pack(_ scalars: [Float], dims: [Int], into target: dnnl_memory_desc_t, plan: Plan) throws -> Memory {
        let layout = dims.count == 4 && dims[2] == 3 && dims[3] == 3 ? WinogradWeights(target: target, outputs: dims[0], inputs: dims[1]) : nil
        // Our Winograd transform writes every byte; oneDNN's reorders may skip padding.
        let storage = plan.own(bytes: MemoryDesc.size(target), zeroed: layout == nil)
        let packed = try Memory(target, pointer: storage)
        if let layout {
            scalars.withUnsafeBufferPointer { layout.transform(oihw: $0.baseAddress!, into: storage.assumingMemoryBound(to: Float.self)) }
            return packed
        }
        // oneDNN's Winograd weight transform (for layouts WinogradWeights does not write) walks
        // output channels innermost: from OIHW that is a stride of I x 9 floats per step, from
        // HWIO a contiguous vector.
        let winograd = target.format_kind == dnnl_format_kind_wino && dims.count == 4
        let source = winograd ? try MemoryDesc.make(dims, dnnl_hwio) : try MemoryDesc.plain(dims)
        let (primitive, scratchNeeded) = try reorder(from: source, to: target)
        if scratchNeeded > scratchBytes {
            scratch?.deallocate()
            scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchNeeded, alignment: 64)
            scratchBytes = scratchNeeded
        }
        func run(_ weights: UnsafeRawPointer) throws {
            // oneDNN only reads the source; its C API takes a mutable pointer.
            let user = try Memory(source, pointer: UnsafeMutableRawPointer(mutating: weights))
            var args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: user.handle), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: packed.handle)]
            var scratchMemory: Memory?
            if scratchNeeded > 0 {
                let scratchDesc = primitive.pd.md(dnnl_query_scratchpad_md)
                scratchMemory = try Memory(scratchDesc, pointer: scratch!)
                args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchMemory!.handle))
            }
            try check(dnnl_primitive_execute(primitive.primitive.handle, Engine.shared.stream, Int32(args.count), &args), "weights reorder")
            try check(dnnl_stream_wait(Engine.shared.stream), "stream_wait")
            withExtendedLifetime((user, scratchMemory)) {}
        }
        if winograd {
            try Self.hwio(scalars, dims: dims).withUnsafeBytes { try run($0.baseAddress!) }
        } else {
            try scalars.withUnsafeBytes { try run($0.baseAddress!) }
        }
        return packed
    }

    /// The reorder from `source` to `target` (made once per distinct pair) and its scratch bytes.
    private mutating func reorder(from source: dnnl_memory_desc_t, to target: dnnl_memory_desc_t) throws
        -> (primitive: (pd: PrimitiveDesc, primitive: Primitive), scratch: Int) {
        if let known = cache.first(where: { MemoryDesc.equal($0.source, source) && MemoryDesc.equal($0.target, target) }) {
            return ((known.pd, known.primitive), known.scratch)
        }
        let attr = try Attributes()  // user scratchpad mode
        var pdh: dnnl_primitive_desc_t?
        var s = source, d = target
        try check(dnnl_reorder_primitive_desc_create(&pdh, &s, Engine.shared.engine, &d, Engine.shared.engine, attr.handle), "weights reorder")
        let pd = PrimitiveDesc(pdh!)
        let primitive = try Primitive(pd.handle, name: "weights reorder")
        let bytes = MemoryDesc.size(pd.md(dnnl_query_scratchpad_md))
        cache.append((source, target, pd, primitive, bytes))
        return ((pd, primitive), bytes)
    }

    /// OIHW weights transposed to HWIO (output channels innermost).
    static func hwio(_ w: [Float], dims: [Int]) -> [Float] {
        let (o, i, hw) = (dims[0], dims[1], dims[2] * dims[3])
        return [Float](unsafeUninitializedCapacity: w.count) { out, count in
            w.withUnsafeBufferPointer { w in
                for oc in 0..<o {
                    for ic in 0..<i {
                        let from = (oc * i + ic) * hw
                        for k in 0..<hw { out[(k * i + ic) * o + oc] = w[from + k] }
                    }
                }
            }
            count = w.count
        }
    }

    /// Frees the scratch buffer (the primitives go with the packer).
    mutating func finish() {
        scratch?.deallocate()
        scratch = nil
        scratchBytes = 0
    }
}
