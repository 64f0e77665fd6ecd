import DNN

/// Flip test: the network also sees the mirrored crop; its heatmaps are mirrored back, left and
/// right joints swapped, shifted one pixel right (the official SHIFT_HEATMAP, which undoes the
/// half-pixel bias of mirroring an even-width map), and averaged with the plain heatmaps.
public enum FlipTest {
    /// Mirrors an NCHW batch along W (for the input crops, or heatmaps).
    public static func mirror(_ t: Tensor) -> Tensor {
        let w = t.shape[3], rows = t.count / w
        var out = t
        for r in 0..<rows { for x in 0..<w { out.scalars[r * w + x] = t.scalars[r * w + w - 1 - x] } }
        return out
    }

    /// Heatmaps of the mirrored crops brought back to the plain crops' frame.
    public static func flipBack(_ flipped: Tensor, pairs: [[Int]], shift: Bool = true) -> Tensor {
        let (n, j, h, w) = (flipped.shape[0], flipped.shape[1], flipped.shape[2], flipped.shape[3])
        var out = mirror(flipped)
        let plane = h * w
        for b in 0..<n {
            for pair in pairs {
                let (a, c) = ((b * j + pair[0]) * plane, (b * j + pair[1]) * plane)
                for k in 0..<plane { out.scalars.swapAt(a + k, c + k) }
            }
        }
        if shift {
            for r in 0..<(n * j * h) {
                let row = r * w
                for x in stride(from: w - 1, through: 1, by: -1) { out.scalars[row + x] = out.scalars[row + x - 1] }
            }
        }
        return out
    }

    /// (plain + flipped back) / 2.
    public static func average(_ plain: Tensor, _ flippedBack: Tensor) -> Tensor {
        Tensor(shape: plain.shape, scalars: zip(plain.scalars, flippedBack.scalars).map { ($0 + $1) * 0.5 })
    }
}
