import Imaging

/// One filled shape of a synthetic scene: a capsule (a thick line with round caps: limbs,
/// torso), a disc (head, hands, eyes) or an axis-aligned box (occluders, furniture). Knowing the
/// shapes lets the generator say exactly which keypoints a later shape hides and how large a
/// figure is, without reading pixels back.
struct SyntheticShape {
    enum Kind {
        case capsule(a: Point, b: Point, radius: Double)
        case disc(center: Point, radius: Double)
        case box(x0: Double, y0: Double, x1: Double, y1: Double)
    }
    var kind: Kind
    var color: Color
    /// The person the shape belongs to, or -1 for scenery and occluders.
    var owner: Int
    /// A darker rim drawn one pixel outside the shape (reads as an edge, like clothing seams).
    var outline: Bool = false

    /// Whether the shape covers `p` (its pixel would be painted by the shape).
    func covers(_ p: Point) -> Bool {
        switch kind {
        case let .capsule(a, b, r):
            let dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy
            let t = l2 > 0 ? max(0, min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / l2)) : 0
            let ex = p.x - a.x - t * dx, ey = p.y - a.y - t * dy
            return ex * ex + ey * ey <= r * r
        case let .disc(c, r):
            return (p.x - c.x) * (p.x - c.x) + (p.y - c.y) * (p.y - c.y) <= r * r
        case let .box(x0, y0, x1, y1):
            return p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1
        }
    }

    /// The extent (x0, y0, x1, y1) of what the shape paints.
    var bounds: (x0: Double, y0: Double, x1: Double, y1: Double) {
        switch kind {
        case let .capsule(a, b, r): return (min(a.x, b.x) - r, min(a.y, b.y) - r, max(a.x, b.x) + r, max(a.y, b.y) + r)
        case let .disc(c, r): return (c.x - r, c.y - r, c.x + r, c.y + r)
        case let .box(x0, y0, x1, y1): return (x0, y0, x1, y1)
        }
    }

    /// Paints the shape with Imaging's drawing primitives (anti-aliased lines and discs).
    func draw(on image: inout Image) {
        switch kind {
        case let .capsule(a, b, r):
            if outline { image.drawLine(from: a, to: b, color: color.darkened(0.55), thickness: 2 * r + 2) }
            image.drawLine(from: a, to: b, color: color, thickness: 2 * r)
        case let .disc(c, r):
            if outline { image.drawCircle(center: c, radius: r + 1, color: color.darkened(0.55)) }
            image.drawCircle(center: c, radius: r, color: color)
        case let .box(x0, y0, x1, y1):
            let (ix, iy) = (Int(x0.rounded()), Int(y0.rounded()))
            let (w, h) = (Int(x1.rounded()) - ix + 1, Int(y1.rounded()) - iy + 1)
            if outline { image.drawRectangle(x: ix - 1, y: iy - 1, width: w + 2, height: h + 2, color: color.darkened(0.55), filled: true) }
            image.drawRectangle(x: ix, y: iy, width: w, height: h, color: color, filled: true)
        }
    }
}

extension Color {
    /// Each channel times `factor` (0...1).
    func darkened(_ factor: Double) -> Color {
        func f(_ v: UInt8) -> UInt8 { UInt8(max(0, min(255, (Double(v) * factor).rounded()))) }
        return Color(f(r), f(g), f(b))
    }

    /// Each channel moved by `delta`, clamped.
    func shifted(_ delta: Int) -> Color {
        func f(_ v: UInt8) -> UInt8 { UInt8(max(0, min(255, Int(v) + delta))) }
        return Color(f(r), f(g), f(b))
    }
}
