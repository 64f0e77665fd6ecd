import FileSupport
import DNN
import Foundation
import Imaging

/// A procedural segmentation data set, so training and evaluation run without a download:
/// textured backgrounds with discs, boxes, triangles, thin wires and rings, each class with its
/// own colour family and texture (flat with shading, stripes, checks, thin dark lines, rings),
/// objects overlapping in random order. Deterministic for a seed. Written in the `folder`
/// layout of `SegmentationDataset`.
public enum SyntheticSegmentation {
    /// Class 0 is the background; `classes` takes the first names (2...6).
    public static let allClassNames = ["background", "disc", "box", "triangle", "wire", "ring"]
    public static let colors: [(UInt8, UInt8, UInt8)] = [(0, 0, 0), (220, 60, 60), (60, 170, 70), (70, 90, 210), (240, 240, 60), (200, 80, 200)]

    /// One image and its label map.
    public static func sample(index: Int, width: Int, height: Int, classes: Int, seed: UInt64) -> (Image, LabelMap) {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(index) &* 0x85EB_CA6B &+ 1)
        func uniform(_ a: Float, _ b: Float) -> Float { a + (b - a) * rng.nextUnitFloat() }
        func int(_ a: Int, _ b: Int) -> Int { a + Int(rng.next() % UInt64(b - a + 1)) }
        let n = width * height
        var pixels = [Float](repeating: 0, count: n * 3)
        var labels = [UInt8](repeating: 0, count: n)

        // Background: a gradient between two muted colours under a soft wavy texture (two
        // crossed sinusoids of random period), so smoothness alone does not tell the classes apart.
        let c0 = (0..<3).map { _ in uniform(40, 160) }, c1 = (0..<3).map { _ in uniform(40, 160) }
        let angle = uniform(0, 2 * .pi)
        let (k1, k2) = (uniform(0.05, 0.3), uniform(0.05, 0.3)), (p1, p2) = (uniform(0, 6.3), uniform(0, 6.3))
        let amplitude = uniform(5, 25)
        for y in 0..<height { for x in 0..<width {
            let t = (cos(angle) * Float(x) / Float(width) + sin(angle) * Float(y) / Float(height) + 1) / 2
            let wave = amplitude * sin(k1 * Float(x) + p1) * sin(k2 * Float(y) + p2)
            for c in 0..<3 { pixels[(y * width + x) * 3 + c] = c0[c] * (1 - t) + c1[c] * t + wave }
        }}

        // Objects, painted in order (later ones occlude earlier ones).
        let objects = int(3, 7)
        for _ in 0..<objects {
            let cls = int(1, classes - 1)
            let base = colors[cls]
            let tint = (0..<3).map { _ in uniform(-30, 30) }
            let colour = [Float(base.0) + tint[0], Float(base.1) + tint[1], Float(base.2) + tint[2]]
            let cx = uniform(0, Float(width)), cy = uniform(0, Float(height))
            let size = uniform(0.08, 0.25) * Float(min(width, height))
            // Texture parameters.
            let period = Float(int(3, 6)), direction = uniform(0, .pi)
            let (ax, ay, bx, by) = (uniform(0, Float(width)), uniform(0, Float(height)), uniform(0, Float(width)), uniform(0, Float(height)))
            let thickness = uniform(0.6, 1.3)
            let t0 = uniform(0, 2 * .pi)
            for y in 0..<height { for x in 0..<width {
                let px = Float(x) + 0.5, py = Float(y) + 0.5
                let dx = px - cx, dy = py - cy
                var inside = false
                var shade: Float = 1
                switch allClassNames[cls] {
                case "disc":
                    let r = (dx * dx + dy * dy).squareRoot()
                    inside = r < size
                    shade = 1.15 - 0.3 * r / size
                case "box":
                    inside = abs(dx) < size * 1.2 && abs(dy) < size * 0.8
                    let u = cos(direction) * px + sin(direction) * py
                    shade = Int((u / period).rounded(.down)) % 2 == 0 ? 1 : 0.7
                case "triangle":
                    // Three half-planes around the centre.
                    inside = (0..<3).allSatisfy { k in
                        let a = t0 + Float(k) * 2 * .pi / 3
                        return cos(a) * dx + sin(a) * dy < size * 0.6
                    }
                    shade = (Int(px / 4) + Int(py / 4)) % 2 == 0 ? 1 : 0.75
                case "wire":
                    // A thin segment from A to B (1-2.5 px wide).
                    let vx = bx - ax, vy = by - ay, len2 = max(vx * vx + vy * vy, 1)
                    let t = max(0, min(1, ((px - ax) * vx + (py - ay) * vy) / len2))
                    let ex = px - (ax + t * vx), ey = py - (ay + t * vy)
                    inside = (ex * ex + ey * ey).squareRoot() < thickness
                    shade = 0.35
                default: // ring
                    let r = (dx * dx + dy * dy).squareRoot()
                    inside = r < size && r > size * 0.6
                }
                guard inside else { continue }
                let i = y * width + x
                labels[i] = UInt8(cls)
                for c in 0..<3 { pixels[i * 3 + c] = colour[c] * shade }
            }}
        }
        // Sensor noise on everything.
        var bytes = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<(n * 3) { bytes[i] = UInt8(max(0, min(255, (pixels[i] + uniform(-12, 12)).rounded()))) }
        return (Image(width: width, height: height, fill: (0, 0, 0)).replacingPixels(bytes), LabelMap(unchecked: width, height, labels))
    }

    /// Writes `splits` (name -> image count) in the folder layout: classes.txt (with colours),
    /// images/<split>/NNNNN.png, labels/<split>/NNNNN.png. Existing files are an error unless `force`.
    public static func write(to root: URL, splits: [(name: String, count: Int)], width: Int, height: Int,
                             classes: Int, seed: UInt64, force: Bool = false,
                             progress: ((Int) -> Void)? = nil) throws {
        guard (2...allClassNames.count).contains(classes) else {
            throw SegmentationError("synthetic data has 2...\(allClassNames.count) classes, not \(classes)")
        }
        guard width >= 8, height >= 8, width <= 8192, height <= 8192 else {
            throw SegmentationError("synthetic images must be 8...8192 pixels a side, not \(width) x \(height)")
        }
        let fm = FileManager.default
        let classList = root.appendingPathComponent("classes.txt")
        if !force, fm.fileExists(atPath: classList.path) {
            throw SegmentationError("\(classList.path) exists; pass --force to replace the data set")
        }
        var offset = 0
        for (split, count) in splits {
            for sub in ["images", "labels"] {
                try fm.createDirectory(at: root.appendingPathComponent("\(sub)/\(split)"), withIntermediateDirectories: true)
            }
            for k in 0..<count {
                let (image, label) = sample(index: offset + k, width: width, height: height, classes: classes, seed: seed)
                let name = String(format: "%05d.png", k)
                try image.write(to: root.appendingPathComponent("images/\(split)/\(name)"))
                try label.writePNG(to: root.appendingPathComponent("labels/\(split)/\(name)"))
                progress?(1)
            }
            offset += count
        }
        var text = "# class [R G B], one per line; label value = line index (255 = ignore)\n"
        for c in 0..<classes {
            let (r, g, b) = colors[c]
            text += "\(allClassNames[c]) \(r) \(g) \(b)\n"
        }
        try writeAtomically(Data(text.utf8), to: classList)
    }
}
