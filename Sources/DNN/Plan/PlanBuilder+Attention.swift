import CDNNL

/// OCR's gather and attention in an inference plan: the inputs are reordered out of the
/// blocked layout into plain matrices the plan owns, multiplied by oneDNN's matmul, soft-maxed
/// by its softmax, and the result reordered back. The OCR head runs at 1/4 of the input with a
/// few hundred channels, so these copies are small beside the backbone.
extension Plan.Builder {
    /// A plain fp32 copy of value `v` (of shape `s`) in plan-owned memory, filled by a reorder step.
    mutating func plainCopy(of v: Int, _ s: Shape4, plan: Plan) throws -> UnsafeMutableRawPointer {
        let p = plan.own(bytes: s.count * 4, zeroed: false)
        try reorder(from: memory[source(v)]!, to: try Memory(try MemoryDesc.plain(s.dims), pointer: p))
        return p
    }

    /// Reorders a plain fp32 result back into the value's own layout.
    mutating func storePlain(_ p: UnsafeMutableRawPointer, into out: Int) throws {
        try reorder(from: try Memory(try MemoryDesc.plain(shapes[out].dims), pointer: p), to: memory[out]!)
    }

    /// out (N, C, K, 1) = feats (C x HW) . softmax over HW of probs (K x HW), transposed.
    mutating func emitSpatialGather(_ op: FusedOp, plan: Plan) throws {
        typealias M = MatrixPrimitives
        let f = shapes[op.inputs[0]], p = shapes[op.inputs[1]]
        let pixels = f.h * f.w
        let feats = try plainCopy(of: op.inputs[0], f, plan: plan)
        let probs = try plainCopy(of: op.inputs[1], p, plan: plan)
        let softmax = try M.softmax(batch: p.n, rows: p.c, columns: pixels, axis: 2, name: "spatial gather softmax")
        try primitive(softmax, "softmax spatial gather",
                      [(DNNL_ARG_SRC, try M.memory(softmax, dnnl_query_src_md, probs)),
                       (DNNL_ARG_DST, try M.memory(softmax, dnnl_query_dst_md, probs))])
        let product = plan.own(bytes: shapes[op.output].count * 4, zeroed: false)
        let mm = try M.matmul(M.Operand(batch: f.n, rows: f.c, columns: pixels),
                              M.Operand(batch: p.n, rows: p.c, columns: pixels, transposed: true), name: "spatial gather")
        try primitive(mm, "matmul spatial gather",
                      [(DNNL_ARG_SRC, try M.memory(mm, dnnl_query_src_md, feats)),
                       (DNNL_ARG_WEIGHTS, try M.memory(mm, dnnl_query_weights_md, probs)),
                       (DNNL_ARG_DST, try M.memory(mm, dnnl_query_dst_md, product))],
                      flops: 2 * Double(shapes[op.output].count * pixels))
        try storePlain(product, into: op.output)
    }

    /// out (Cv x HW) = value (Cv x K) . W^T, W (HW x K) = softmax over K of scale x query^T (HW x Ck) . key (Ck x K).
    /// W is laid out pixel by pixel so the softmax runs along rows (oneDNN's softmax along a
    /// strided axis is its slow reference kernel: 30 ms of W48+OCR at 512x1024).
    mutating func emitObjectAttention(_ op: FusedOp, scale: Float, plan: Plan) throws {
        typealias M = MatrixPrimitives
        let q = shapes[op.inputs[0]], k = shapes[op.inputs[1]], v = shapes[op.inputs[2]]
        let (pixels, centres) = (q.h * q.w, k.h * k.w)
        let query = try plainCopy(of: op.inputs[0], q, plan: plan)
        let key = try plainCopy(of: op.inputs[1], k, plan: plan)
        let value = try plainCopy(of: op.inputs[2], v, plan: plan)
        let weights = plan.own(bytes: q.n * centres * pixels * 4, zeroed: false)
        let similarity = try M.matmul(M.Operand(batch: q.n, rows: q.c, columns: pixels, transposed: true),
                                      M.Operand(batch: q.n, rows: k.c, columns: centres), scale: scale, name: "object attention similarity")
        try primitive(similarity, "matmul object attention similarity",
                      [(DNNL_ARG_SRC, try M.memory(similarity, dnnl_query_src_md, query)),
                       (DNNL_ARG_WEIGHTS, try M.memory(similarity, dnnl_query_weights_md, key)),
                       (DNNL_ARG_DST, try M.memory(similarity, dnnl_query_dst_md, weights))],
                      flops: 2 * Double(q.n * centres * pixels * q.c))
        let softmax = try M.softmax(batch: q.n, rows: pixels, columns: centres, axis: 2, name: "object attention softmax")
        try primitive(softmax, "softmax object attention",
                      [(DNNL_ARG_SRC, try M.memory(softmax, dnnl_query_src_md, weights)),
                       (DNNL_ARG_DST, try M.memory(softmax, dnnl_query_dst_md, weights))])
        let product = plan.own(bytes: shapes[op.output].count * 4, zeroed: false)
        let context = try M.matmul(M.Operand(batch: q.n, rows: v.c, columns: centres),
                                   M.Operand(batch: q.n, rows: pixels, columns: centres, transposed: true), name: "object attention context")
        try primitive(context, "matmul object attention context",
                      [(DNNL_ARG_SRC, try M.memory(context, dnnl_query_src_md, value)),
                       (DNNL_ARG_WEIGHTS, try M.memory(context, dnnl_query_weights_md, weights)),
                       (DNNL_ARG_DST, try M.memory(context, dnnl_query_dst_md, product))],
                      flops: 2 * Double(q.n * v.c * centres * pixels))
        try storePlain(product, into: op.output)
    }
}
