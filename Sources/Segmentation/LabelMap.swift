import Foundation
import Imaging

/// A per-pixel class map (train ids 0..<classes; `LabelMap.ignore` marks unlabelled pixels),
/// row-major, the form the official code feeds to the loss and to `get_confusion_matrix`.
public struct LabelMap: Sendable, Equatable {
    /// Pixels that count in no metric and no loss (the official configs' TRAIN.IGNORE_LABEL 255).
    public static let ignore: UInt8 = 255

    public let width: Int
    public let height: Int
    public var labels: [UInt8]

    public init(width: Int, height: Int, labels: [UInt8]) throws {
        guard width > 0, height > 0, labels.count == width * height else {
            throw SegmentationError("a \(width) x \(height) label map needs \(max(0, width * height)) labels, got \(labels.count)")
        }
        (self.width, self.height, self.labels) = (width, height, labels)
    }

    init(unchecked width: Int, _ height: Int, _ labels: [UInt8]) { (self.width, self.height, self.labels) = (width, height, labels) }

    /// Reads a label PNG as stored (8-bit gray or palette indices).
    public static func loadPNG(_ url: URL) throws -> LabelMap {
        let g = try GrayImage.loadPNG(url)
        return LabelMap(unchecked: g.width, g.height, g.pixels)
    }

    /// Checks every label is a class id below `classes` or `ignore`; the error names `file`, the
    /// first bad value and where it is.
    public func validate(classes: Int, file: String) throws {
        for (i, v) in labels.enumerated() where v != Self.ignore && Int(v) >= classes {
            throw SegmentationError("\(file): label \(v) at (x \(i % width), y \(i / width)) is not a class id "
                                    + "(0...\(classes - 1), or \(Self.ignore) for ignore)")
        }
    }

    /// Writes an 8-bit grayscale PNG atomically.
    public func writePNG(to url: URL) throws {
        try GrayImage(width: width, height: height, pixels: labels).writePNG(to: url)
    }
}
