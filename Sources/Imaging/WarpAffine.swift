import Foundation

/// Which OpenCV `warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)` arithmetic to reproduce on uint8.
/// OpenCV changed it in 4.11; the two differ by up to 2 levels on detailed images.
public enum AffineWarpArithmetic: Sendable {
    /// OpenCV >= 4.11 (opencv/modules/imgproc/src/warp_kernels.simd.hpp, ALGO_HINT_ACCURATE,
    /// the default): the inverse matrix in float32, source coordinates `fma(M0, x, y*M1 + M2)`,
    /// weights `fx = sx - floor(sx)`, interpolation by three float32 FMAs, round half to even.
    /// We follow the AVX2 build (16 destination pixels per vector step; the last `width % 16`
    /// pixels of a row go through the scalar tail, whose coordinate arithmetic differs in the
    /// last bit).
    case float32
    /// OpenCV <= 4.10 (opencv/modules/imgproc/src/imgwarp.cpp, WarpAffineInvoker and
    /// remapBilinear): coordinates in 1/1024 fixed point rounded to 1/32 pixel (INTER_BITS = 5),
    /// 15-bit integer weights from the 32 x 32 bilinear table, `(sum + 2^14) >> 15`.
    case fixedPoint
}

extension Image {
    /// OpenCV's `cv2.warpAffine(src, M, (width, height), flags=INTER_LINEAR,
    /// borderMode=BORDER_CONSTANT, borderValue=0)`. `m` is the 2x3 matrix row-major, mapping
    /// source to destination like OpenCV's M (it is inverted inside, with OpenCV's formula).
    /// Uses current OpenCV's arithmetic (`.float32`); see `AffineWarpArithmetic`.
    /// A matrix without 6 entries gives a black image; sizes below 1 are raised to 1.
    /// - Complexity: O(width * height), no allocation besides the output.
    public func warpAffine(_ m: [Double], width: Int, height: Int) -> Image {
        warpAffine(m, width: width, height: height, arithmetic: .float32)
    }

    /// `warpAffine` with a chosen OpenCV arithmetic.
    public func warpAffine(_ m: [Double], width: Int, height: Int, arithmetic: AffineWarpArithmetic) -> Image {
        warpAffine(m, width: width, height: height, arithmetic: arithmetic, bands: nil)
    }

