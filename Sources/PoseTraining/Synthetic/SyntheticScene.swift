import Foundation
import Imaging

/// One person of a synthetic image, in COCO's annotation terms.
public struct SyntheticPerson: Sendable {
    /// 17 x (x, y, v): v 2 visible, 1 hidden behind another person or an occluder, 0 not
    /// labelled (outside the image, or the face of a figure seen from behind; x = y = 0).
    public var keypoints: [Double]
    /// x, y, w, h: the figure's extent, clipped to the image (or of what is seen of it, when
    /// `Variety.visibleBoxes`). Boxes take COCO's box convention, pixel i spanning [i, i + 1)
    /// (mirroring is x -> width - x, as mmdetection flips boxes), while keypoints sit on pixel
    /// centres at whole coordinates (mirroring is x -> width - 1 - x, as the official pose code
    /// flips joints): the drawing samples each pixel at its whole coordinates, so a box is the
    /// shapes' extent moved half a pixel right and down. Boxes left half a pixel short would
    /// teach a detector trained with flips boxes half a pixel off its labels.
    public var bbox: [Double]
    /// Pixels of the figure's silhouette inside the image (occluded parts included, unless
    /// `Variety.visibleBoxes`).
    public var area: Double
    /// Keypoints with v > 0.
    public var numKeypoints: Int
}

/// A procedural image of several figures on a textured background with occluders, and its
/// ground truth. Everything follows from (seed, index), so any image can be regenerated alone.
public struct SyntheticScene: Sendable {
    public var image: Image
    public var people: [SyntheticPerson]
    /// What was drawn, back to front (for tests that check the ground truth against it).
    var shapes: [SyntheticShape] = []

    /// What a detector needs beyond what pose training does: images with nobody in them (for
    /// false positives), people far away (small), and crowds. The defaults make the pose sets
    /// the default model was trained on, unchanged; the extras draw from a stream of their own,
    /// so a scene's figures are the same with or without them.
    public struct Variety: Sendable, Equatable {
        /// The share of images with no people (occluders and background only).
        public var emptyFraction = 0.0
        /// The smallest figure, as a share of the image height (0.3 by default).
        public var smallestHeight = 0.3
        /// Up to this many more people in some images (a crowd), overlapping the others.
        public var extraPeople = 0
        /// Boxes and areas of what is seen of each person (COCO's convention for detection),
        /// not of the whole figure behind occluders and nearer people; a person with nothing in
        /// view is left out. The pose sets keep whole-figure boxes (their crops hold every joint).
        public var visibleBoxes = false
        /// Each person's keypoints are the four extreme points of what is seen of them (left,
        /// top, right, bottom: `KeypointSet.extremes`) instead of the 17 joints: the
        /// targets of a box refiner (Detection's `BoxRefiner`), whose box is the one they span.
        /// Implies `visibleBoxes`.
        public var extremePoints = false
        public init() {}
    }

