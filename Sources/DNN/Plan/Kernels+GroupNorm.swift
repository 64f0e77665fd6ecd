extension Kernels {
    /// Group normalization on the blocked layout, optionally followed by ReLU:
    /// y = (x - mean_g) / sqrt(var_g + eps) * gamma[c] + beta[c], where mean_g and the biased
    /// var_g run over one image's `C / groups` channels of group g and all its pixels.
    ///
    /// A group need not fill a channel block (FCOS: 256 channels in 32 groups of 8 against
    /// blocks of 16), so statistics are gathered per channel (one pass over each block, in
    /// parallel, a pixel's channels as one vector), combined per group, and turned into a
    /// per-channel scale and shift that one more pass applies. Sums run in float over runs of
    /// 256 pixels and in double across them. Variance is E[(x - mean)^2] from a second pass,
    /// not E[x^2] - mean^2, so large means cost no precision. Padding channels stay zero.
    /// - Complexity: three reads and one write of the value, O(N * C * H * W).
    /// - Parameter statistics: where training keeps each (image, group)'s mean and 1/sqrt(var + eps)
    ///   (2 x N x groups floats: means, then reciprocal deviations) for the backward pass.
    static func groupNorm(_ e: Element, dst: UnsafeMutableRawPointer, src: UnsafeRawPointer, gamma: [Float], beta: [Float],
                          shape s: Shape4, groups: Int, eps: Float, block: Int, relu: Bool, threads: Int,
                          statistics: UnsafeMutablePointer<Float>? = nil) {
        switch (e, block) {
        case (.f32, 16): groupNorm(F32x16.self, dst, src, gamma, beta, s, groups, eps, relu, threads, statistics)
        case (.f32, 8): groupNorm(F32x8.self, dst, src, gamma, beta, s, groups, eps, relu, threads, statistics)
        case (.bf16, 16): groupNorm(BF16x16.self, dst, src, gamma, beta, s, groups, eps, relu, threads, statistics)
        default: preconditionFailure("group norm: unsupported layout \(e) block \(block) (int8 plans refuse group norm)")
        }
    }

    private static func groupNorm<P: PixelStorage>(_: P.Type, _ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer,
                                                   _ gamma: [Float], _ beta: [Float], _ shape: Shape4, _ groups: Int, _ eps: Float,
                                                   _ relu: Bool, _ threads: Int, _ statistics: UnsafeMutablePointer<Float>?) {
        typealias V = P.Vector
        let block = V.scalarCount, s = shape
        // Planes of (pixels x block); a pixel's block of channels is one vector.
        let lanesPerPixel = block
        let blocks = (s.c + block - 1) / block
        let pixels = s.h * s.w
        let perGroup = s.c / groups
        let count = Double(perGroup * pixels)
        let planeSize = pixels * lanesPerPixel
        /// Channel of lane `l` of channel block `cb`.
        func channel(_ cb: Int, _ l: Int) -> Int { cb * lanesPerPixel + l }

        /// Per (image, channel) sums of (x - centre[channel])^k over the pixels, k = 1 or 2.
        func channelSums(centre: [Float]?) -> [Double] {
            var sums = [Double](repeating: 0, count: s.n * blocks * lanesPerPixel)
            sums.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                parallel(s.n * blocks, threads: threads) { r in
                    for plane in r {
                        let n = plane / blocks, cb = plane % blocks
                        for lane0 in stride(from: 0, to: lanesPerPixel, by: block) {
                            var c0 = V(repeating: 0)
                            if let centre { for l in 0..<block { let c = channel(cb, lane0 + l); c0[l] = c < s.c ? centre[n * s.c + c] : 0 } }
                            var total = [Double](repeating: 0, count: block)
                            var p = 0
                            while p < pixels {
                                let end = min(pixels, p + 256)
                                var acc = V(repeating: 0)
                                while p < end {
                                    let v = P.load(src, (plane * planeSize + p * lanesPerPixel + lane0) / block) - c0
                                    acc += centre == nil ? v : v * v
                                    p += 1
                                }
                                for l in 0..<block { total[l] += Double(acc[l]) }
                            }
                            for l in 0..<block { out[plane * lanesPerPixel + lane0 + l] = total[l] }
                        }
                    }
                }
            }
            return sums
        }
        /// Per (image, group) totals of per-channel sums.
        func groupTotals(_ sums: [Double]) -> [Double] {
            var totals = [Double](repeating: 0, count: s.n * groups)
            for n in 0..<s.n { for c in 0..<s.c { totals[n * groups + c / perGroup] += sums[n * blocks * lanesPerPixel + c] } }
            return totals
        }
        let mean = groupTotals(channelSums(centre: nil)).map { $0 / count }
        let channelMean = (0..<(s.n * s.c)).map { Float(mean[($0 / s.c) * groups + ($0 % s.c) / perGroup]) }
        // Deviations from the float mean the second pass subtracts; the double mean corrects for its rounding.
        let squares = groupTotals(channelSums(centre: channelMean))
        var variance = [Double](repeating: 0, count: s.n * groups)
        for k in variance.indices {
            let shift = mean[k] - Double(Float(mean[k]))
            variance[k] = max(0, squares[k] / count - shift * shift)
        }
        if let statistics {
            for g in 0..<(s.n * groups) {
                statistics[g] = Float(mean[g])
                statistics[s.n * groups + g] = Float(1 / (variance[g] + Double(eps)).squareRoot())
            }
        }

        // Apply as one affine per (image, channel); padding lanes get 0 x + 0.
        var scale = [Float](repeating: 0, count: s.n * blocks * lanesPerPixel)
        var shift = scale
        for n in 0..<s.n { for c in 0..<s.c {
            let g = n * groups + c / perGroup
            let a = Double(gamma[c]) / (variance[g] + Double(eps)).squareRoot()
            scale[n * blocks * lanesPerPixel + c] = Float(a)
            shift[n * blocks * lanesPerPixel + c] = Float(Double(beta[c]) - mean[g] * a)
        }}
        parallel(s.n * blocks, threads: threads) { r in
            for plane in r {
                for lane0 in stride(from: 0, to: lanesPerPixel, by: block) {
                    var a = V(repeating: 0), b = V(repeating: 0)
                    for l in 0..<block { a[l] = scale[plane * lanesPerPixel + lane0 + l]; b[l] = shift[plane * lanesPerPixel + lane0 + l] }
                    for p in 0..<pixels {
                        let i = (plane * planeSize + p * lanesPerPixel + lane0) / block
                        let v = P.load(src, i) * a + b
                        P.store(relu ? P.relu(v) : v, dst, i)
                    }
                }
            }
        }
    }
}
