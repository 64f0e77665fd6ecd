import CDNNL

/// Strides, dilations and paddings of a convolution as oneDNN takes them, with the right
/// padding that makes oneDNN's output size equal PyTorch's.
struct ConvGeometry {
    var strides: [Int64], dilates: [Int64], padL: [Int64], padR: [Int64]

    init(_ c: Conv, _ xs: Shape4, _ ys: Shape4) {
        strides = [Int64(c.stride.h), Int64(c.stride.w)]
        dilates = [Int64(c.dilation.h - 1), Int64(c.dilation.w - 1)]
        padL = [Int64(c.padding.h), Int64(c.padding.w)]
        // A transposed convolution is a convolution's backward data: its window rule runs from
        // output to input, and the right padding is what leaves PyTorch's output padding over.
        let (i, o) = c.transposed ? (ys, xs) : (xs, ys)
        padR = [
            Plan.Builder.rightPadding(in: i.h, out: o.h, kernel: c.kernel.h, stride: c.stride.h, dilation: c.dilation.h, left: c.padding.h),
            Plan.Builder.rightPadding(in: i.w, out: o.w, kernel: c.kernel.w, stride: c.stride.w, dilation: c.dilation.w, left: c.padding.w),
        ]
    }
}

/// The oneDNN operation descriptors of a `Conv` node: convolution, or deconvolution for a
/// transposed convolution (oneDNN 2.x shares the descriptor type). Weight descriptors are
/// oneDNN's logical (O, I, kh, kw) for both.
extension Conv {
    /// The algorithm oneDNN takes for this node; deconvolution has only its direct one.
    func algorithm(_ requested: dnnl_alg_kind_t) -> dnnl_alg_kind_t {
        transposed ? dnnl_deconvolution_direct : requested
    }

    var operationName: String { transposed ? "transposed convolution \(key)" : "convolution \(key)" }

    func forwardDesc(_ prop: dnnl_prop_kind_t, _ algorithm: dnnl_alg_kind_t, src: inout dnnl_memory_desc_t,
                     weights: inout dnnl_memory_desc_t, bias: UnsafePointer<dnnl_memory_desc_t>?, dst: inout dnnl_memory_desc_t,
                     _ g: ConvGeometry) throws -> dnnl_convolution_desc_t {
        var d = dnnl_convolution_desc_t()
        let status = transposed
            ? dnnl_dilated_deconvolution_forward_desc_init(&d, prop, self.algorithm(algorithm), &src, &weights, bias, &dst,
                                                           g.strides, g.dilates, g.padL, g.padR)
            : dnnl_dilated_convolution_forward_desc_init(&d, prop, algorithm, &src, &weights, bias, &dst,
                                                         g.strides, g.dilates, g.padL, g.padR)
        try check(status, operationName)
        return d
    }

    func backwardDataDesc(_ algorithm: dnnl_alg_kind_t, diffSrc: inout dnnl_memory_desc_t, weights: inout dnnl_memory_desc_t,
                          diffDst: inout dnnl_memory_desc_t, _ g: ConvGeometry) throws -> dnnl_convolution_desc_t {
        var d = dnnl_convolution_desc_t()
        let status = transposed
            ? dnnl_dilated_deconvolution_backward_data_desc_init(&d, self.algorithm(algorithm), &diffSrc, &weights, &diffDst,
                                                                 g.strides, g.dilates, g.padL, g.padR)
            : dnnl_dilated_convolution_backward_data_desc_init(&d, algorithm, &diffSrc, &weights, &diffDst,
                                                               g.strides, g.dilates, g.padL, g.padR)
        try check(status, "\(operationName) backward data")
        return d
    }

    func backwardWeightsDesc(_ algorithm: dnnl_alg_kind_t, src: inout dnnl_memory_desc_t, diffWeights: inout dnnl_memory_desc_t,
                             diffBias: UnsafePointer<dnnl_memory_desc_t>?, diffDst: inout dnnl_memory_desc_t,
                             _ g: ConvGeometry) throws -> dnnl_convolution_desc_t {
        var d = dnnl_convolution_desc_t()
        let status = transposed
            ? dnnl_dilated_deconvolution_backward_weights_desc_init(&d, self.algorithm(algorithm), &src, &diffWeights, diffBias,
                                                                    &diffDst, g.strides, g.dilates, g.padL, g.padR)
            : dnnl_dilated_convolution_backward_weights_desc_init(&d, algorithm, &src, &diffWeights, diffBias, &diffDst,
                                                                  g.strides, g.dilates, g.padL, g.padR)
        try check(status, "\(operationName) backward weights")
        return d
    }

    /// The plain layout of the checkpoint's weight over oneDNN's logical (O, I, kh, kw) dims:
    /// PyTorch's (O, I, kh, kw) for a convolution, its (I, O, kh, kw) for a transposed one.
    func plainWeights(_ dims: [Int]) throws -> dnnl_memory_desc_t {
        transposed ? try MemoryDesc.make(dims, dnnl_iohw) : try MemoryDesc.plain(dims)
    }
}