    /// `bands` overrides the row-band split (tests check that it never changes the result).
    func warpAffine(_ m: [Double], width: Int, height: Int, arithmetic: AffineWarpArithmetic, bands requested: Int?) -> Image {
        let dw = max(1, width), dh = max(1, height)
        var out = [UInt8](repeating: 0, count: dw * dh * 3)
        guard m.count == 6 else { return Image(uncheckedWidth: dw, height: dh, pixels: out) }
        let inverse = Image.invertAffineLikeOpenCV(m)
        // Rows are independent: large outputs (whole frames) are split into bands run on
        // separate cores. Person crops (192x256 = 49k pixels) stay on the calling thread: the
        // pipeline runs them beside the network's own threads, and splitting them measured
        // slower than one thread on a busy 2-core machine.
        let bands = max(1, min(dh, requested ?? Image.warpBands(pixels: dw * dh)))
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let buffers = WarpBuffers(source: src.baseAddress!, destination: dst.baseAddress!)
                let run: @Sendable (Int) -> Void = { band in
                    let s = buffers.source, d = buffers.destination
                    let rows = (dh * band / bands)..<(dh * (band + 1) / bands)
                    switch arithmetic {
                    case .float32: self.warpFloat32(s, d, dw, dh, rows, inverse)
                    case .fixedPoint: self.warpFixedPoint(s, d, dw, dh, rows, inverse)
                    }
                }
                if bands == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: bands, execute: run) }
            }
        }
        return Image(uncheckedWidth: dw, height: dh, pixels: out)
    }

    /// One band per 256k output pixels, at most one per core.
    static func warpBands(pixels: Int) -> Int {
        max(1, min(ProcessInfo.processInfo.activeProcessorCount, pixels / 262_144))
    }

    /// cv::warpAffine's inversion (imgwarp.cpp), term for term: a singular matrix gives zeros.
    static func invertAffineLikeOpenCV(_ m: [Double]) -> [Double] {
        var M = m
        var D = M[0] * M[4] - M[1] * M[3]
        D = D != 0 ? 1.0 / D : 0
        let A11 = M[4] * D, A22 = M[0] * D
        M[0] = A11; M[1] *= -D
        M[3] *= -D; M[4] = A22
        let b1 = -M[0] * M[2] - M[1] * M[5]
        let b2 = -M[3] * M[2] - M[4] * M[5]
        M[2] = b1; M[5] = b2
        return M
    }

    // MARK: float32 (OpenCV >= 4.11)

    /// Float32 fused multiply-add `a * b + c` with one rounding. Swift's `addingProduct` maps to
    /// a libm call on baseline x86-64, so we compute it in Double: `a * b` is exact there
    /// (24 + 24 < 53 bits) and, for the magnitudes of a warp, so is the sum; the conversion
    /// to Float is then the single rounding.
    @inline(__always)
    private static func fma32(_ a: Float, _ b: Float, _ c: Float) -> Float {
        Float(Double(a) * Double(b) + Double(c))
    }

    private func warpFloat32(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>,
                             _ dw: Int, _ dh: Int, _ rows: Range<Int>, _ inv: [Double]) {
        let m0 = Float(inv[0]), m1 = Float(inv[1]), m2 = Float(inv[2])
        let m3 = Float(inv[3]), m4 = Float(inv[4]), m5 = Float(inv[5])
        let sw = width, sh = height, stride = width * 3
        let vectorEnd = dw - dw % 16  // OpenCV's AVX2 loop: `for (; x <= dstcols - 16; x += 16)`
        for y in rows {
            let fy = Float(y)
            // CV_WARPAFFINE_VECTOR_COMPUTE_MAPPED_COORD1: static_cast<float>(y * M[1] + M[2]).
            let rowX = fy * m1 + m2, rowY = fy * m4 + m5
            let yM1 = fy * m1, yM4 = fy * m4
            let row = dst + y * dw * 3
            for x in 0..<dw {
                let fx = Float(x)
                let sx: Float, sy: Float
                if x < vectorEnd {
                    sx = Image.fma32(m0, fx, rowX)
                    sy = Image.fma32(m3, fx, rowY)
                } else {  // scalar tail: x*M[0] + y*M[1] + M[2], contracted by the compiler
                    sx = Image.fma32(fx, m0, yM1) + m2
                    sy = Image.fma32(fx, m3, yM4) + m5
                }
                guard abs(sx) < 1e9, abs(sy) < 1e9 else { continue }  // also rejects NaN; far outside is border
                let ix = Image.floorToInt(sx), iy = Image.floorToInt(sy)
                let ax = sx - Float(ix), ay = sy - Float(iy)
                let d = row + x * 3
                if ix >= 0 && iy >= 0 && ix < sw - 1 && iy < sh - 1 {
                    let p = src + iy * stride + ix * 3, q = p + stride
                    let axd = Double(ax), ayd = Double(ay)
                    d[0] = Image.lerp2(axd, ayd, p[0], p[3], q[0], q[3])
                    d[1] = Image.lerp2(axd, ayd, p[1], p[4], q[1], q[4])
                    d[2] = Image.lerp2(axd, ayd, p[2], p[5], q[2], q[5])
                } else {
                    if ix + 1 < 0 || ix >= sw || iy + 1 < 0 || iy >= sh { continue }  // all four outside: border 0
                    // Missing neighbours read as the border value 0.
                    let top = iy >= 0, bottom = iy + 1 < sh, left = ix >= 0, right = ix + 1 < sw
                    let base = iy * stride + ix * 3  // only read where the neighbour exists
                    for c in 0..<3 {
                        let p00: UInt8 = top && left ? src[base + c] : 0
                        let p01: UInt8 = top && right ? src[base + c + 3] : 0
                        let p10: UInt8 = bottom && left ? src[base + stride + c] : 0
                        let p11: UInt8 = bottom && right ? src[base + stride + c + 3] : 0
                        d[c] = Image.lerp2(Double(ax), Double(ay), p00, p01, p10, p11)
                    }
                }
            }
        }
    }

    /// OpenCV's CV_WARP_LINEAR_VECTOR_INTER_CALC_ALPHA/BETA_F32: three float32 FMAs, then
    /// round. Each FMA is evaluated in Double (see `fma32`): `ax * (p01 - p00) + p00` is exact
    /// there, so one conversion to Float gives the fused result; the weights arrive as Double
    /// (exact copies of the Float weights) so the three channels share their conversion.
    @inline(__always)
    private static func lerp2(_ ax: Double, _ ay: Double, _ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> UInt8 {
        let p00 = Double(a), p01 = Double(b), p10 = Double(c), p11 = Double(d)
        let v0 = Float(ax * (p01 - p00) + p00)
        let v1 = Float(ax * (p11 - p10) + p10)
        return roundToByte(Float(ay * Double(v1 - v0) + Double(v0)))
    }

    /// v_round (round half to even) then v_pack_u (saturate to 0...255). Adding and removing
    /// 1.5 * 2^23 rounds to an integer in the current (nearest-even) mode without a libm call;
    /// exact for |v| < 2^22, and interpolated samples lie in [0, 255].
    @inline(__always)
    private static func roundToByte(_ v: Float) -> UInt8 {
        let magic: Float = 12_582_912
        let r = (v + magic) - magic
        return r <= 0 ? 0 : (r >= 255 ? 255 : UInt8(r))
    }

    /// floor for |v| < 1e9 without a libm call (truncate, then step down for negatives).
    @inline(__always)
    private static func floorToInt(_ v: Float) -> Int {
        let t = Int(v)
        return Float(t) > v ? t - 1 : t
    }

    // MARK: fixed point (OpenCV <= 4.10)

    /// cvRound for doubles on x86 (cvtsd2si): round half to even; out of int32 range -> INT_MIN.
    @inline(__always)
    private static func cvRound(_ v: Double) -> Int32 {
        let r = v.rounded(.toNearestOrEven)
        return (r >= -2_147_483_648 && r <= 2_147_483_647) ? Int32(r) : Int32.min
    }

    private func warpFixedPoint(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>,
                                _ dw: Int, _ dh: Int, _ rows: Range<Int>, _ M: [Double]) {
        let abScale = 1024.0             // AB_BITS = 10
        let roundDelta: Int32 = 16       // AB_SCALE / INTER_TAB_SIZE / 2
        let sw = width, sh = height, stride = width * 3
        var adelta = [Int32](repeating: 0, count: dw), bdelta = [Int32](repeating: 0, count: dw)
        for x in 0..<dw {
            adelta[x] = Image.cvRound(M[0] * Double(x) * abScale)
            bdelta[x] = Image.cvRound(M[3] * Double(x) * abScale)
        }
        adelta.withUnsafeBufferPointer { ad in
            bdelta.withUnsafeBufferPointer { bd in
                for y in rows {
                    let X0 = Image.cvRound((M[1] * Double(y) + M[2]) * abScale) &+ roundDelta
                    let Y0 = Image.cvRound((M[4] * Double(y) + M[5]) * abScale) &+ roundDelta
                    var d = dst + y * dw * 3
                    for x in 0..<dw {
                        defer { d += 3 }
                        let X = (X0 &+ ad[x]) >> 5, Y = (Y0 &+ bd[x]) >> 5   // AB_BITS - INTER_BITS
                        let sx = Int(min(max(X >> 5, -32768), 32767))         // saturate_cast<short>
                        let sy = Int(min(max(Y >> 5, -32768), 32767))
                        let ax = Int(X & 31), ay = Int(Y & 31)
                        // BilinearTab_i: 32 * (32 - ay)(32 - ax) ... ; the (0, 0) entry saturates
                        // 32768 to 32767 and initInterTab2D moves the lost unit to w11.
                        var w00 = (32 - ay) * (32 - ax) * 32, w01 = (32 - ay) * ax * 32
                        let w10 = ay * (32 - ax) * 32
                        var w11 = ay * ax * 32
                        if ax == 0 && ay == 0 { w00 = 32767; w01 = 0; w11 = 1 }
                        if sx >= 0 && sy >= 0 && sx < sw - 1 && sy < sh - 1 {
                            let p = src + sy * stride + sx * 3
                            for c in 0..<3 {
                                let sum = Int(p[c]) * w00 + Int(p[c + 3]) * w01
                                    + Int(p[stride + c]) * w10 + Int(p[stride + c + 3]) * w11
                                d[c] = UInt8(min(255, (sum + 16384) >> 15))
                            }
                        } else {
                            if sx >= sw || sx + 1 < 0 || sy >= sh || sy + 1 < 0 { continue }
                            for c in 0..<3 {
                                @inline(__always) func at(_ yy: Int, _ xx: Int) -> Int {
                                    (xx >= 0 && yy >= 0 && xx < sw && yy < sh) ? Int(src[yy * stride + xx * 3 + c]) : 0
                                }
                                let sum = at(sy, sx) * w00 + at(sy, sx + 1) * w01 + at(sy + 1, sx) * w10 + at(sy + 1, sx + 1) * w11
                                d[c] = UInt8(min(255, (sum + 16384) >> 15))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The source (read only) and destination of one warp, shared by the row bands of
/// concurrentPerform; each band writes disjoint rows, and both buffers outlive the call.
struct WarpBuffers: @unchecked Sendable {
    let source: UnsafePointer<UInt8>
    let destination: UnsafeMutablePointer<UInt8>
}