    /// Scene `index` of the set made with `seed`.
    public static func make(seed: UInt64, index: Int, width: Int, height: Int, variety: Variety = Variety()) -> SyntheticScene {
        var random = AugmentationRandom(seed: seed, epoch: -7, index: index)
        var extra = AugmentationRandom(seed: seed, epoch: -8, index: index)
        var image = background(&random, width: width, height: height)
        let W = Double(width), H = Double(height)

        // People, far (small) to near (large), so nearer figures cover farther ones.
        var count = [1, 1, 1, 2, 2, 2, 3, 3, 4, 5][random.int(below: 10)]
        if variety.extraPeople > 0, extra.uniform() < 0.3 { count += 1 + extra.int(below: variety.extraPeople) }
        if variety.emptyFraction > 0, extra.uniform() < variety.emptyFraction { count = 0 }
        let smallest = min(max(variety.smallestHeight, 0.02), 1)
        var heights = (0..<count).map { _ in H * random.uniform(smallest, 1.0) * (count > 3 ? 0.8 : 1) }
        heights.sort()
        var figures: [SyntheticFigure] = []
        for (i, h) in heights.enumerated() {
            // A figure with at least 4 joints in view (a few tries; else it is left out).
            for _ in 0..<8 {
                let pelvis = Point(x: random.uniform(0.05, 0.95) * W, y: random.uniform(0.3, 0.85) * H + (h - 0.6 * H) * 0.15)
                let figure = SyntheticFigure.random(&random, height: h, pelvis: pelvis, owner: i)
                let labelled = figure.joints.indices.filter { !figure.hidden.contains($0) && inside(figure.joints[$0], width, height) }
                if labelled.count >= 4 { figures.append(figure); break }
            }
        }
        var shapes = figures.flatMap(\.shapes)
        // Occluders in front of everyone: boxes, poles and balls, often over someone's joint.
        let occluders = [0, 0, 1, 1, 1, 2, 3][random.int(below: 7)]
        for _ in 0..<occluders {
            var at = Point(x: random.uniform(0, W), y: random.uniform(0, H))
            if !figures.isEmpty, random.uniform() < 0.7 {
                let f = figures[random.int(below: figures.count)]
                let j = f.joints[random.int(below: f.joints.count)]
                at = Point(j.x + random.normal() * 0.03 * W, j.y + random.normal() * 0.03 * H)
            }
            let color = Color(UInt8(random.int(below: 256)), UInt8(random.int(below: 256)), UInt8(random.int(below: 256)))
            let size = random.uniform(0.04, 0.16) * min(W, H)
            switch random.int(below: 3) {
            case 0:
                let aspect = random.uniform(0.4, 2.5)
                shapes.append(SyntheticShape(kind: .box(x0: at.x - size * aspect / 2, y0: at.y - size / aspect / 2,
                                                        x1: at.x + size * aspect / 2, y1: at.y + size / aspect / 2),
                                             color: color, owner: -1, outline: true))
            case 1:
                let angle = random.uniform(0, .pi), length = size * random.uniform(1.5, 4)
                let d = (x: cos(angle) * length / 2, y: sin(angle) * length / 2)
                shapes.append(SyntheticShape(kind: .capsule(a: Point(at.x - d.x, at.y - d.y), b: Point(at.x + d.x, at.y + d.y), radius: size * 0.25),
                                             color: color, owner: -1, outline: true))
            default:
                shapes.append(SyntheticShape(kind: .disc(center: at, radius: size * 0.6), color: color, owner: -1, outline: true))
            }
        }
        for shape in shapes { shape.draw(on: &image) }

        // Ground truth from the shapes: a joint is hidden (v 1) when a shape drawn after its
        // figure and not its own covers it.
        var people: [SyntheticPerson] = []
        var start = 0
        let owners = variety.visibleBoxes || variety.extremePoints ? visibleOwners(shapes, width: width, height: height) : nil
        let seen = owners.map { visibleExtents(people: figures.count, in: $0, width: width, height: height) }
        for (i, figure) in figures.enumerated() {
            let end = start + figure.shapes.count
            defer { start = end }
            let later = shapes[end...]
            var keypoints: [Double] = []
            var labelled = 0
            for (j, p) in figure.joints.enumerated() {
                if figure.hidden.contains(j) || !inside(p, width, height) {
                    keypoints += [0, 0, 0]
                    continue
                }
                let (x, y) = (rounded(p.x), rounded(p.y))
                let covered = later.contains { $0.owner != i && $0.covers(Point(x, y)) }
                keypoints += [x, y, covered ? 1 : 2]
                labelled += 1
            }
            let box: (bbox: [Double], area: Double)
            if let seen {
                guard let visible = seen[i] else { continue }
                box = visible
            } else {
                box = extent(figure.shapes, width: width, height: height)
            }
            if variety.extremePoints, let owners, let points = extremePoints(of: i, in: owners, box: box.bbox, width: width) {
                keypoints = points.flatMap { [$0.x, $0.y, 2] }
                labelled = points.count
            }
            people.append(SyntheticPerson(keypoints: keypoints, bbox: box.bbox, area: box.area, numKeypoints: labelled))
        }
        return SyntheticScene(image: image, people: people, shapes: shapes)
    }

    static func inside(_ p: Point, _ width: Int, _ height: Int) -> Bool {
        p.x >= 0 && p.y >= 0 && p.x <= Double(width - 1) && p.y <= Double(height - 1)
    }

    /// Coordinates as written to the JSON (two decimals).
    static func rounded(_ v: Double) -> Double { (v * 100).rounded() / 100 }

