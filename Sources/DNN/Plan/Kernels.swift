import CDNNL
import Dispatch

/// The engine's own kernels for what oneDNN has no primitive for (bilinear with aligned
/// corners, resize fused with the fusion unit's sum) or where a plain loop is as fast.
///
/// All work on the blocked activation layout: a value of shape (N, C, H, W) with channel
/// block B is stored as (N, ceil(C/B), H, W, B), channels past C zero. A "pixel" is B
/// consecutive floats, processed as one SIMD vector.
enum Kernels {
    /// Splits `count` items into about `threads` contiguous chunks and runs them in parallel,
    /// on oneDNN's OpenMP threads when they are there.
    static func parallel(_ count: Int, threads: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = max(1, min(threads, count / max(minimumChunk, 1)))
        if chunks == 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            let task = ParallelTask { k, n in
                // OpenMP may give fewer threads than asked for; split by what it gave.
                let parts = min(n, chunks)
                guard k < parts else { return }
                body((count * k / parts)..<(count * (k + 1) / parts))
            }
            let context = Unmanaged.passUnretained(task).toOpaque()
            let ran = cdnnl_parallel(Int32(chunks), { ctx, k, n in
                Unmanaged<ParallelTask>.fromOpaque(ctx!).takeUnretainedValue().body(Int(k), Int(n))
            }, context)
            if ran == 0 {
                nonisolated(unsafe) let task = task
                DispatchQueue.concurrentPerform(iterations: chunks) { k in task.body(k, chunks) }
            }
            withExtendedLifetime(task) {}
        }
    }

    private final class ParallelTask {
        let body: (Int, Int) -> Void
        init(_ body: @escaping (Int, Int) -> Void) { self.body = body }
    }

    static func relu(_ e: Element, dst: UnsafeMutableRawPointer, src: UnsafeRawPointer, count: Int, threads: Int) {
        switch e {
        case .f32: relu(F32.self, dst, src, count, threads)
        case .bf16: relu(BF16.self, dst, src, count, threads)
        }
    }
    private static func relu<E: Storage>(_: E.Type, _ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ count: Int, _ threads: Int) {
        parallel(count, threads: threads, minimumChunk: 1 << 16) { r in
            for i in r { E.put(max(E.get(src, i), 0), dst, i) }
        }
    }

    static func add(_ e: Element, dst: UnsafeMutableRawPointer, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer,
                    count: Int, relu: Bool, threads: Int) {
        switch e {
        case .f32: add(F32.self, dst, a, b, count, relu, threads)
        case .bf16: add(BF16.self, dst, a, b, count, relu, threads)
        }
    }
    private static func add<E: Storage>(_: E.Type, _ dst: UnsafeMutableRawPointer, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer,
                                        _ count: Int, _ relu: Bool, _ threads: Int) {
        parallel(count, threads: threads, minimumChunk: 1 << 16) { r in
            if relu { for i in r { E.put(max(E.get(a, i) + E.get(b, i), 0), dst, i) } }
            else { for i in r { E.put(E.get(a, i) + E.get(b, i), dst, i) } }
        }
    }

    /// y = x * scale[c] + shift[c] (an unfolded batch norm), optionally ReLU.
    static func affine(_ e: Element, dst: UnsafeMutableRawPointer, src: UnsafeRawPointer, scale: [Float], shift: [Float],
                       planes: Int, blocks: Int, pixels: Int, block: Int, relu: Bool, threads: Int) {
        switch e {
        case .f32: affine(F32.self, dst, src, scale, shift, planes, blocks, pixels, block, relu, threads)
        case .bf16: affine(BF16.self, dst, src, scale, shift, planes, blocks, pixels, block, relu, threads)
        }
    }
    private static func affine<E: Storage>(_: E.Type, _ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ scale: [Float],
                                           _ shift: [Float], _ planes: Int, _ blocks: Int, _ pixels: Int, _ block: Int,
                                           _ relu: Bool, _ threads: Int) {
        parallel(planes, threads: threads) { r in
            for plane in r {
                let cb = plane % blocks
                let base = plane * pixels * block
                for p in 0..<pixels {
                    for l in 0..<block {
                        let c = cb * block + l
                        let i = base + p * block + l
                        let v = c < scale.count ? E.get(src, i) * scale[c] + shift[c] : 0
                        E.put(relu ? max(v, 0) : v, dst, i)
                    }
                }
            }
        }
    }

    /// Source rows/columns and weights for each output row/column of a resize.
    struct ResizeAxis {
        var lo: [Int32]
        var hi: [Int32]
        var weight: [Float]
        /// Every output copies one input (nearest, or bilinear landing on the grid).
        var copies: Bool { weight.allSatisfy { $0 == 0 } }

        init(inSize: Int, outSize: Int, mode: ResizeMode) {
            lo = []; hi = []; weight = []
            for o in 0..<outSize {
                switch mode {
                case .nearest:
                    let i = min(Int(Float(o) * Float(inSize) / Float(outSize)), inSize - 1)
                    lo.append(Int32(i)); hi.append(Int32(i)); weight.append(0)
                case .bilinear(let ac):
                    let (a, b, w) = Reference.linearSource(o, inSize: inSize, outSize: outSize, alignCorners: ac)
                    lo.append(Int32(a)); hi.append(Int32(b)); weight.append(w)
                }
            }
        }
    }

    /// dst = [base +] resize(src) [then ReLU], per plane of B-channel pixels.
    /// `dst` may be `base` (accumulate in place); it never aliases `src`.
    static func resize(_ e: Element, dst: UnsafeMutableRawPointer, src: UnsafeRawPointer, base: UnsafeRawPointer?,
                       planes: Int, inH: Int, inW: Int, rows: ResizeAxis, cols: ResizeAxis,
                       block: Int, relu: Bool, threads: Int, avx512: Bool = avx512Rows) {
        switch (e, block) {
        case (.f32, 16): resize(F32x16.self, dst, src, base, planes, inH, inW, rows, cols, relu, threads)
        case (.f32, 8): resize(F32x8.self, dst, src, base, planes, inH, inW, rows, cols, relu, threads)
        case (.bf16, 16) where avx512: resizeBF16Rows(dst, src, base, planes, inH, inW, rows, cols, relu, threads)
        case (.bf16, 16): resize(BF16x16.self, dst, src, base, planes, inH, inW, rows, cols, relu, threads)
        default: fatalError("unsupported channel block \(block) for \(e)")
        }
    }

    /// The CPU runs the AVX-512 rows of CDNNL/bf16_rows.h (every CPU with bf16 plans does).
    static let avx512Rows = cdnnl_bf16_rows_supported() != 0

    /// `resize` of bf16 pixels by the AVX-512 rows: the same arithmetic, a row at a time.
    private static func resizeBF16Rows(_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ base: UnsafeRawPointer?,
                                       _ planes: Int, _ inH: Int, _ inW: Int, _ rows: ResizeAxis, _ cols: ResizeAxis,
                                       _ relu: Bool, _ threads: Int) {
        let outH = rows.lo.count, outW = cols.lo.count, pixel = 16
        let (d, x, b) = (dst.assumingMemoryBound(to: UInt16.self), src.assumingMemoryBound(to: UInt16.self),
                         base?.assumingMemoryBound(to: UInt16.self))
        let nearest = rows.copies && cols.copies
        parallel(planes * outH, threads: threads, minimumChunk: 4) { r in
            cols.lo.withUnsafeBufferPointer { lo in
                cols.hi.withUnsafeBufferPointer { hi in
                    cols.weight.withUnsafeBufferPointer { wx in
                        for row in r {
                            let (plane, i) = row.quotientAndRemainder(dividingBy: outH)
                            let s = x + plane * inH * inW * pixel, at = row * outW * pixel
                            let r0 = s + Int(rows.lo[i]) * inW * pixel
                            if nearest {
                                cdnnl_bf16_nearest_row(d + at, r0, b.map { $0 + at }, lo.baseAddress, outW, relu ? 1 : 0)
                            } else {
                                cdnnl_bf16_bilinear_row(d + at, r0, s + Int(rows.hi[i]) * inW * pixel, rows.weight[i], lo.baseAddress,
                                                        hi.baseAddress, wx.baseAddress, b.map { $0 + at }, outW, relu ? 1 : 0)
                            }
                        }
                    }
                }
            }
        }
    }

    private static func resize<P: PixelStorage>(_: P.Type, _ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer,
                                                _ base: UnsafeRawPointer?, _ planes: Int, _ inH: Int, _ inW: Int,
                                                _ rows: ResizeAxis, _ cols: ResizeAxis, _ relu: Bool, _ threads: Int) {
        typealias V = P.Vector
        let outH = rows.lo.count, outW = cols.lo.count
        if rows.copies && cols.copies {
            // Nearest (HRNet's low-to-high fusion): one load per output pixel, no interpolation.
            // Memory-bound, so the loop is specialised on `base` and `relu`.
            parallel(planes * outH, threads: threads, minimumChunk: 4) { r in
                cols.lo.withUnsafeBufferPointer { cols in
                    for row in r {
                        let plane = row / outH, i = row % outH
                        let from = plane * inH * inW + Int(rows.lo[i]) * inW
                        let out = (plane * outH + i) * outW
                        switch (base, relu) {
                        case (let base?, true):
                            for j in 0..<outW {
                                let v = P.load(src, from + Int(cols[j])) + P.load(base, out + j)
                                P.store(P.relu(v), dst, out + j)
                            }
                        case (let base?, false):
                            for j in 0..<outW { P.store(P.load(src, from + Int(cols[j])) + P.load(base, out + j), dst, out + j) }
                        case (nil, _):
                            for j in 0..<outW {
                                let v = P.load(src, from + Int(cols[j]))
                                P.store(relu ? P.relu(v) : v, dst, out + j)
                            }
                        }
                    }
                }
            }
            return
        }
        parallel(planes * outH, threads: threads, minimumChunk: 4) { r in
            for row in r {
                let plane = row / outH, i = row % outH
                let s = plane * inH * inW
                let r0 = s + Int(rows.lo[i]) * inW, r1 = s + Int(rows.hi[i]) * inW
                let wy = V(repeating: rows.weight[i])
                let out = (plane * outH + i) * outW
                for j in 0..<outW {
                    let c0 = Int(cols.lo[j]), c1 = Int(cols.hi[j])
                    let wx = V(repeating: cols.weight[j])
                    let a = P.load(src, r0 + c0), b = P.load(src, r0 + c1)
                    let c = P.load(src, r1 + c0), d = P.load(src, r1 + c1)
                    let top = a + (b - a) * wx
                    let bottom = c + (d - c) * wx
                    var v = top + (bottom - top) * wy
                    if let base { v += P.load(base, out + j) }
                    if relu { v = P.relu(v) }
                    P.store(v, dst, out + j)
                }
            }
        }
    }
}

