extension Kernels {
    /// dst[i] = f(src[i]) over `count` stored elements (dst may be src).
    static func map(_ e: Element, dst: UnsafeMutableRawPointer, src: UnsafeRawPointer, count: Int, threads: Int,
                    _ f: @escaping (Float) -> Float) {
        switch e {
        case .f32: map(F32.self, dst, src, count, threads, f)
        case .bf16: map(BF16.self, dst, src, count, threads, f)
        }
    }
    private static func map<E: Storage>(_: E.Type, _ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ count: Int,
                                        _ threads: Int, _ f: (Float) -> Float) {
        parallel(count, threads: threads, minimumChunk: 1 << 14) { r in
            for i in r { E.put(f(E.get(src, i)), dst, i) }
        }
    }

    /// Zeroes the channels past `shape.c` in the last channel block of a blocked value.
    static func zeroPadding(_ e: Element, _ dst: UnsafeMutableRawPointer, shape s: Shape4, block: Int) {
        let pad = (block - s.c % block) % block
        guard pad > 0 else { return }
        let blocks = (s.c + block - 1) / block, pixels = s.h * s.w
        for n in 0..<s.n {
            let base = ((n * blocks + blocks - 1) * pixels) * block
            for p in 0..<pixels {
                for l in (block - pad)..<block {
                    switch e {
                    case .f32: F32.put(0, dst, base + p * block + l)
                    case .bf16: BF16.put(0, dst, base + p * block + l)
                    }
                }
            }
        }
    }
}

extension Kernels {
    /// Concatenation along channels of blocked activations whose channel counts are whole
    /// blocks: per image, input k's bytes follow input k-1's. Copied in pieces of at most 256 KB
    /// so both threads share even a single large input.
    static func concatenate(dst: UnsafeMutableRawPointer, sources: [UnsafeRawPointer], bytesPerImage: [Int], batch: Int, threads: Int) {
        let piece = 1 << 18
        var runs: [(to: UnsafeMutableRawPointer, from: UnsafeRawPointer, bytes: Int)] = []
        var to = dst
        for n in 0..<batch {
            for (source, bytes) in zip(sources, bytesPerImage) {
                var offset = 0
                while offset < bytes {
                    let count = min(piece, bytes - offset)
                    runs.append((to + offset, source + n * bytes + offset, count))
                    offset += count
                }
                to += bytes
            }
        }
        parallel(runs.count, threads: threads) { range in
            for run in runs[range] { run.to.copyMemory(from: run.from, byteCount: run.bytes) }
        }
    }
}
