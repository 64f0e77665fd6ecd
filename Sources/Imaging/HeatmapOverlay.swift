import Foundation

extension Image {
    /// A jet-like colour for v in 0...1 (dark blue, blue, cyan, yellow, red, dark red): the
    /// usual piecewise-linear jet, each channel `clamp(1.5 - |4v - k|)` with k = 3, 2, 1.
    public static func jetColor(_ value: Double) -> Color {
        let v = value.isFinite ? max(0, min(1, value)) : 0
        func channel(_ k: Double) -> UInt8 { UInt8((max(0, min(1, 1.5 - abs(4 * v - k))) * 255).rounded()) }
        return Color(channel(3), channel(2), channel(1))
    }

    /// The image with a heatmap blended over it. `map` is `width x height` row-major, any size;
    /// it is resized to the image bilinearly (pixel centres aligned, like cv2.resize
    /// INTER_LINEAR), clamped to 0...1 (or divided by its maximum when `normalize`), coloured
    /// with `jetColor`, and blended with opacity `alpha * value`: where the map is 0 the image is
    /// unchanged, where it is 1 the colour covers `alpha` of it. A map whose size does not
    /// match its count returns the image unchanged.
    /// - Complexity: O(image pixels).
    public func overlayingHeatmap(_ map: [Float], width mw: Int, height mh: Int, alpha: Double, normalize: Bool = false) -> Image {
        guard mw > 0, mh > 0, map.count == mw * mh else { return self }
        var scale: Float = 1
        if normalize, let peak = map.filter({ $0.isFinite }).max(), peak > 0 { scale = 1 / peak }
        let a = max(0, min(1, alpha.isFinite ? alpha : 0))
        var out = self
        let sx = Double(mw) / Double(width), sy = Double(mh) / Double(height)
        for y in 0..<height {
            let fy = max(0, min(Double(mh - 1), (Double(y) + 0.5) * sy - 0.5))
            let y0 = Int(fy), y1 = min(mh - 1, y0 + 1), wy = fy - Double(y0)
            for x in 0..<width {
                let fx = max(0, min(Double(mw - 1), (Double(x) + 0.5) * sx - 0.5))
                let x0 = Int(fx), x1 = min(mw - 1, x0 + 1), wx = fx - Double(x0)
                func at(_ yy: Int, _ xx: Int) -> Double {
                    let v = map[yy * mw + xx] * scale
                    return v.isFinite ? Double(max(0, min(1, v))) : 0
                }
                let v = (at(y0, x0) * (1 - wx) + at(y0, x1) * wx) * (1 - wy) + (at(y1, x0) * (1 - wx) + at(y1, x1) * wx) * wy
                if v > 0 { out.blend(x, y, Image.jetColor(v), a * v) }
            }
        }
        return out
    }
}