/// How activations are stored: fp32, or bf16 (the upper half of an fp32, rounded to nearest even).
public enum Element: Sendable {
    case f32, bf16
    var size: Int { self == .f32 ? 4 : 2 }
}

/// Scalar access to activation storage, as fp32.
protocol Storage {
    static func get(_ p: UnsafeRawPointer, _ i: Int) -> Float
    static func put(_ v: Float, _ p: UnsafeMutableRawPointer, _ i: Int)
}
enum F32: Storage {
    @inline(__always) static func get(_ p: UnsafeRawPointer, _ i: Int) -> Float { p.load(fromByteOffset: i * 4, as: Float.self) }
    @inline(__always) static func put(_ v: Float, _ p: UnsafeMutableRawPointer, _ i: Int) { p.storeBytes(of: v, toByteOffset: i * 4, as: Float.self) }
}
enum BF16: Storage {
    @inline(__always) static func get(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(bitPattern: UInt32(p.load(fromByteOffset: i * 2, as: UInt16.self)) << 16)
    }
    @inline(__always) static func put(_ v: Float, _ p: UnsafeMutableRawPointer, _ i: Int) {
        let bits = v.bitPattern
        p.storeBytes(of: UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16), toByteOffset: i * 2, as: UInt16.self)
    }
}

