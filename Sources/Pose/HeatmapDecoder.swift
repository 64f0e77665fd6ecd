import DNN
import Foundation

/// One decoded keypoint in image coordinates, with the heatmap's value at the peak as its score.
public struct Keypoint: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var score: Double
    public init(x: Double, y: Double, score: Double) { (self.x, self.y, self.score) = (x, y, score) }
}

/// From heatmaps to keypoints, as the official code does it.
public enum HeatmapDecoder {
    public enum Method: Equatable, Sendable {
        /// Arg-max, then a quarter-pixel step toward the higher neighbour (official POST_PROCESS).
        case standard
        /// Arg-max alone (POST_PROCESS false).
        case argmax
        /// Distribution-aware refinement (DARK): Gaussian blur, log, one second-order Taylor step.
        case dark(kernel: Int)
    }

    /// Keypoints of image `n` of a (N, J, H, W) heatmap batch, mapped back through `crop`.
    public static func decode(_ heatmaps: Tensor, image n: Int, crop: PersonCrop, method: Method = .standard) -> [Keypoint] {
        let (joints, h, w) = (heatmaps.shape[1], heatmaps.shape[2], heatmaps.shape[3])
        let back = crop.transform(width: w, height: h, inverse: true)
        return (0..<joints).map { j in
            let start = (n * joints + j) * h * w
            let map = Array(heatmaps.scalars[start..<(start + h * w)])
            var (x, y, score) = peak(map, width: w)
            switch method {
            case .standard: (x, y) = quarterOffset(map, width: w, height: h, x: x, y: y)
            case .argmax: break
            case .dark(let k): (x, y) = dark(map, width: w, height: h, x: x, y: y, kernel: k)
            }
            let p = back.apply(Point(x, y))
            return Keypoint(x: p.x, y: p.y, score: Double(score))
        }
    }

    /// First maximum of a map; a non-positive maximum puts the peak at (0, 0) (official get_max_preds).
    static func peak(_ map: [Float], width: Int) -> (x: Double, y: Double, score: Float) {
        var best = 0
        for i in 1..<map.count where map[i] > map[best] { best = i }
        let v = map[best]
        guard v > 0 else { return (0, 0, v) }
        return (Double(best % width), Double(best / width), v)
    }

    /// A quarter pixel toward the higher neighbour in x and in y, away from the border.
    static func quarterOffset(_ map: [Float], width w: Int, height h: Int, x: Double, y: Double) -> (Double, Double) {
        let px = Int((x + 0.5).rounded(.down)), py = Int((y + 0.5).rounded(.down))
        guard 1 < px, px < w - 1, 1 < py, py < h - 1 else { return (x, y) }
        let dx = map[py * w + px + 1] - map[py * w + px - 1]
        let dy = map[(py + 1) * w + px] - map[(py - 1) * w + px]
        func sign(_ v: Float) -> Double { v > 0 ? 1 : (v < 0 ? -1 : 0) }
        return (x + sign(dx) * 0.25, y + sign(dy) * 0.25)
    }

    /// DARK: blur with a Gaussian of `kernel` (sigma as OpenCV derives it), rescale to the
    /// original maximum, take the log, and move by -H^-1 g from the arg-max.
    static func dark(_ map: [Float], width w: Int, height h: Int, x: Double, y: Double, kernel: Int) -> (Double, Double) {
        let blurred = blur(map, width: w, height: h, kernel: kernel)
        let logMap = blurred.map { log(max($0, 1e-10)) }
        let px = Int(x), py = Int(y)
        guard 1 < px, px < w - 2, 1 < py, py < h - 2 else { return (x, y) }
        func at(_ yy: Int, _ xx: Int) -> Double { logMap[yy * w + xx] }
        let dx = 0.5 * (at(py, px + 1) - at(py, px - 1))
        let dy = 0.5 * (at(py + 1, px) - at(py - 1, px))
        let dxx = 0.25 * (at(py, px + 2) - 2 * at(py, px) + at(py, px - 2))
        let dxy = 0.25 * (at(py + 1, px + 1) - at(py - 1, px + 1) - at(py + 1, px - 1) + at(py - 1, px - 1))
        let dyy = 0.25 * (at(py + 2, px) - 2 * at(py, px) + at(py - 2, px))
        let det = dxx * dyy - dxy * dxy
        guard det != 0 else { return (x, y) }
        // offset = -H^-1 g
        let ox = -(dyy * dx - dxy * dy) / det
        let oy = -(-dxy * dx + dxx * dy) / det
        return (x + ox, y + oy)
    }

    /// The map zero-padded by (kernel-1)/2, blurred by a separable Gaussian (reflect-101 at the
    /// padded edge, as cv2.GaussianBlur), cropped back, and scaled to the original maximum.
    static func blur(_ map: [Float], width w: Int, height h: Int, kernel k: Int) -> [Double] {
        let border = (k - 1) / 2
        let sigma = 0.3 * (Double(k - 1) * 0.5 - 1) + 0.8
        var g = (0..<k).map { exp(-pow(Double($0 - border), 2) / (2 * sigma * sigma)) }
        let total = g.reduce(0, +)
        g = g.map { $0 / total }
        let (pw, ph) = (w + 2 * border, h + 2 * border)
        var padded = [Double](repeating: 0, count: pw * ph)
        for yy in 0..<h { for xx in 0..<w { padded[(yy + border) * pw + xx + border] = Double(map[yy * w + xx]) } }
        func reflect(_ i: Int, _ n: Int) -> Int {
            var i = i
            while i < 0 || i >= n { i = i < 0 ? -i : 2 * n - 2 - i }
            return i
        }
        var rows = [Double](repeating: 0, count: pw * ph)
        for yy in 0..<ph { for xx in 0..<pw {
            var s = 0.0
            for t in 0..<k { s += g[t] * padded[yy * pw + reflect(xx + t - border, pw)] }
            rows[yy * pw + xx] = s
        }}
        var out = [Double](repeating: 0, count: w * h)
        for yy in 0..<h { for xx in 0..<w {
            var s = 0.0
            for t in 0..<k { s += g[t] * rows[reflect(yy + border + t - border, ph) * pw + xx + border] }
            out[yy * w + xx] = s
        }}
        let originalMax = Double(map.max() ?? 0), newMax = out.max() ?? 0
        return newMax != 0 ? out.map { $0 * originalMax / newMax } : out
    }
}
