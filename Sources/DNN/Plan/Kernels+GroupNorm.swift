extension Kernels {
    /// Group normalization on the blocked layout, optionally followed by ReLU:
    /// y = (x - mean_g) / sqrt(var_g + eps) * gamma[c] + beta[c], where mean_g and the biased
    /// var_g run over one image's `C / groups` channels of group g and all its pixels.
    ///
    /// A group need not fill a channel block (FCOS: 256 channels in 32 groups of 8 against
    /// blocks of 16), so statistics are gathered per channel (in double, one pass over each
    /// block in parallel), combined per group, and turned into a per-channel scale and shift
    /// that one more pass applies. Variance is E[(x - mean)^2] from a second pass, not
    /// E[x^2] - mean^2, so large means cost no precision. Padding channels stay zero.
    /// - Complexity: three reads and one write of the value, O(N * C * H * W).
    /// - Parameter statistics: where training keeps each (image, group)'s mean and 1/sqrt(var + eps)
    ///   (2 x N x groups floats: means, then reciprocal deviations) for the backward pass.
    static func groupNorm(_ e: Element, dst: UnsafeMutableRawPointer, src: UnsafeRawPointer, gamma: [Float], beta: [Float],
                          shape s: Shape4, groups: Int, eps: Float, block: Int, relu: Bool, threads: Int,
                          statistics: UnsafeMutablePointer<Float>? = nil) {
        switch e {
        case .f32: groupNorm(F32.self, dst, src, gamma, beta, s, groups, eps, block, relu, threads, statistics)
        case .bf16: groupNorm(BF16.self, dst, src, gamma, beta, s, groups, eps, block, relu, threads, statistics)
        }
    }

    private static func groupNorm<E: Storage>(_: E.Type, _ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer,
                                              _ gamma: [Float], _ beta: [Float], _ s: Shape4, _ groups: Int, _ eps: Float,
                                              _ block: Int, _ relu: Bool, _ threads: Int,
                                              _ statistics: UnsafeMutablePointer<Float>?) {
        let blocks = (s.c + block - 1) / block, pixels = s.h * s.w
        let perGroup = s.c / groups
        let count = Double(perGroup * pixels)
        /// Per (image, channel) sums of f(x) over the pixels, one block of channels per task.
        func channelSums(_ f: @escaping (Int, Float) -> Double) -> [Double] {
            var sums = [Double](repeating: 0, count: s.n * blocks * block)
            sums.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                parallel(s.n * blocks, threads: threads) { r in
                    for plane in r {
                        let n = plane / blocks, cb = plane % blocks
                        let base = plane * pixels * block
                        for l in 0..<block {
                            let c = cb * block + l
                            guard c < s.c else { break }
                            var acc = 0.0
                            for p in 0..<pixels { acc += f(n * s.c + c, E.get(src, base + p * block + l)) }
                            out[plane * block + l] = acc
                        }
                    }
                }
            }
            return sums
        }
        /// Per (image, group) totals of per-channel sums.
        func groupTotals(_ sums: [Double]) -> [Double] {
            var totals = [Double](repeating: 0, count: s.n * groups)
            for n in 0..<s.n { for c in 0..<s.c { totals[n * groups + c / perGroup] += sums[n * blocks * block + c] } }
            return totals
        }
        let mean = groupTotals(channelSums { _, x in Double(x) }).map { $0 / count }
        let channelMean = (0..<(s.n * s.c)).map { mean[($0 / s.c) * groups + ($0 % s.c) / perGroup] }
        let variance = groupTotals(channelSums { nc, x in let d = Double(x) - channelMean[nc]; return d * d }).map { $0 / count }
        if let statistics {
            for g in 0..<(s.n * groups) {
                statistics[g] = Float(mean[g])
                statistics[s.n * groups + g] = Float(1 / (variance[g] + Double(eps)).squareRoot())
            }
        }

        // Apply as one affine per (image, channel).
        var scale = [Float](repeating: 0, count: s.n * blocks * block)
        var shift = scale
        for n in 0..<s.n { for c in 0..<s.c {
            let g = n * groups + c / perGroup
            let inv = 1 / (variance[g] + Double(eps)).squareRoot()
            let a = Double(gamma[c]) * inv
            scale[n * blocks * block + c] = Float(a)
            shift[n * blocks * block + c] = Float(Double(beta[c]) - mean[g] * a)
        }}
        parallel(s.n * blocks, threads: threads) { r in
            for plane in r {
                let base = plane * pixels * block, first = plane * block
                for p in 0..<pixels {
                    for l in 0..<block {
                        let i = base + p * block + l
                        let v = E.get(src, i) * scale[first + l] + shift[first + l]
                        E.put(relu ? max(v, 0) : v, dst, i)
                    }
                }
            }
        }
    }
}