    /// The box around a figure's shapes, clipped to the image, and the silhouette's pixel count
    /// (pixel centres covered by one of its shapes).
    static func extent(_ shapes: [SyntheticShape], width: Int, height: Int) -> (bbox: [Double], area: Double) {
        var (x0, y0, x1, y1) = (Double.infinity, Double.infinity, -Double.infinity, -Double.infinity)
        for s in shapes {
            let b = s.bounds
            (x0, y0, x1, y1) = (min(x0, b.x0), min(y0, b.y0), max(x1, b.x1), max(y1, b.y1))
        }
        let box = boxConvention(x0, y0, x1, y1, width: width, height: height)
        x0 = max(0, x0); y0 = max(0, y0); x1 = min(Double(width), x1); y1 = min(Double(height), y1)
        var area = 0
        if x1 > x0, y1 > y0 {
            for y in Int(y0.rounded(.down))..<min(height, Int(y1.rounded(.up))) {
                for x in Int(x0.rounded(.down))..<min(width, Int(x1.rounded(.up))) {
                    let p = Point(x: Double(x), y: Double(y))
                    for s in shapes where s.covers(p) { area += 1; break }
                }
            }
        }
        return (box, Double(area))
    }

    /// The box (x, y, w, h, two decimals) of an extent in drawing coordinates (pixel centres at
    /// whole numbers) in COCO's box convention (pixel i spans [i, i + 1)), clipped to the image.
    static func boxConvention(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Int, height: Int) -> [Double] {
        let left = max(0, x0 + 0.5), top = max(0, y0 + 0.5)
        let right = min(Double(width), x1 + 0.5), bottom = min(Double(height), y1 + 0.5)
        return [rounded(left), rounded(top), rounded(max(0, right - left)), rounded(max(0, bottom - top))]
    }

    /// Who each pixel shows once every shape is painted in order: the owner of the last shape
    /// covering its centre (-1 scenery and occluders, -2 background).
    static func visibleOwners(_ shapes: [SyntheticShape], width: Int, height: Int) -> [Int32] {
        var owner = [Int32](repeating: -2, count: width * height)
        for shape in shapes {
            let b = shape.bounds
            let (ya, yb) = (max(0, Int(b.y0.rounded(.down))), min(height, Int(b.y1.rounded(.up)) + 1))
            let (xa, xb) = (max(0, Int(b.x0.rounded(.down))), min(width, Int(b.x1.rounded(.up)) + 1))
            guard ya < yb, xa < xb else { continue }
            for y in ya..<yb {
                for x in xa..<xb where shape.covers(Point(Double(x), Double(y))) { owner[y * width + x] = Int32(shape.owner) }
            }
        }
        return owner
    }

    /// For each of `people` persons, the box around the pixels that show them (each pixel spans
    /// half a pixel either side of its centre, as the shapes' bounds do, then in COCO's box
    /// convention) and their count; nil for a person no pixel shows. One pass over the owner map.
    static func visibleExtents(people: Int, in owner: [Int32], width: Int, height: Int) -> [(bbox: [Double], area: Double)?] {
        typealias Extent = (x0: Int, y0: Int, x1: Int, y1: Int, area: Int)
        var box = [Extent](repeating: (Int.max, Int.max, Int.min, Int.min, 0), count: people)
        for y in 0..<height {
            for x in 0..<width {
                let i = Int(owner[y * width + x])
                guard i >= 0, i < people else { continue }
                box[i] = (min(box[i].x0, x), min(box[i].y0, y), max(box[i].x1, x), max(box[i].y1, y), box[i].area + 1)
            }
        }
        return box.map { b -> (bbox: [Double], area: Double)? in
            guard b.area > 0 else { return nil }
            let box = boxConvention(Double(b.x0) - 0.5, Double(b.y0) - 0.5, Double(b.x1) + 0.5, Double(b.y1) + 0.5,
                                    width: width, height: height)
            return (box, Double(b.area))
        }
    }

    /// The extreme points of person `who` in the owner map, in drawing coordinates (pixel
    /// centres): the middle pixel of their leftmost column, of their top row, of their rightmost
    /// column and of their bottom row. `box` (COCO's convention, from `visibleExtents`) bounds
    /// the search. Its edges are then x(left), y(top), x(right) + 1, y(bottom) + 1.
    static func extremePoints(of who: Int, in owner: [Int32], box: [Double], width: Int) -> [Point]? {
        let x0 = Int(box[0].rounded()), y0 = Int(box[1].rounded())
        let x1 = Int((box[0] + box[2]).rounded()) - 1, y1 = Int((box[1] + box[3]).rounded()) - 1
        guard x1 >= x0, y1 >= y0 else { return nil }
        let me = Int32(who)
        func middle(_ hits: [Int]) -> Double? { hits.isEmpty ? nil : Double(hits[(hits.count - 1) / 2]) }
        func column(_ x: Int) -> Double? { middle((y0...y1).filter { owner[$0 * width + x] == me }) }
        func row(_ y: Int) -> Double? { middle((x0...x1).filter { owner[y * width + $0] == me }) }
        guard let left = column(x0), let top = row(y0), let right = column(x1), let bottom = row(y1) else { return nil }
        return [Point(Double(x0), left), Point(top, Double(y0)), Point(Double(x1), right), Point(bottom, Double(y1))]
    }

