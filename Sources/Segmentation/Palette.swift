import Imaging

/// Class colours for colour label maps and overlays.
public struct Palette: Sendable {
    public let colors: [(UInt8, UInt8, UInt8)]

    public init(colors: [(UInt8, UInt8, UInt8)]) { self.colors = colors }

    /// Cityscapes' 19 train-id colours.
    public static let cityscapes = Palette(colors: Cityscapes.colors)

    /// The PASCAL VOC bit-interleaved palette the official code's `get_palette` builds: colour
    /// of index j spreads j's bits 0/1/2 over the top bits of R/G/B. `offset` skips the first
    /// entries (1 for PASCAL-Context's 59 classes, so class 0 is not background black).
    public static func voc(count: Int, offset: Int = 0) -> Palette {
        Palette(colors: (0..<count).map { k in
            var lab = k + offset, r = 0, g = 0, b = 0, i = 0
            while lab > 0 {
                r |= ((lab >> 0) & 1) << (7 - i)
                g |= ((lab >> 1) & 1) << (7 - i)
                b |= ((lab >> 2) & 1) << (7 - i)
                i += 1
                lab >>= 3
            }
            return (UInt8(r), UInt8(g), UInt8(b))
        })
    }

    /// The palette of a data set by the config's DATASET.DATASET name.
    public static func forDataset(_ name: String, classes: Int) -> Palette {
        switch name.lowercased() {
        case "cityscapes" where classes == 19: return .cityscapes
        case "pascal_ctx", "pascal_context": return .voc(count: classes, offset: classes == 59 ? 1 : 0)
        default: return .voc(count: classes)
        }
    }

    /// The colour of a class; ignore and unknown ids are black.
    public func color(_ label: UInt8) -> (UInt8, UInt8, UInt8) {
        Int(label) < colors.count ? colors[Int(label)] : (0, 0, 0)
    }

    /// An RGB picture of a label map.
    public func colorize(_ map: LabelMap) -> Image {
        var pixels = [UInt8](repeating: 0, count: map.labels.count * 3)
        for (i, v) in map.labels.enumerated() {
            let c = color(v)
            pixels[3 * i] = c.0; pixels[3 * i + 1] = c.1; pixels[3 * i + 2] = c.2
        }
        return Image(width: map.width, height: map.height, fill: (0, 0, 0)).replacingPixels(pixels)
    }

    /// The photo with the class colours blended in: `round((1 - alpha) * photo + alpha * colour)`
    /// per sample; ignore pixels keep the photo. The map must have the photo's size.
    public func overlay(_ map: LabelMap, on photo: Image, alpha: Double = 0.5) throws -> Image {
        guard map.width == photo.width, map.height == photo.height else {
            throw SegmentationError("overlay: label map \(map.width) x \(map.height) does not match the image \(photo.width) x \(photo.height)")
        }
        let a = max(0, min(1, alpha))
        var pixels = photo.pixels
        for (i, v) in map.labels.enumerated() where v != LabelMap.ignore {
            let c = color(v)
            for (k, s) in [c.0, c.1, c.2].enumerated() {
                pixels[3 * i + k] = UInt8(((1 - a) * Double(pixels[3 * i + k]) + a * Double(s)).rounded())
            }
        }
        return photo.replacingPixels(pixels)
    }
}

extension Image {
    /// The same size with other samples (the count is the caller's guarantee).
    func replacingPixels(_ pixels: [UInt8]) -> Image {
        var copy = self
        copy.pixels = pixels
        return copy
    }
}

/// The class names of a data set by the config's DATASET.DATASET: Cityscapes' 19 train ids,
/// PASCAL-Context's 59, else "class k".
public enum DatasetClassNames {
    public static func names(dataset: String, classes n: Int) -> [String] {
        let d = dataset.lowercased()
        if d == "cityscapes" && n == 19 { return Cityscapes.classNames }
        if d.hasPrefix("pascal") && n == 59 { return PascalContext.classNames }
        return (0..<n).map { "class \($0)" }
    }
}
