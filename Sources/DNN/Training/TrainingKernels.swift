import Foundation

/// The engine's own backward kernels, for what oneDNN 2.6 has no primitive for or where a
/// memory-bound loop is all there is: ReLU from its output, gradient accumulation, resize
/// (nearest and bilinear with either corner rule) and concat. fp32, blocked layout
/// (N, ceil(C/B), H, W, B) as the forward kernels in `Kernels`.
enum TrainingKernels {
    /// gx (+)= y > 0 ? gy : 0. `gx` may be `gy` (in place).
    /// `count` is a multiple of 16 for blocked activations; any tail is done scalar.
    static func reluBackward(gx: UnsafeMutablePointer<Float>, gy: UnsafePointer<Float>, y: UnsafePointer<Float>,
                             count: Int, accumulate: Bool, threads: Int) {
        typealias V = SIMD16<Float>
        let vectors = count / 16
        Kernels.parallel(vectors, threads: threads, minimumChunk: 1 << 12) { r in
            for k in r {
                let o = k * 16
                let yv = UnsafeRawPointer(y + o).loadUnaligned(as: V.self)
                var g = UnsafeRawPointer(gy + o).loadUnaligned(as: V.self).gated(by: yv)
                if accumulate { g += UnsafeRawPointer(gx + o).loadUnaligned(as: V.self) }
                UnsafeMutableRawPointer(gx + o).storeBytes(of: g, as: V.self)
            }
        }
        for i in (vectors * 16)..<count {
            let g = y[i] > 0 ? gy[i] : 0
            gx[i] = accumulate ? gx[i] + g : g
        }
    }

    /// dst = a + b, then max(·, 0) if `relu`. `dst` may be `a` or `b` (in place).
    static func add(_ dst: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int,
                    relu: Bool, threads: Int) {
        typealias V = SIMD16<Float>
        let vectors = count / 16
        Kernels.parallel(vectors, threads: threads, minimumChunk: 1 << 12) { r in
            for k in r {
                let o = k * 16
                var v = UnsafeRawPointer(a + o).loadUnaligned(as: V.self) + UnsafeRawPointer(b + o).loadUnaligned(as: V.self)
                if relu { v = v.positivePart }
                UnsafeMutableRawPointer(dst + o).storeBytes(of: v, as: V.self)
            }
        }
        for i in (vectors * 16)..<count { dst[i] = relu ? max(a[i] + b[i], 0) : a[i] + b[i] }
    }

    /// Where `addBackward` puts an input's gradient: written, or added to what is there.
    struct GradientTarget {
        let pointer: UnsafeMutablePointer<Float>
        let accumulate: Bool
    }

    /// The backward of (add -> ReLU): g = y > 0 ? gy : 0 (g = gy without `y`), written or added
    /// to the gradients of the add's (at most two) inputs in one pass. A target may be `gy`
    /// itself (written in place: each vector of g is formed before any target is written).
    static func addBackward(gy: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>?, targets: [GradientTarget], count: Int,
                            threads: Int) {
        precondition(targets.count == 1 || targets.count == 2, "add has two inputs")
        let a = targets[0], b = targets.count > 1 ? targets[1] : nil
        typealias V = SIMD16<Float>
        let vectors = count / 16
        let mask = y ?? UnsafePointer(gy)
        let relu = y != nil
        @inline(__always) func put(_ t: GradientTarget, _ o: Int, _ g: V) {
            let p = UnsafeMutableRawPointer(t.pointer + o)
            p.storeBytes(of: t.accumulate ? p.loadUnaligned(as: V.self) + g : g, as: V.self)
        }
        Kernels.parallel(vectors, threads: threads, minimumChunk: 1 << 12) { r in
            for k in r {
                let o = k * 16
                var g = UnsafeRawPointer(gy + o).loadUnaligned(as: V.self)
                if relu { g = g.gated(by: UnsafeRawPointer(mask + o).loadUnaligned(as: V.self)) }
                put(a, o, g)
                if let b { put(b, o, g) }
            }
        }
        for i in (vectors * 16)..<count {
            let g = relu ? (mask[i] > 0 ? gy[i] : 0) : gy[i]
            for t in targets { t.pointer[i] = t.accumulate ? t.pointer[i] + g : g }
        }
    }