    /// A textured background: smooth colour fields, stripes, checks or a room (wall and floor),
    /// with scattered clutter and per-pixel noise.
    static func background(_ random: inout AugmentationRandom, width: Int, height: Int) -> Image {
        func color() -> Color { Color(UInt8(random.int(below: 256)), UInt8(random.int(below: 256)), UInt8(random.int(below: 256))) }
        var image: Image
        let kind = random.int(below: 4)
        switch kind {
        case 0:  // smooth colour field: a coarse random grid, resized bilinearly
            let gw = 2 + random.int(below: 6), gh = 2 + random.int(below: 5)
            var grid = [UInt8](repeating: 0, count: gw * gh * 3)
            for i in grid.indices { grid[i] = UInt8(random.int(below: 256)) }
            image = (try? Image(width: gw, height: gh, pixels: grid))?.resized(width: width, height: height)
                ?? Image(width: width, height: height, fill: (128, 128, 128))
        case 1, 2:  // stripes or checks at a random angle and period
            let a = color(), b = color()
            let period = random.uniform(4, 40), angle = random.uniform(0, .pi)
            let (c, s) = (cos(angle), sin(angle))
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                for x in 0..<width {
                    let u = (Double(x) * c + Double(y) * s) / period, v = (Double(y) * c - Double(x) * s) / period
                    let odd = kind == 1 ? Int(u.rounded(.down)) & 1 == 1 : (Int(u.rounded(.down)) + Int(v.rounded(.down))) & 1 == 1
                    let k = odd ? b : a, i = (y * width + x) * 3
                    pixels[i] = k.r; pixels[i + 1] = k.g; pixels[i + 2] = k.b
                }
            }
            image = (try? Image(width: width, height: height, pixels: pixels)) ?? Image(width: width, height: height, fill: (a.r, a.g, a.b))
        default:  // a room: wall above, floor below, shaded toward the horizon
            let wall = color(), floor = color().darkened(0.7)
            let horizon = Int(Double(height) * random.uniform(0.35, 0.75))
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                let k = y < horizon ? wall.darkened(0.75 + 0.25 * Double(y) / Double(max(1, horizon)))
                    : floor.darkened(0.6 + 0.4 * Double(y - horizon) / Double(max(1, height - horizon)))
                for x in 0..<width { let i = (y * width + x) * 3; pixels[i] = k.r; pixels[i + 1] = k.g; pixels[i + 2] = k.b }
            }
            image = (try? Image(width: width, height: height, pixels: pixels)) ?? Image(width: width, height: height, fill: (wall.r, wall.g, wall.b))
        }
        // Clutter: muted boxes and discs.
        for _ in 0..<random.int(below: 6) {
            let c = color().darkened(random.uniform(0.5, 0.9))
            let x = random.uniform(0, Double(width)), y = random.uniform(0, Double(height))
            let s = random.uniform(0.03, 0.2) * Double(min(width, height))
            if random.uniform() < 0.5 {
                image.drawRectangle(x: Int(x), y: Int(y), width: Int(s * random.uniform(0.5, 3)), height: Int(s), color: c, filled: true)
            } else {
                image.drawCircle(center: Point(x, y), radius: s / 2, color: c)
            }
        }
        // Sensor-like noise, amplitude 0...24 levels (xorshift per pixel: cheap).
        let amplitude = random.int(below: 25)
        if amplitude > 0 {
            var state = UInt32(truncatingIfNeeded: random.int(below: Int(UInt32.max))) | 1
            image.pixels.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count {
                    state ^= state << 13; state ^= state >> 17; state ^= state << 5
                    let n = Int(state % UInt32(2 * amplitude + 1)) - amplitude
                    p[i] = UInt8(max(0, min(255, Int(p[i]) + n)))
                }
            }
        }
        return image
    }
}
