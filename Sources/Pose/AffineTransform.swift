import Foundation
import Geometry

/// A 2-D affine map, row-major 2x3: (x, y) -> (a x + b y + c, d x + e y + f).
public struct AffineTransform: Equatable, Sendable {
    public var m: [Double]  // a b c d e f

    public init(_ m: [Double]) {
        precondition(m.count == 6, "an affine transform has 6 entries")
        self.m = m
    }

    public func apply(_ p: Point) -> Point {
        Point(m[0] * p.x + m[1] * p.y + m[2], m[3] * p.x + m[4] * p.y + m[5])
    }

    public var inverse: AffineTransform {
        let det = m[0] * m[4] - m[1] * m[3]
        let a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det
        return AffineTransform([a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])])
    }

    /// The map taking three source points to three destination points (OpenCV's getAffineTransform).
    public init(from src: [Point], to dst: [Point]) {
        // Solve [x y 1] rows = dst for each output coordinate (3x3 linear system, Cramer's rule).
        let (x0, y0) = (src[0].x, src[0].y), (x1, y1) = (src[1].x, src[1].y), (x2, y2) = (src[2].x, src[2].y)
        let det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1)
        func solve(_ v0: Double, _ v1: Double, _ v2: Double) -> (Double, Double, Double) {
            let a = (v0 * (y1 - y2) - y0 * (v1 - v2) + (v1 * y2 - v2 * y1)) / det
            let b = (x0 * (v1 - v2) - v0 * (x1 - x2) + (x1 * v2 - x2 * v1)) / det
            let c = (x0 * (y1 * v2 - y2 * v1) - y0 * (x1 * v2 - x2 * v1) + v0 * (x1 * y2 - x2 * y1)) / det
            return (a, b, c)
        }
        let (a, b, c) = solve(dst[0].x, dst[1].x, dst[2].x)
        let (d, e, f) = solve(dst[0].y, dst[1].y, dst[2].y)
        self.init([a, b, c, d, e, f])
    }
}

/// A person box in the top-down pipeline's terms: a center and a scale in units of 200 pixels
/// (the official `pixel_std`), already widened to the network's aspect ratio and padded by 1.25.
public struct PersonCrop: Equatable, Sendable {
    public var center: Point
    /// Width and height / 200.
    public var scale: (w: Double, h: Double)
    /// Degrees, counter-clockwise as the official code (training augmentation; 0 at test time).
    public var rotation: Double

    public init(center: Point, scale: (w: Double, h: Double), rotation: Double = 0) {
        (self.center, self.scale, self.rotation) = (center, scale, rotation)
    }

    public static func == (a: PersonCrop, b: PersonCrop) -> Bool {
        a.center == b.center && a.scale == b.scale && a.rotation == b.rotation
    }

    /// The official box -> (center, scale): the center of (x, y, w, h); w or h widened to
    /// `aspectRatio` (w / h); divided by 200 (pixel_std); times `padding` (1.25).
    public init(box x: Double, _ y: Double, _ w: Double, _ h: Double, aspectRatio: Double, padding: Double = 1.25) {
        let center = Point(x: x + w * 0.5, y: y + h * 0.5)
        var (w, h) = (w, h)
        if w > aspectRatio * h { h = w / aspectRatio } else if w < aspectRatio * h { w = h * aspectRatio }
        self.init(center: center, scale: (w / 200 * padding, h / 200 * padding))
    }

    /// The official crop transform (image -> network input of `width` x `height`), from three
    /// point pairs: the center, the center plus the rotated half-width "up" vector, and a point
    /// perpendicular to those; `inverse` maps network (or heatmap) coordinates back to the image.
    public func transform(width: Int, height: Int, inverse: Bool = false) -> AffineTransform {
        let srcW = scale.w * 200
        let (dstW, dstH) = (Double(width), Double(height))
        let r = Double.pi * rotation / 180
        // (0, -srcW/2) rotated by r.
        let (sn, cs) = (sin(r), cos(r))
        let srcDir = Point(x: 0 * cs - (-srcW * 0.5) * sn, y: 0 * sn + (-srcW * 0.5) * cs)
        let src0 = center, src1 = Point(x: center.x + srcDir.x, y: center.y + srcDir.y)
        let dst0 = Point(x: dstW * 0.5, y: dstH * 0.5), dst1 = Point(x: dstW * 0.5, y: dstH * 0.5 - dstW * 0.5)
        func third(_ a: Point, _ b: Point) -> Point {
            let d = Point(x: a.x - b.x, y: a.y - b.y)
            return Point(b.x - d.y, b.y + d.x)
        }
        let src = [src0, src1, third(src0, src1)], dst = [dst0, dst1, third(dst0, dst1)]
        return inverse ? AffineTransform(from: dst, to: src) : AffineTransform(from: src, to: dst)
    }
}
