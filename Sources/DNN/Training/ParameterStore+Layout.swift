import CDNNL

/// A parameter stored in a oneDNN layout: its descriptor and the plain dims it converts from
/// (OIhw, or GOIhw for grouped convolutions; the same bytes as PyTorch's (O, I/g, kh, kw)).
struct PackedLayout {
    let desc: dnnl_memory_desc_t
    let dims: [Int]
    /// A transposed convolution's weight: oneDNN's (O, I, kh, kw) over PyTorch's (I, O, kh, kw) bytes.
    var transposed = false

    /// The checkpoint's (PyTorch's) layout of the same values.
    func plain() throws -> dnnl_memory_desc_t {
        transposed ? try MemoryDesc.make(dims, dnnl_iohw) : try MemoryDesc.plain(dims)
    }
}

extension ParameterStore {
    /// The plain (PyTorch-layout) tensor of an entry's buffer `p` (values, gradients or an
    /// optimizer's moments, all stored alike).
    func plain(_ p: UnsafePointer<Float>, _ e: Entry) throws -> Tensor {
        guard let layout = layouts[e.key] else { return Tensor(shape: e.shape, scalars: Array(UnsafeBufferPointer(start: p, count: e.count))) }
        var out = Tensor(zeros: e.shape)
        try out.scalars.withUnsafeMutableBytes { raw in
            try Self.reorder(from: layout.desc, UnsafeMutableRawPointer(mutating: p), to: try layout.plain(), raw.baseAddress!)
        }
        return out
    }

    /// Writes a plain tensor into an entry's buffer `p`, packing it if the entry is packed.
    func store(_ t: Tensor, into p: UnsafeMutablePointer<Float>, _ e: Entry) throws {
        guard let layout = layouts[e.key] else {
            t.scalars.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: e.count) }
            return
        }
        var copy = t.scalars
        try copy.withUnsafeMutableBytes { raw in
            try Self.reorder(from: try layout.plain(), raw.baseAddress!, to: layout.desc, UnsafeMutableRawPointer(p))
        }
    }

    /// One oneDNN reorder, run on the compute thread.
    static func reorder(from a: dnnl_memory_desc_t, _ pa: UnsafeMutableRawPointer, to b: dnnl_memory_desc_t, _ pb: UnsafeMutableRawPointer) throws {
        try ComputeThread.shared.run {
            let src = try Memory(a, pointer: pa), dst = try Memory(b, pointer: pb)
            var pdh: dnnl_primitive_desc_t?
            var s = a, d = b
            try check(dnnl_reorder_primitive_desc_create(&pdh, &s, Engine.shared.engine, &d, Engine.shared.engine, nil), "parameter reorder")
            let pd = PrimitiveDesc(pdh!)
            let r = try Primitive(pd.handle, name: "parameter reorder")
            var args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: src.handle), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: dst.handle)]
            try check(dnnl_primitive_execute(r.handle, Engine.shared.stream, 2, &args), "parameter reorder")
            try check(dnnl_stream_wait(Engine.shared.stream), "stream_wait")
        }
    }
}