    /// dst (+)= src.
    /// Dropout2d's mask: each of `count` (image, channel) entries 0 with probability `p`, else
    /// 1 / (1 - p); drawn from (seed, stream) alone, so a step's masks can be drawn again.
    static func dropoutMask(_ mask: UnsafeMutablePointer<Float>, count: Int, probability p: Float, seed: UInt64, stream: UInt64) {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ (stream &+ 1) &* 0xBF58_476D_1CE4_E5B9)
        let keep = 1 / (1 - p)
        for i in 0..<count { mask[i] = rng.nextUnitFloat() < p ? 0 : keep }
    }

    /// dst (+)= src x mask[image, channel] over a blocked (nChw`block`c) tensor of `shape`.
    static func channelScale(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                             shape: Shape4, block: Int, accumulate: Bool, threads: Int) {
        let blocks = (shape.c + block - 1) / block, pixels = shape.h * shape.w
        Kernels.parallel(shape.n * blocks, threads: threads, minimumChunk: 1) { r in
            for plane in r {
                let (n, cb) = (plane / blocks, plane % blocks)
                let base = plane * pixels * block
                for ci in 0..<block {
                    let c = cb * block + ci
                    let m = c < shape.c ? mask[n * shape.c + c] : 0
                    for p in 0..<pixels {
                        let o = base + p * block + ci
                        dst[o] = accumulate ? dst[o] + src[o] * m : src[o] * m
                    }
                }
            }
        }
    }

    static func accumulate(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int, copy: Bool, threads: Int) {
        typealias V = SIMD16<Float>
        let vectors = count / 16
        Kernels.parallel(vectors, threads: threads, minimumChunk: 1 << 12) { r in
            if copy { (dst + r.lowerBound * 16).update(from: src + r.lowerBound * 16, count: r.count * 16); return }
            for k in r {
                let o = k * 16
                let v = UnsafeRawPointer(dst + o).loadUnaligned(as: V.self) + UnsafeRawPointer(src + o).loadUnaligned(as: V.self)
                UnsafeMutableRawPointer(dst + o).storeBytes(of: v, as: V.self)
            }
        }
        for i in (vectors * 16)..<count { dst[i] = copy ? src[i] : dst[i] + src[i] }
    }

    /// Running statistics as PyTorch updates them in training mode: an exponential average
    /// with `momentum` of the batch mean and of the *unbiased* batch variance (n / (n - 1)).
    static func updateRunningStatistics(mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                                        batchMean: UnsafePointer<Float>, batchVariance: UnsafePointer<Float>,
                                        channels: Int, samples: Int, momentum: Float) {
        let unbias = samples > 1 ? Float(samples) / Float(samples - 1) : 1
        for c in 0..<channels {
            mean[c] = (1 - momentum) * mean[c] + momentum * batchMean[c]
            variance[c] = (1 - momentum) * variance[c] + momentum * batchVariance[c] * unbias
        }
    }

    /// gx (+)= the adjoint of resize(x) applied to gy: each output pixel's gradient goes back
    /// to the (up to four) input pixels it was interpolated from, with the same weights.
    /// One plane (image, channel block) per task, so scattered adds never race.
    static func resizeBackward(gx: UnsafeMutablePointer<Float>, gy: UnsafePointer<Float>, planes: Int, inH: Int, inW: Int,
                               rows: Kernels.ResizeAxis, cols: Kernels.ResizeAxis, block: Int, accumulate: Bool, threads: Int) {
        switch block {
        case 16: resizeBackward(SIMD16<Float>.self, gx, gy, planes, inH, inW, rows, cols, accumulate, threads)
        default: resizeBackward(SIMD8<Float>.self, gx, gy, planes, inH, inW, rows, cols, accumulate, threads)
        }
    }

    private static func resizeBackward<V: SIMD>(_: V.Type, _ gx: UnsafeMutablePointer<Float>, _ gy: UnsafePointer<Float>,
                                                _ planes: Int, _ inH: Int, _ inW: Int, _ rows: Kernels.ResizeAxis,
                                                _ cols: Kernels.ResizeAxis, _ accumulate: Bool, _ threads: Int)
    where V.Scalar == Float {
        let outH = rows.lo.count, outW = cols.lo.count, b = V.scalarCount
        let src = UnsafeRawPointer(gy), dst = UnsafeMutableRawPointer(gx)
        @inline(__always) func load(_ p: UnsafeRawPointer, _ i: Int) -> V { p.loadUnaligned(fromByteOffset: i * b * 4, as: V.self) }
        @inline(__always) func add(_ v: V, _ i: Int) {
            dst.storeBytes(of: load(UnsafeRawPointer(dst), i) + v, toByteOffset: i * b * 4, as: V.self)
        }
        // Nearest: each output pixel came from one input pixel.
        let nearest = rows.lo == rows.hi && cols.lo == cols.hi
        Kernels.parallel(planes, threads: threads) { r in
            for plane in r {
                let sIn = plane * inH * inW, sOut = plane * outH * outW
                if !accumulate { (gx + sIn * b).initialize(repeating: 0, count: inH * inW * b) }
                if nearest {
                    for i in 0..<outH {
                        let r0 = sIn + Int(rows.lo[i]) * inW
                        for j in 0..<outW { add(load(src, sOut + i * outW + j), r0 + Int(cols.lo[j])) }
                    }
                    continue
                }
                for i in 0..<outH {
                    let r0 = sIn + Int(rows.lo[i]) * inW, r1 = sIn + Int(rows.hi[i]) * inW
                    let wy = V(repeating: rows.weight[i])
                    for j in 0..<outW {
                        let g = load(src, sOut + i * outW + j)
                        let c0 = Int(cols.lo[j]), c1 = Int(cols.hi[j])
                        let wx = V(repeating: cols.weight[j])
                        // Forward: (1-wy)((1-wx)a + wx b) + wy((1-wx)c + wx d); nearest has all weights 0.
                        let top = g - g * wy, bottom = g * wy
                        add(top - top * wx, r0 + c0)
                        add(top * wx, r0 + c1)
                        add(bottom - bottom * wx, r1 + c0)
                        add(bottom * wx, r1 + c1)
                    }
                }
            }
        }
    }

    /// Concat's backward: each input's gradient (+)= its channel slice of gy.
    /// `offset` is the input's first channel in the concatenation.
    static func concatBackward(gx: UnsafeMutablePointer<Float>, xChannels: Int, gy: UnsafePointer<Float>, yChannels: Int,
                               offset: Int, batch: Int, pixels: Int, block: Int, accumulate: Bool, threads: Int) {
        let xBlocks = (xChannels + block - 1) / block, yBlocks = (yChannels + block - 1) / block
        if !accumulate { gx.initialize(repeating: 0, count: batch * xBlocks * pixels * block) }
        Kernels.parallel(batch * xBlocks, threads: threads) { r in
            for task in r {
                let n = task / xBlocks, cb = task % xBlocks
                for l in 0..<block {
                    let c = cb * block + l
                    guard c < xChannels else { break }
                    let yc = c + offset
                    let xBase = (n * xBlocks + cb) * pixels * block + l
                    let yBase = (n * yBlocks + yc / block) * pixels * block + yc % block
                    for p in 0..<pixels { gx[xBase + p * block] += gy[yBase + p * block] }
                }
            }
        }
    }
}