/// Access to one pixel (a channel block) as a SIMD vector of fp32; `i` counts pixels.
protocol PixelStorage {
    associatedtype Vector: SIMD where Vector.Scalar == Float
    static func load(_ p: UnsafeRawPointer, _ i: Int) -> Vector
    static func store(_ v: Vector, _ p: UnsafeMutableRawPointer, _ i: Int)
    /// max(v, 0) per lane (see SIMD+ReLU.swift for why not `pointwiseMax`).
    static func relu(_ v: Vector) -> Vector
}
enum F32x16: PixelStorage {
    @inline(__always) static func relu(_ v: SIMD16<Float>) -> SIMD16<Float> { v.positivePart }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> { p.loadUnaligned(fromByteOffset: i * 64, as: SIMD16<Float>.self) }
    @inline(__always) static func store(_ v: SIMD16<Float>, _ p: UnsafeMutableRawPointer, _ i: Int) { p.storeBytes(of: v, toByteOffset: i * 64, as: SIMD16<Float>.self) }
}
enum F32x8: PixelStorage {
    @inline(__always) static func relu(_ v: SIMD8<Float>) -> SIMD8<Float> { v.positivePart }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> { p.loadUnaligned(fromByteOffset: i * 32, as: SIMD8<Float>.self) }
    @inline(__always) static func store(_ v: SIMD8<Float>, _ p: UnsafeMutableRawPointer, _ i: Int) { p.storeBytes(of: v, toByteOffset: i * 32, as: SIMD8<Float>.self) }
}
enum BF16x16: PixelStorage {
    @inline(__always) static func relu(_ v: SIMD16<Float>) -> SIMD16<Float> { v.positivePart }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
        let h = p.loadUnaligned(fromByteOffset: i * 32, as: SIMD16<UInt16>.self)
        return unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD16<Float>.self)
    }
    @inline(__always) static func store(_ v: SIMD16<Float>, _ p: UnsafeMutableRawPointer, _ i: Int) {
        let bits = unsafeBitCast(v, to: SIMD16<UInt32>.self)
        let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
        p.storeBytes(of: SIMD16<UInt16>(truncatingIfNeeded: rounded), toByteOffset: i * 32, as: SIMD16<UInt16>.self)
    }
}
