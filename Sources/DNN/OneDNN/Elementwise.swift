import CDNNL

/// Elementwise math on plain float buffers by oneDNN's jit kernels (vectorized, on the plans'
/// compute thread and its OpenMP threads), for work outside a plan: the segmentation test's
/// e^logits over classes x full-size pixels per window, scalar `exp` there took seconds an image.
public enum Elementwise {
    /// x[i] = e^x[i] in place (oneDNN's eltwise exp: within 2 ulp of libm's, tested), on `threads`
    /// threads (all cores when nil, as plans).
    public static func exp(_ x: UnsafeMutableBufferPointer<Float>, threads: Int? = nil) throws {
        guard let base = x.baseAddress, !x.isEmpty else { return }
        let threads = max(1, threads ?? Threads.available)
        try ComputeThread.shared.run {
            cdnnl_set_num_threads(Int32(threads))
            var md = try MemoryDesc.plain([x.count])
            var d = dnnl_eltwise_desc_t()
            try check(dnnl_eltwise_forward_desc_init(&d, dnnl_forward_inference, dnnl_eltwise_exp, &md, 0, 0), "eltwise exp")
            var pdh: dnnl_primitive_desc_t?
            try check(dnnl_primitive_desc_create(&pdh, &d, nil, Engine.shared.engine, nil), "eltwise exp")
            let pd = PrimitiveDesc(pdh!)
            let primitive = try Primitive(pd.handle, name: "exp")
            let memory = try Memory(md, pointer: UnsafeMutableRawPointer(base))
            var args = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: memory.handle), dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: memory.handle)]
            try check(dnnl_primitive_execute(primitive.handle, Engine.shared.stream, Int32(args.count), &args), "eltwise exp")
            try check(dnnl_stream_wait(Engine.shared.stream), "stream_wait")
            withExtendedLifetime((pd, primitive, memory)) {}
        }
    }

    public static func exp(_ x: inout [Float], threads: Int? = nil) throws {
        try x.withUnsafeMutableBufferPointer { try exp($0, threads: threads) }
    }
}
