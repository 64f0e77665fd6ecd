extension Kernels {
    /// The largest |x| of `count` fp32 values (calibration).
    static func maxAbs(_ p: UnsafeRawPointer, count: Int, threads: Int) -> Float {
        let chunks = max(1, min(threads, count >> 16))
        var partial = [Float](repeating: 0, count: chunks)
        partial.withUnsafeMutableBufferPointer { out in
            let out = out
            parallel(chunks, threads: threads) { r in
                for k in r {
                    let lo = count * k / chunks, hi = count * (k + 1) / chunks
                    var m = SIMD16<Float>(repeating: 0)
                    var i = lo
                    while i + 16 <= hi {
                        let v = p.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                        m = pointwiseMax(m, v.magnitudes)  // calibration only: the lane loop is fine
                        i += 16
                    }
                    var s = m.max()
                    while i < hi { s = max(s, abs(p.load(fromByteOffset: i * 4, as: Float.self))); i += 1 }
                    out[k] = s
                }
            }
        }
        return partial.max() ?? 0
    }

    /// dst = [base +] resize(src) [then ReLU] on fp32 NHWC data (int8 plans keep fp32 values
    /// NHWC): each pixel is `channels` consecutive floats, done 16 at a time and the rest one by one.
    /// `dst` may be `base`; it never aliases `src`.
    static func resizeNHWC(dst: UnsafeMutableRawPointer, src: UnsafeRawPointer, base: UnsafeRawPointer?, batch: Int,
                           channels: Int, inH: Int, inW: Int, rows: ResizeAxis, cols: ResizeAxis, relu: Bool, threads: Int) {
        let outH = rows.lo.count, outW = cols.lo.count, c = channels
        let vectors = c / 16
        let s = src.assumingMemoryBound(to: Float.self), d = dst.assumingMemoryBound(to: Float.self)
        let b = base?.assumingMemoryBound(to: Float.self)
        parallel(batch * outH, threads: threads, minimumChunk: 2) { r in
            for row in r {
                let n = row / outH, i = row % outH
                let image = n * inH * inW * c
                let r0 = image + Int(rows.lo[i]) * inW * c, r1 = image + Int(rows.hi[i]) * inW * c
                let wy = rows.weight[i]
                let outRow = (n * outH + i) * outW * c
                for j in 0..<outW {
                    let c0 = Int(cols.lo[j]) * c, c1 = Int(cols.hi[j]) * c
                    let wx = cols.weight[j]
                    let o = outRow + j * c
                    for k in 0..<vectors {
                        let e = k * 16
                        func load(_ at: Int) -> SIMD16<Float> { UnsafeRawPointer(s + at + e).loadUnaligned(as: SIMD16<Float>.self) }
                        let a = load(r0 + c0), bb = load(r0 + c1), cc = load(r1 + c0), dd = load(r1 + c1)
                        let top = a + (bb - a) * wx
                        let bottom = cc + (dd - cc) * wx
                        var v = top + (bottom - top) * wy
                        if let b { v += UnsafeRawPointer(b + o + e).loadUnaligned(as: SIMD16<Float>.self) }
                        if relu { v = v.positivePart }
                        UnsafeMutableRawPointer(d + o + e).storeBytes(of: v, as: SIMD16<Float>.self)
                    }
                    for e in (vectors * 16)..<c {
                        let a = s[r0 + c0 + e], bb = s[r0 + c1 + e], cc = s[r1 + c0 + e], dd = s[r1 + c1 + e]
                        let top = a + (bb - a) * wx
                        let bottom = cc + (dd - cc) * wx
                        var v = top + (bottom - top) * wy
                        if let b { v += b[o + e] }
                        d[o + e] = relu ? max(v, 0) : v
                    }
                }
            }
        }
    }
}
