import Foundation

extension Image {
    /// PIL's `Image.resize((width, height), Image.BILINEAR)` on an RGB image, integer for
    /// integer (Pillow src/libImaging/Resample.c): a triangle filter whose support grows with the
    /// reduction factor (so shrinking averages, i.e. antialiases), coefficients normalised then
    /// quantised to 22 fractional bits, one pass per axis, each rounding to 8 bits.
    /// Pass order matters for the result: Resample.c runs the horizontal pass first, but
    /// Pillow 13 (the reference we test against) runs the vertical pass first when the width
    /// grows while the height shrinks (found by comparing both orders on 15 size pairs; every
    /// other combination is horizontal first). We follow Pillow 13.
    /// Sizes below 1 are raised to 1.
    /// - Complexity: O(width * srcHeight * kx + width * height * ky), kx, ky the filter sizes.
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        let ow = max(1, newWidth), oh = max(1, newHeight)
        if ow == width && oh == height { return self }
        let horizontal = PILResampleCoefficients(inSize: width, outSize: ow)
        let vertical = PILResampleCoefficients(inSize: height, outSize: oh)
        if ow > width && oh < height {
            return verticalPass(vertical, rowOffset: 0)
                .horizontalPass(horizontal, rows: 0..<oh)
        }
        var source = self
        var rowOffset = 0
        if ow != width {
            // Only the source rows the vertical pass will read (Pillow's ybox_first...ybox_last).
            let first = vertical.bounds[0].start
            let last = vertical.bounds[oh - 1].start + vertical.bounds[oh - 1].count
            source = horizontalPass(horizontal, rows: first..<last)
            rowOffset = first
        }
        if oh != height {
            source = source.verticalPass(vertical, rowOffset: rowOffset)
        }
        return source
    }

    private func horizontalPass(_ k: PILResampleCoefficients, rows: Range<Int>) -> Image {
        let ow = k.bounds.count, oh = rows.count
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                k.weights.withUnsafeBufferPointer { w in
                    for (row, y) in rows.enumerated() {
                        let line = src.baseAddress! + y * width * 3
                        for x in 0..<ow {
                            let b = k.bounds[x], kw = w.baseAddress! + x * k.size
                            var s0 = PILResampleCoefficients.half, s1 = s0, s2 = s0
                            for i in 0..<b.count {
                                let p = line + (b.start + i) * 3, c = Int(kw[i])
                                s0 += Int(p[0]) * c; s1 += Int(p[1]) * c; s2 += Int(p[2]) * c
                            }
                            let d = (row * ow + x) * 3
                            dst[d] = PILResampleCoefficients.clip8(s0)
                            dst[d + 1] = PILResampleCoefficients.clip8(s1)
                            dst[d + 2] = PILResampleCoefficients.clip8(s2)
                        }
                    }
                }
            }
        }
        return Image(uncheckedWidth: ow, height: oh, pixels: out)
    }

    private func verticalPass(_ k: PILResampleCoefficients, rowOffset: Int) -> Image {
        let oh = k.bounds.count, w3 = width * 3
        var out = [UInt8](repeating: 0, count: w3 * oh)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                k.weights.withUnsafeBufferPointer { w in
                    for y in 0..<oh {
                        let b = k.bounds[y], kw = w.baseAddress! + y * k.size
                        let top = src.baseAddress! + (b.start - rowOffset) * w3
                        for i in 0..<w3 {
                            var s = PILResampleCoefficients.half
                            for j in 0..<b.count { s += Int(top[j * w3 + i]) * Int(kw[j]) }
                            dst[y * w3 + i] = PILResampleCoefficients.clip8(s)
                        }
                    }
                }
            }
        }
        return Image(uncheckedWidth: width, height: oh, pixels: out)
    }
}

/// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter.
struct PILResampleCoefficients {
    static let precisionBits = 22            // 32 - 8 - 2
    static let half = 1 << (precisionBits - 1)
    let size: Int                             // ksize = ceil(support) * 2 + 1
    let bounds: [(start: Int, count: Int)]
    let weights: [Int32]                      // outSize * size, fixed point

    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale       // bilinear support is 1
        size = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        var weights = [Int32](repeating: 0, count: outSize * size)
        var k = [Double](repeating: 0, count: size)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            var xmin = Int(center - support + 0.5)   // C (int) truncates toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<xmax {
                var t = (Double(x + xmin) - center + 0.5) * ss
                if t < 0 { t = -t }
                let w = t < 1 ? 1 - t : 0
                k[x] = w
                ww += w
            }
            for x in 0..<xmax {
                let v = ww != 0 ? k[x] / ww : k[x]
                let scaled = v * Double(1 << PILResampleCoefficients.precisionBits)
                weights[xx * size + x] = Int32(v < 0 ? (-0.5 + scaled).rounded(.towardZero) : (0.5 + scaled).rounded(.towardZero))
            }
            bounds.append((xmin, xmax))
        }
        self.bounds = bounds.map { (start: $0.0, count: $0.1) }
        self.weights = weights
    }

    @inline(__always)
    static func clip8(_ v: Int) -> UInt8 {
        let s = v >> precisionBits
        return s <= 0 ? 0 : (s >= 255 ? 255 : UInt8(s))
    }
}
