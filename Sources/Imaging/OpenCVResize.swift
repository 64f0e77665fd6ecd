import Foundation

/// `cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)`, the resize of the
/// official HRNet segmentation code (multi-scale test, training scale augmentation), for 8-bit
/// images and for float planes. Separate from `resized` (PIL's antialiasing bilinear): OpenCV's
/// INTER_LINEAR never widens its 2-tap filter when shrinking.
///
/// Facts (OpenCV modules/imgproc/src/resize.cpp, resizeGeneric_ with HResizeLinear /
/// VResizeLinear; checked bit for bit against opencv-python 5.0 on upscales, downscales and odd
/// ratios, see Tests/Fixtures/imaging/opencv_resize):
/// - Scale = 1 / (dst / src) in double. For each output column: `fx = float((dx + 0.5) * scale - 0.5)`,
///   `sx = floor(fx)`, `fx -= sx`; columns left of the image use (sx 0, fx 0), columns at or
///   past the last source column use (sx w-1, fx 0). Rows are NOT clamped that way: `sy` and
///   `fy` stay as computed and the two source rows `sy`, `sy+1` are clamped into the image
///   (so the first and last output rows blend a row with itself, with the unclamped weights).
/// - 8-bit: weights are `round(w * 2048)` (INTER_RESIZE_COEF_BITS 11). The horizontal pass keeps
///   the exact integer sums; the vertical pass is the one OpenCV's SIMD path computes:
///   `(((r0 >> 4) * b0) >> 16) + (((r1 >> 4) * b1) >> 16)`, then `(+ 2) >> 2`, saturated to 8 bits.
/// - Float: weights `1 - fx`, `fx` in float; `r = s0 * a0 + s1 * a1`, `d = r0 * b0 + r1 * b1`.
public enum OpenCVResize {
    /// The source index and fractional weight of each output position along one axis.
    struct Axis {
        var index: [Int]      // first source index (rows: unclamped)
        var fraction: [Float] // weight of index + 1

        init(inSize: Int, outSize: Int, clampEnds: Bool) {
            let scale = 1.0 / (Double(outSize) / Double(inSize))
            index = []; fraction = []
            index.reserveCapacity(outSize); fraction.reserveCapacity(outSize)
            for d in 0..<outSize {
                var f = Float((Double(d) + 0.5) * scale - 0.5)
                var s = Int(f.rounded(.down))
                f -= Float(s)
                if clampEnds {
                    if s < 0 { s = 0; f = 0 }
                    if s >= inSize - 1 { s = inSize - 1; f = 0 }
                }
                index.append(s); fraction.append(f)
            }
        }

        /// The two source indices, clamped into 0..<size.
        @inline(__always) func taps(_ d: Int, size: Int) -> (Int, Int) {
            let s = index[d]
            return (min(max(s, 0), size - 1), min(max(s + 1, 0), size - 1))
        }

        /// `round(w * 2048)` with round-half-even, as OpenCV's saturate_cast<short>(float).
        func fixedWeights(_ d: Int) -> (Int32, Int32) {
            let f = fraction[d]
            return (Int32(((1 - f) * 2048).rounded(.toNearestOrEven)), Int32((f * 2048).rounded(.toNearestOrEven)))
        }
    }

    /// Resizes interleaved 8-bit samples with `channels` per pixel.
    /// - Complexity: O(outWidth * (inHeight + outHeight) * channels).
    public static func linear(_ src: [UInt8], channels cn: Int, width w: Int, height h: Int,
                              toWidth ow: Int, toHeight oh: Int) -> [UInt8] {
        precondition(src.count == w * h * cn && ow > 0 && oh > 0, "OpenCVResize.linear: sizes do not match the samples")
        if ow == w && oh == h { return src }
        let xs = Axis(inSize: w, outSize: ow, clampEnds: true)
        let ys = Axis(inSize: h, outSize: oh, clampEnds: false)
        let xw = (0..<ow).map { xs.fixedWeights($0) }
        let xt = (0..<ow).map { xs.taps($0, size: w) }
        let rowLength = ow * cn
        // Horizontal pass for each source row the output needs, computed once per row.
        var rowCache = [Int: [Int32]]()
        func row(_ y: Int) -> [Int32] {
            if let r = rowCache[y] { return r }
            var r = [Int32](repeating: 0, count: rowLength)
            src.withUnsafeBufferPointer { s in
                let line = y * w * cn
                for dx in 0..<ow {
                    let (a0, a1) = xw[dx], (s0, s1) = xt[dx]
                    for c in 0..<cn {
                        r[dx * cn + c] = Int32(s[line + s0 * cn + c]) * a0 + Int32(s[line + s1 * cn + c]) * a1
                    }
                }
            }
            rowCache[y] = r
            if rowCache.count > 4 { rowCache = rowCache.filter { $0.key >= y - 1 } }
            return r
        }
        var out = [UInt8](repeating: 0, count: rowLength * oh)
        for dy in 0..<oh {
            let (y0, y1) = ys.taps(dy, size: h)
            let (b0, b1) = ys.fixedWeights(dy)
            let r0 = row(y0), r1 = row(y1)
            let base = dy * rowLength
            for i in 0..<rowLength {
                let v = (((r0[i] >> 4) * b0) >> 16) + (((r1[i] >> 4) * b1) >> 16)
                out[base + i] = UInt8(clamping: (v + 2) >> 2)
            }
        }
        return out
    }

