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
    /// A reorder primitive made once, and the scratch bytes it needs.
    private struct Reorder {
        let source: dnnl_memory_desc_t, target: dnnl_memory_desc_t
        let primitive: Primitive
        let scratch: dnnl_memory_desc_t
    }
    private var cache: [Reorder] = []
    private var scratch: UnsafeMutableRawPointer?
    private var scratchBytes = 0

    /// Packs `scalars` (shape `dims`, row-major) into new memory of layout `target`, owned by `plan`
    /// (or given: `storage`, zeroed, of the target's size).
    mutating func pack(_ scalars: [Float], dims: [Int], into target: dnnl_memory_desc_t, plan: Plan,
                       storage given: UnsafeMutableRawPointer? = nil) throws -> Memory {
        let layout = dims.count == 4 && dims[2] == 3 && dims[3] == 3 ? WinogradWeights(target: target, outputs: dims[0], inputs: dims[1]) : nil
        // Our Winograd transform writes every byte; oneDNN's reorders may skip padding.
        let storage = given ?? plan.own(bytes: MemoryDesc.size(target), zeroed: layout == nil)
        let packed = try Memory(target, pointer: storage)
        if let layout {
            scalars.withUnsafeBufferPointer { layout.transform(oihw: $0.baseAddress!, into: storage.assumingMemoryBound(to: Float.self)) }
            return packed
        }
        let source = try MemoryDesc.plain(dims)
        let reorder = try self.reorder(from: source, to: target)
        let scratchNeeded = MemoryDesc.size(reorder.scratch)
        if scratchNeeded > scratchBytes {
            scratch?.deallocate()
            scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchNeeded, alignment: 64)
            scratchBytes = scratchNeeded
        }
        try scalars.withUnsafeBytes { weights in
            // oneDNN only reads the source; its C API takes a mutable pointer.
            let user = try Memory(source, pointer: UnsafeMutableRawPointer(mutating: weights.baseAddress!))
            var args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: user.handle), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: packed.handle)]
            var scratchMemory: Memory?
            if scratchNeeded > 0 {
                scratchMemory = try Memory(reorder.scratch, pointer: scratch!)
                args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchMemory!.handle))
            }
            try check(dnnl_primitive_execute(reorder.primitive.handle, Engine.shared.stream, Int32(args.count), &args), "weights reorder")
            try check(dnnl_stream_wait(Engine.shared.stream), "stream_wait")
            withExtendedLifetime((user, scratchMemory)) {}
        }
        return packed
    }

    /// The reorder from `source` to `target`, made once per distinct pair.
    private mutating func reorder(from source: dnnl_memory_desc_t, to target: dnnl_memory_desc_t) throws -> Reorder {
        if let known = cache.first(where: { MemoryDesc.equal($0.source, source) && MemoryDesc.equal($0.target, target) }) {
            return known
        }
        let attr = try Attributes()  // user scratchpad mode
        var pdh: dnnl_primitive_desc_t?
        var s = source, d = target
        try check(dnnl_reorder_primitive_desc_create(&pdh, &s, Engine.shared.engine, &d, Engine.shared.engine, attr.handle), "weights reorder")
        let pd = PrimitiveDesc(pdh!)
        let made = Reorder(source: source, target: target, primitive: try Primitive(pd.handle, name: "weights reorder"),
                           scratch: pd.md(dnnl_query_scratchpad_md))
        cache.append(made)
        return made
    }

    /// Frees the scratch buffer (the primitives go with the packer).
    mutating func finish() {
        scratch?.deallocate()
        scratch = nil
        scratchBytes = 0
    }
}
