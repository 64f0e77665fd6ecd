import Foundation
import Imaging

/// A procedural image-classification set: one coloured shape per image, its class the shape
/// (circle, square, triangle, star, cross, ring, diamond, hexagon, ...), with random colours,
/// position, size and rotation on a random two-colour gradient background with speckle noise.
/// Colour and position say nothing about the class, so a model must learn the shape. Written as
/// an `ImageFolder` (`OUT/train/<shape>/*.png`, `OUT/val/<shape>/*.png`); the same seed gives
/// the same set.
public struct SyntheticShapes: Sendable {
    public static let shapeNames = ["circle", "square", "triangle", "star", "cross", "ring", "diamond", "hexagon", "pentagon", "crescent"]

    public var width = 64
    public var height = 64

    public init(width: Int = 64, height: Int = 64) { (self.width, self.height) = (max(8, width), max(8, height)) }

    /// One picture of shape `shape` (an index into `shapeNames`).
    public func image(shape: Int, random: inout ClassificationRandom) -> Image {
        let (w, h) = (Double(width), Double(height))
        // Background: a linear gradient between two random colours in a random direction.
        let c0 = randomColor(&random), c1 = randomColor(&random)
        let angle = random.uniform(0, 2 * .pi)
        let (gx, gy) = (cos(angle), sin(angle))
        // The shape's colour keeps a clear distance from both background colours.
        var color = randomColor(&random)
        for _ in 0..<20 where distance(color, c0) < 120 || distance(color, c1) < 120 { color = randomColor(&random) }
        let side = min(w, h)
        let radius = random.uniform(0.25, 0.45) * side
        let cx = random.uniform(radius, w - radius), cy = random.uniform(radius, h - radius)
        let rotation = random.uniform(0, 2 * .pi)
        let inside = Self.region(Self.shapeNames[shape % Self.shapeNames.count])

        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let samples = 4
        for y in 0..<height {
            for x in 0..<width {
                let t = ((Double(x) / w - 0.5) * gx + (Double(y) / h - 0.5) * gy) + 0.5
                var rgb = (0..<3).map { Double(c0[$0]) * (1 - t) + Double(c1[$0]) * t }
                // Coverage by 4x4 supersampling in the shape's own frame (unit radius, rotated).
                var covered = 0
                for sy in 0..<samples {
                    for sx in 0..<samples {
                        let px = Double(x) + (Double(sx) + 0.5) / Double(samples) - cx
                        let py = Double(y) + (Double(sy) + 0.5) / Double(samples) - cy
                        let u = (px * cos(rotation) + py * sin(rotation)) / radius
                        let v = (-px * sin(rotation) + py * cos(rotation)) / radius
                        if inside(u, v) { covered += 1 }
                    }
                }
                let a = Double(covered) / Double(samples * samples)
                let noise = random.uniform(-12, 12)
                for c in 0..<3 {
                    rgb[c] = rgb[c] * (1 - a) + Double(color[c]) * a + noise
                    pixels[(y * width + x) * 3 + c] = UInt8(max(0, min(255, rgb[c].rounded())))
                }
            }
        }
        // Sizes are at least 8 x 8 and the samples fit them.
        return (try? Image(width: width, height: height, pixels: pixels)) ?? Image(width: width, height: height, fill: (0, 0, 0))
    }

    /// Writes `perClass.train` and `perClass.val` images of each of the first `classes` shapes
    /// under `root/train/<shape>/` and `root/val/<shape>/` (PNG, written atomically).
    /// - Returns: the number of images written.
    @discardableResult
    public func write(to root: URL, classes: Int, train: Int, val: Int, seed: UInt64,
                      progress: (Int) -> Void = { _ in }) throws -> Int {
        guard (2...Self.shapeNames.count).contains(classes) else {
            throw ClassificationError("--classes must be 2...\(Self.shapeNames.count) (the shapes: \(Self.shapeNames.joined(separator: ", ")))")
        }
        var written = 0
        for (split, count, salt) in [("train", train, 0), ("val", val, 1 << 20)] where count > 0 {
            for shape in 0..<classes {
                let dir = root.appendingPathComponent("\(split)/\(Self.shapeNames[shape])", isDirectory: true)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                for i in 0..<count {
                    var random = ClassificationRandom(seed: seed, epoch: salt + shape, index: i)
                    let name = String(format: "%@_%05d.png", Self.shapeNames[shape], i)
                    try image(shape: shape, random: &random).write(to: dir.appendingPathComponent(name))
                    written += 1
                    progress(written)
                }
            }
        }
        return written
    }

    private func randomColor(_ random: inout ClassificationRandom) -> [Int] { (0..<3).map { _ in random.int(below: 256) } }
    private func distance(_ a: [Int], _ b: [Int]) -> Double {
        Double(zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)).squareRoot()
    }

    /// The inside test of each shape in its own frame: centred at 0, radius about 1.
    static func region(_ name: String) -> @Sendable (Double, Double) -> Bool {
        func polygon(_ corners: Int, inner: Double? = nil) -> [(Double, Double)] {
            let n = inner == nil ? corners : corners * 2
            return (0..<n).map { k in
                let r = (inner != nil && k % 2 == 1) ? inner! : 1.0
                let a = -Double.pi / 2 + 2 * Double.pi * Double(k) / Double(n)
                return (r * cos(a), r * sin(a))
            }
        }
        func insidePolygon(_ p: [(Double, Double)]) -> @Sendable (Double, Double) -> Bool {
            { x, y in
                var inside = false
                var j = p.count - 1
                for i in 0..<p.count {
                    let (xi, yi) = p[i], (xj, yj) = p[j]
                    if (yi > y) != (yj > y), x < (xj - xi) * (y - yi) / (yj - yi) + xi { inside.toggle() }
                    j = i
                }
                return inside
            }
        }
        switch name {
        case "circle": return { x, y in x * x + y * y <= 1 }
        case "square": return { x, y in abs(x) <= 0.75 && abs(y) <= 0.75 }
        case "triangle": return insidePolygon(polygon(3))
        case "star": return insidePolygon(polygon(5, inner: 0.42))
        case "cross": return { x, y in (abs(x) <= 0.3 && abs(y) <= 1) || (abs(y) <= 0.3 && abs(x) <= 1) }
        case "ring": return { x, y in let r = x * x + y * y; return r <= 1 && r >= 0.36 }
        case "diamond": return { x, y in abs(x) / 0.65 + abs(y) <= 1 }
        case "hexagon": return insidePolygon(polygon(6))
        case "pentagon": return insidePolygon(polygon(5))
        default: return { x, y in x * x + y * y <= 1 && (x - 0.45) * (x - 0.45) + y * y > 0.6 }   // crescent
        }
    }
}