    /// Resizes `planes` float planes of `width x height` each (CHW; each plane independently,
    /// which is what cv2.resize does per channel of an HWC float image).
    /// - Complexity: O(planes * outWidth * (inHeight + outHeight)).
    public static func linear(_ src: [Float], planes: Int, width w: Int, height h: Int,
                              toWidth ow: Int, toHeight oh: Int) -> [Float] {
        precondition(src.count == w * h * planes && ow > 0 && oh > 0, "OpenCVResize.linear: sizes do not match the samples")
        if ow == w && oh == h { return src }
        let xs = Axis(inSize: w, outSize: ow, clampEnds: true)
        let ys = Axis(inSize: h, outSize: oh, clampEnds: false)
        let xt = (0..<ow).map { xs.taps($0, size: w) }
        var out = [Float](repeating: 0, count: planes * ow * oh)
        var horizontal = [Float](repeating: 0, count: h * ow)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                horizontal.withUnsafeMutableBufferPointer { rows in
                    for p in 0..<planes {
                        let plane = p * w * h
                        for y in 0..<h {
                            for dx in 0..<ow {
                                let f = xs.fraction[dx], (s0, s1) = xt[dx]
                                rows[y * ow + dx] = s[plane + y * w + s0] * (1 - f) + s[plane + y * w + s1] * f
                            }
                        }
                        for dy in 0..<oh {
                            let (y0, y1) = ys.taps(dy, size: h)
                            let f = ys.fraction[dy], b0 = 1 - f
                            let o = p * ow * oh + dy * ow
                            for dx in 0..<ow { d[o + dx] = rows[y0 * ow + dx] * b0 + rows[y1 * ow + dx] * f }
                        }
                    }
                }
            }
        }
        return out
    }
}

extension Image {
    /// `cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)` on this 8-bit RGB
    /// image, bit-exact (see `OpenCVResize`). Sizes below 1 are raised to 1.
    public func resizedLinearCV(width newWidth: Int, height newHeight: Int) -> Image {
        let ow = max(1, newWidth), oh = max(1, newHeight)
        return Image(uncheckedWidth: ow, height: oh,
                     pixels: OpenCVResize.linear(pixels, channels: 3, width: width, height: height, toWidth: ow, toHeight: oh))
    }
}

extension OpenCVResize {
    /// `cv2.resize(src, (width, height), interpolation=cv2.INTER_NEAREST)` for one-channel 8-bit
    /// maps (the official training resizes label maps this way): output column x reads source
    /// column `min(floor(x * (1 / (dst / src))), src - 1)` (OpenCV resizeNN), rows alike.
    public static func nearest(_ src: [UInt8], width w: Int, height h: Int, toWidth ow: Int, toHeight oh: Int) -> [UInt8] {
        precondition(src.count == w * h && ow > 0 && oh > 0, "OpenCVResize.nearest: sizes do not match the samples")
        if ow == w && oh == h { return src }
        let fx = 1.0 / (Double(ow) / Double(w)), fy = 1.0 / (Double(oh) / Double(h))
        let xs = (0..<ow).map { min(Int((Double($0) * fx).rounded(.down)), w - 1) }
        var out = [UInt8](repeating: 0, count: ow * oh)
        for y in 0..<oh {
            let sy = min(Int((Double(y) * fy).rounded(.down)), h - 1)
            for x in 0..<ow { out[y * ow + x] = src[sy * w + xs[x]] }
        }
        return out
    }
}

extension GrayImage {
    /// `cv2.resize(map, (width, height), interpolation=cv2.INTER_NEAREST)`: label maps keep
    /// their class ids. Sizes below 1 are raised to 1.
    public func resizedNearestCV(width newWidth: Int, height newHeight: Int) -> GrayImage {
        let ow = max(1, newWidth), oh = max(1, newHeight)
        return GrayImage(uncheckedWidth: ow, height: oh,
                         pixels: OpenCVResize.nearest(pixels, width: width, height: height, toWidth: ow, toHeight: oh))
    }
}