extension TrainingKernels {
    /// The backward of group norm (optionally followed by ReLU, masked by its output `y`) on
    /// the blocked layout, from the forward's saved mean and 1/sqrt(var + eps) per (image, group):
    /// with g = gy (masked), x̂ = (x - mean) * rstd, over the M elements of each group,
    /// dx = rstd * (g·γ - mean(g·γ) - x̂ · mean(g·γ·x̂)); dγ[c] = Σ g·x̂ and dβ[c] = Σ g over
    /// images and pixels (written, not added). `gx` nil: the input needs no gradient.
    /// - Complexity: two passes over the value, O(N * C * H * W).
    static func groupNormBackward(gx: UnsafeMutablePointer<Float>?, accumulate: Bool, gy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                  y: UnsafePointer<Float>?, statistics: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                  dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>, shape s: Shape4, groups: Int,
                                  block: Int, threads: Int) {
        let blocks = (s.c + block - 1) / block, pixels = s.h * s.w, perGroup = s.c / groups
        let m = Double(perGroup * pixels)
        @inline(__always) func g(_ i: Int) -> Float { y.map { $0[i] > 0 ? gy[i] : 0 } ?? gy[i] }
        // Per (image, channel): Σ g and Σ g·x̂, one channel block per task.
        var sums = [Double](repeating: 0, count: 2 * s.n * blocks * block)
        sums.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            Kernels.parallel(s.n * blocks, threads: threads) { r in
                for plane in r {
                    let n = plane / blocks, cb = plane % blocks, base = plane * pixels * block
                    for l in 0..<block {
                        let c = cb * block + l
                        guard c < s.c else { break }
                        let k = n * groups + c / perGroup
                        let mean = statistics[k], rstd = statistics[s.n * groups + k]
                        var sg = 0.0, sgx = 0.0
                        for p in 0..<pixels {
                            let i = base + p * block + l
                            let gi = Double(g(i))
                            sg += gi
                            sgx += gi * Double((x[i] - mean) * rstd)
                        }
                        out[2 * (plane * block + l)] = sg
                        out[2 * (plane * block + l) + 1] = sgx
                    }
                }
            }
        }
        var a = [Double](repeating: 0, count: s.n * groups), b = a
        var dg = [Double](repeating: 0, count: s.c), db = dg
        for n in 0..<s.n { for c in 0..<s.c {
            let j = 2 * (n * blocks * block + c), k = n * groups + c / perGroup
            a[k] += sums[j] * Double(gamma[c])
            b[k] += sums[j + 1] * Double(gamma[c])
            db[c] += sums[j]
            dg[c] += sums[j + 1]
        }}
        for c in 0..<s.c { dGamma[c] = Float(dg[c]); dBeta[c] = Float(db[c]) }
        guard let gx else { return }
        let meanA = a.map { Float($0 / m) }, meanB = b.map { Float($0 / m) }
        Kernels.parallel(s.n * blocks, threads: threads) { r in
            for plane in r {
                let n = plane / blocks, cb = plane % blocks, base = plane * pixels * block
                for l in 0..<block {
                    let c = cb * block + l
                    for p in 0..<pixels {
                        let i = base + p * block + l
                        guard c < s.c else { if !accumulate { gx[i] = 0 }; continue }
                        let k = n * groups + c / perGroup
                        let mean = statistics[k], rstd = statistics[s.n * groups + k]
                        let xhat = (x[i] - mean) * rstd
                        let d = rstd * (g(i) * gamma[c] - meanA[k] - xhat * meanB[k])
                        gx[i] = accumulate ? gx[i] + d : d
                    }
                }
            }
        }
    }
}
