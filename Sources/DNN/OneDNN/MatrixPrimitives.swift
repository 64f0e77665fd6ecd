import CDNNL

/// oneDNN matmul and softmax over batches of row-major matrices: an NCHW tensor in plain
/// layout is, per image, a (C x H*W) matrix, so OCR's gather and attention are matmuls on
/// the activations as they lie (after a reorder out of the blocked layout).
enum MatrixPrimitives {
    /// One operand of a matmul: `batch` matrices stored row-major as `rows` x `columns`, read
    /// as they are or transposed.
    struct Operand {
        var batch: Int, rows: Int, columns: Int
        var transposed = false

        /// The logical (as multiplied) dims and the strides over the stored matrices.
        func desc() throws -> dnnl_memory_desc_t {
            let (r, c) = transposed ? (columns, rows) : (rows, columns)
            let strides: [Int64] = transposed ? [Int64(rows * columns), 1, Int64(columns)]
                                              : [Int64(rows * columns), Int64(columns), 1]
            var md = dnnl_memory_desc_t()
            try check(dnnl_memory_desc_init_by_strides(&md, 3, [Int64(batch), Int64(r), Int64(c)], dnnl_f32, strides),
                      "memory_desc_init_by_strides")
            return md
        }
        var logicalRows: Int { transposed ? columns : rows }
        var logicalColumns: Int { transposed ? rows : columns }
        var bytes: Int { batch * rows * columns * 4 }
    }

    /// dst = `scale` x op(a) . op(b) per batch item, dst row-major. `serial`-free: the caller
    /// creates and runs the primitive.
    static func matmul(_ a: Operand, _ b: Operand, scale: Float = 1, name: String) throws -> PrimitiveDesc {
        precondition(a.batch == b.batch && a.logicalColumns == b.logicalRows, "\(name): \(a) times \(b)")
        var src = try a.desc(), weights = try b.desc()
        var dst = try Operand(batch: a.batch, rows: a.logicalRows, columns: b.logicalColumns).desc()
        var md = dnnl_matmul_desc_t()
        try check(dnnl_matmul_desc_init(&md, &src, &weights, nil, &dst), name)
        let attr = try Attributes()
        if scale != 1 {
            var s = scale
            try check(dnnl_primitive_attr_set_output_scales(attr.handle, 1, 0, &s), "\(name): output scale")
        }
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&pd, &md, attr.handle, Engine.shared.engine, nil), name)
        withExtendedLifetime(attr) {}
        return PrimitiveDesc(pd!)
    }

    /// Softmax over `axis` (1: down the rows, per column; 2: along each row) of `batch` matrices
    /// `rows` x `columns`; forward (training keeps its output for backward) or backward.
    static func softmax(batch: Int, rows: Int, columns: Int, axis: Int32, backward: Bool = false,
                        hint: PrimitiveDesc? = nil, name: String) throws -> PrimitiveDesc {
        var data = try MemoryDesc.plain([batch, rows, columns])
        var sd = dnnl_softmax_desc_t()
        if backward {
            var diff = data
            try check(dnnl_softmax_backward_desc_init(&sd, &diff, &data, axis), name)
        } else {
            try check(dnnl_softmax_forward_desc_init(&sd, dnnl_forward_training, &data, axis), name)
        }
        let attr = try Attributes()
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&pd, &sd, attr.handle, Engine.shared.engine, hint?.handle), name)
        withExtendedLifetime(attr) {}
        return PrimitiveDesc(pd!)
    }

    /// Memory for a primitive argument over `pointer` (the descriptor the primitive wants).
    static func memory(_ pd: PrimitiveDesc, _ what: dnnl_query_t, _ pointer: UnsafeMutableRawPointer, index: Int32 = 0) throws -> Memory {
        try Memory(pd.md(what, index), pointer: pointer)
    }
}
