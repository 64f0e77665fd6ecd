import Foundation

/// An RGB colour for drawing.
public struct Color: Sendable, Equatable, Hashable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    public static let white = Color(255, 255, 255)
    public static let black = Color(0, 0, 0)
    public static let red = Color(255, 0, 0)
    public static let green = Color(0, 255, 0)
    public static let blue = Color(0, 0, 255)
    public static let yellow = Color(255, 255, 0)
}

/// Colours for drawing poses (the keypoints themselves are `Pose`'s `KeypointSet`).
public enum PoseColors {
    /// One colour per limb of COCO's 19-limb skeleton (`KeypointSet.coco.skeleton` order): left
    /// side warm, right side cool, trunk green, head magenta.
    public static let cocoLimbs: [Color] = [
        Color(255, 128, 0), Color(255, 160, 0), Color(0, 128, 255), Color(0, 160, 255), Color(0, 200, 80),
        Color(255, 190, 0), Color(0, 190, 255), Color(0, 220, 100), Color(255, 100, 0),
        Color(0, 100, 255), Color(255, 70, 0), Color(0, 70, 255), Color(230, 0, 230), Color(200, 0, 200),
        Color(170, 0, 170), Color(230, 0, 230), Color(200, 0, 200), Color(170, 0, 170), Color(140, 0, 140),
    ]
}

/// Drawing in place. Coordinates are in pixels with pixel (i, j) centred on (i, j), the
/// convention of OpenCV and of the keypoints the pose pipeline returns. Everything clips to
/// the image; non-finite coordinates draw nothing.
extension Image {
    /// Blends `color` into pixel (x, y) with opacity `coverage` (0...1), rounding to nearest.
    @inline(__always)
    mutating func blend(_ x: Int, _ y: Int, _ color: Color, _ coverage: Double) {
        guard x >= 0, y >= 0, x < width, y < height, coverage > 0 else { return }
        let i = (y * width + x) * 3
        if coverage >= 1 {
            pixels[i] = color.r; pixels[i + 1] = color.g; pixels[i + 2] = color.b
            return
        }
        @inline(__always) func mix(_ a: UInt8, _ b: UInt8) -> UInt8 {
            UInt8(max(0, min(255, (Double(a) * (1 - coverage) + Double(b) * coverage).rounded())))
        }
        pixels[i] = mix(pixels[i], color.r)
        pixels[i + 1] = mix(pixels[i + 1], color.g)
        pixels[i + 2] = mix(pixels[i + 2], color.b)
    }

    /// A line `thickness` pixels wide with round caps: every pixel whose centre lies within
    /// thickness / 2 of the segment. Anti-aliased lines fade over the one-pixel rim.
    public mutating func drawLine(from a: Point, to b: Point, color: Color,
                                  thickness: Double = 2, antialiased: Bool = true) {
        guard a.x.isFinite, a.y.isFinite, b.x.isFinite, b.y.isFinite, thickness > 0 else { return }
        let half = thickness / 2, pad = half + 1
        let x0 = max(0, Int((min(a.x, b.x) - pad).rounded(.down))), x1 = min(width - 1, Int((max(a.x, b.x) + pad).rounded(.up)))
        let y0 = max(0, Int((min(a.y, b.y) - pad).rounded(.down))), y1 = min(height - 1, Int((max(a.y, b.y) + pad).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        let dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy
        for y in y0...y1 {
            for x in x0...x1 {
                let px = Double(x) - a.x, py = Double(y) - a.y
                let t = length2 > 0 ? max(0, min(1, (px * dx + py * dy) / length2)) : 0
                let ex = px - t * dx, ey = py - t * dy
                let distance = (ex * ex + ey * ey).squareRoot()
                blend(x, y, color, Image.coverage(distance: distance, radius: half, antialiased: antialiased))
            }
        }
    }

    /// A disc (or a ring `thickness` wide when not filled) centred on `center`.
    public mutating func drawCircle(center: Point, radius: Double, color: Color,
                                    filled: Bool = true, thickness: Double = 1, antialiased: Bool = true) {
        guard center.x.isFinite, center.y.isFinite, radius > 0 else { return }
        let pad = radius + thickness + 1
        let x0 = max(0, Int((center.x - pad).rounded(.down))), x1 = min(width - 1, Int((center.x + pad).rounded(.up)))
        let y0 = max(0, Int((center.y - pad).rounded(.down))), y1 = min(height - 1, Int((center.y + pad).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                let dx = Double(x) - center.x, dy = Double(y) - center.y
                let r = (dx * dx + dy * dy).squareRoot()
                let distance = filled ? r : abs(r - radius)
                let reach = filled ? radius : thickness / 2
                blend(x, y, color, Image.coverage(distance: distance, radius: reach, antialiased: antialiased))
            }
        }
    }

    /// An axis-aligned rectangle outline `thickness` pixels wide, drawn inside the box
    /// (x, y, width, height), or filled.
    public mutating func drawRectangle(x: Int, y: Int, width w: Int, height h: Int, color: Color,
                                       thickness: Int = 2, filled: Bool = false) {
        guard w > 0, h > 0 else { return }
        let t = max(1, thickness)
        func fill(_ fx: Int, _ fy: Int, _ fw: Int, _ fh: Int) {
            let xa = max(0, fx), xb = min(width, fx + fw), ya = max(0, fy), yb = min(height, fy + fh)
            guard xa < xb, ya < yb else { return }
            for yy in ya..<yb { for xx in xa..<xb { blend(xx, yy, color, 1) } }
        }
        if filled || 2 * t >= min(w, h) { fill(x, y, w, h); return }
        fill(x, y, w, t)
        fill(x, y + h - t, w, t)
        fill(x, y + t, t, h - 2 * t)
        fill(x + w - t, y + t, t, h - 2 * t)
    }

    /// A pose: each limb (a pair of keypoint indices) as a line in its colour when both ends
    /// score at least `threshold`, then each such keypoint as a filled circle on top.
    /// Indices outside `keypoints` are skipped.
    public mutating func drawPose(keypoints: [(x: Double, y: Double, score: Double)], skeleton: [(Int, Int)],
                                  threshold: Double, limbColors: [Color] = PoseColors.cocoLimbs,
                                  jointColor: Color = Color(255, 255, 255), thickness: Double = 3,
                                  jointRadius: Double = 3) {
        func visible(_ i: Int) -> Bool {
            i >= 0 && i < keypoints.count && keypoints[i].score >= threshold
                && keypoints[i].x.isFinite && keypoints[i].y.isFinite
        }
        for (index, limb) in skeleton.enumerated() where visible(limb.0) && visible(limb.1) {
            let color = limbColors.isEmpty ? Color.green : limbColors[index % limbColors.count]
            let a = keypoints[limb.0], b = keypoints[limb.1]
            drawLine(from: Point(a.x, a.y), to: Point(b.x, b.y), color: color, thickness: thickness)
        }
        for i in keypoints.indices where visible(i) {
            drawCircle(center: Point(keypoints[i].x, keypoints[i].y), radius: jointRadius, color: jointColor)
        }
    }

    /// Coverage of a pixel whose centre is `distance` from a shape reaching `radius`:
    /// 1 inside, 0 outside, a linear fade across the one-pixel rim when anti-aliased.
    @inline(__always)
    static func coverage(distance: Double, radius: Double, antialiased: Bool) -> Double {
        if antialiased { return max(0, min(1, radius + 0.5 - distance)) }
        return distance <= radius ? 1 : 0
    }
}
