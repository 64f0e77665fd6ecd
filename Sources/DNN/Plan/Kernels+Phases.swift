/// Interleaving the output phases of a strided transposed convolution (see `TransposedPhases`).
extension Kernels {
    struct PhaseGeometry {
        /// The transposed convolution's stride s: s x s phases, phase (rh, rw) at index rh * s + rw.
        var stride: Int
        /// Rows of the phases of each rh, columns of the phases of each rw.
        var rows: [Int], columns: [Int]
        /// Images x channel blocks; the output's height and width.
        var planes: Int, outH: Int, outW: Int
        /// Bytes of one pixel of the blocked layout (a channel block).
        var pixelBytes: Int
    }

    /// dst[plane, h, w] = phase(h mod s, w mod s)[plane, h / s, w / s], a pixel (channel block) at a time.
    static func interleavePhases(dst: UnsafeMutableRawPointer, phases: [UnsafeRawPointer], _ g: PhaseGeometry, threads: Int) {
        switch g.pixelBytes {
        case 64: interleave(SIMD16<Float>.self, dst, phases, g, threads)
        case 32: interleave(SIMD8<Float>.self, dst, phases, g, threads)
        case 16: interleave(SIMD4<Float>.self, dst, phases, g, threads)
        default: fatalError("unsupported pixel size \(g.pixelBytes)")
        }
    }

    /// `Pixel` only carries the bytes (bf16 pixels move as half as many floats' bits).
    private static func interleave<Pixel: SIMD>(_: Pixel.Type, _ dst: UnsafeMutableRawPointer, _ phases: [UnsafeRawPointer],
                                                _ g: PhaseGeometry, _ threads: Int) {
        let s = g.stride, size = MemoryLayout<Pixel>.size
        parallel(g.planes * g.outH, threads: threads, minimumChunk: 4) { range in
            for row in range {
                let (plane, h) = row.quotientAndRemainder(dividingBy: g.outH)
                let (m, rh) = h.quotientAndRemainder(dividingBy: s)
                let out = dst + row * g.outW * size
                for rw in 0..<s {
                    let columns = g.columns[rw]
                    let from = phases[rh * s + rw] + ((plane * g.rows[rh] + m) * columns) * size
                    var w = rw
                    for q in 0..<columns {
                        out.storeBytes(of: from.loadUnaligned(fromByteOffset: q * size, as: Pixel.self), toByteOffset: w * size, as: Pixel.self)
                        w += s
                    }
                }
            }
        }
    }
}
