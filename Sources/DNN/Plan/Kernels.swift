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

    static func relu(dst: UnsafeMutablePointer<Float>, src: UnsafePointer<Float>, count: Int, threads: Int) {
        parallel(count, threads: threads, minimumChunk: 1 << 16) { r in
            for i in r { dst[i] = max(src[i], 0) }
        }
    }

    static func add(dst: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                    count: Int, relu: Bool, threads: Int) {
        parallel(count, threads: threads, minimumChunk: 1 << 16) { r in
            if relu { for i in r { dst[i] = max(a[i] + b[i], 0) } }
            else { for i in r { dst[i] = a[i] + b[i] } }
        }
    }

    /// y = x * scale[c] + shift[c] (an unfolded batch norm), optionally ReLU.
    static func affine(dst: UnsafeMutablePointer<Float>, src: UnsafePointer<Float>, scale: [Float], shift: [Float],
                       planes: Int, blocks: Int, pixels: Int, block: Int, relu: Bool, threads: Int) {
        parallel(planes, threads: threads) { r in
            for plane in r {
                let cb = plane % blocks
                let base = plane * pixels * block
                for p in 0..<pixels {
                    for l in 0..<block {
                        let c = cb * block + l
                        let i = base + p * block + l
                        let v = c < scale.count ? src[i] * scale[c] + shift[c] : 0
                        dst[i] = relu ? max(v, 0) : v
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
    static func resize(dst: UnsafeMutablePointer<Float>, src: UnsafePointer<Float>, base: UnsafePointer<Float>?,
                       planes: Int, inH: Int, inW: Int, rows: ResizeAxis, cols: ResizeAxis,
                       block: Int, relu: Bool, threads: Int) {
        switch block {
        case 16: resize(SIMD16<Float>.self, dst, src, base, planes, inH, inW, rows, cols, relu, threads)
        case 8: resize(SIMD8<Float>.self, dst, src, base, planes, inH, inW, rows, cols, relu, threads)
        default: fatalError("unsupported channel block \(block)")
        }
    }

    private static func resize<V: SIMD>(_: V.Type, _ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>,
                                        _ base: UnsafePointer<Float>?, _ planes: Int, _ inH: Int, _ inW: Int,
                                        _ rows: ResizeAxis, _ cols: ResizeAxis, _ relu: Bool, _ threads: Int)
    where V.Scalar == Float {
        let outH = rows.lo.count, outW = cols.lo.count
        let b = V.scalarCount
        let zero = V(repeating: 0)
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V {
            UnsafeRawPointer(p).loadUnaligned(as: V.self)
        }
        parallel(planes * outH, threads: threads, minimumChunk: 4) { r in
            for row in r {
                let plane = row / outH, i = row % outH
                let s = src + plane * inH * inW * b
                let r0 = s + Int(rows.lo[i]) * inW * b, r1 = s + Int(rows.hi[i]) * inW * b
                let wy = V(repeating: rows.weight[i])
                let out = dst + (plane * outH + i) * outW * b
                let add = base.map { $0 + (plane * outH + i) * outW * b }
                for j in 0..<outW {
                    let c0 = Int(cols.lo[j]) * b, c1 = Int(cols.hi[j]) * b
                    let wx = V(repeating: cols.weight[j])
                    let top = load(r0 + c0) + (load(r0 + c1) - load(r0 + c0)) * wx
                    let bottom = load(r1 + c0) + (load(r1 + c1) - load(r1 + c0)) * wx
                    var v = top + (bottom - top) * wy
                    if let add { v += load(add + j * b) }
                    if relu { v = v.replacing(with: zero, where: v .< zero) }
                    UnsafeMutableRawPointer(out + j * b).storeBytes(of: v, as: V.self)
                }
            }
        }
    }
}
