import Foundation

/// An 8-bit RGB image: interleaved samples, row-major, origin at the top left, the layout
/// OpenCV and PIL hand to PyTorch pipelines (after OpenCV's BGR -> RGB swap).
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` samples, R G B for each pixel.
    public var pixels: [UInt8]

    /// The default pixel limit for decoding: 100 megapixels (300 MB of RGB). Decoders read the
    /// header first and refuse larger images before allocating anything.
    public static let defaultMaxPixels = 100_000_000

    /// Wraps existing samples; throws if the count is not `width * height * 3` or the area is 0.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else {
            throw ImageError(.empty, file: "<memory>", "image size \(width) x \(height) has no pixels")
        }
        let (area, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, area <= Int.max / 3, pixels.count == area * 3 else {
            throw ImageError(.invalidArgument, file: "<memory>",
                             "\(pixels.count) samples do not make a \(width) x \(height) RGB image (need \(width) * \(height) * 3)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A solid image. Sizes below 1 are raised to 1 (this initializer cannot fail).
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8)) {
        let w = max(1, width), h = max(1, height)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for i in stride(from: 0, to: pixels.count, by: 3) {
            pixels[i] = fill.0
            pixels[i + 1] = fill.1
            pixels[i + 2] = fill.2
        }
        self.width = w
        self.height = h
        self.pixels = pixels
    }

    /// Internal: trusted sizes (the caller built `pixels` for them).
    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The RGB value at (x, y); nil outside the image.
    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8)? {
        guard x >= 0, y >= 0, x < width, y < height else { return nil }
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// The `width x height` region whose top-left corner is (x, y), like PIL's
    /// `Image.crop((x, y, x + width, y + height))`: parts outside the image are black.
    /// Sizes below 1 are raised to 1.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Image {
        let cw = max(1, w), ch = max(1, h)
        var out = [UInt8](repeating: 0, count: cw * ch * 3)
        let x0 = max(0, x), x1 = min(width, x + cw)
        let y0 = max(0, y), y1 = min(height, y + ch)
        if x1 > x0 && y1 > y0 {
            pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for sy in y0..<y1 {
                        let s = (sy * width + x0) * 3
                        let d = ((sy - y) * cw + (x0 - x)) * 3
                        for i in 0..<((x1 - x0) * 3) { dst[d + i] = src[s + i] }
                    }
                }
            }
        }
        return Image(uncheckedWidth: cw, height: ch, pixels: out)
    }

    /// CHW float planes for a network: `(pixel / 255 - mean[c]) / std[c]` for c in R, G, B,
    /// computed in Float in that order (torchvision's ToTensor then Normalize). `mean` and
    /// `std` need 3 entries; missing entries count as mean 0, std 1.
    /// - Complexity: O(width * height).
    /// With `bgr`, the planes are blue, green, red (an OpenCV image fed as it decodes, the
    /// official pose code's DATASET.COLOR_RGB false) and plane k still takes `mean[k]`, `std[k]`.
    public func normalizedCHW(mean: [Float], std: [Float], bgr: Bool = false) -> [Float] {
        let plane = width * height
        var out = [Float](repeating: 0, count: plane * 3)
        let m = (0..<3).map { $0 < mean.count ? mean[$0] : 0 }
        let s = (0..<3).map { $0 < std.count ? std[$0] : 1 }
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<3 {
                    let mc = m[c], sc = s[c], base = c * plane, channel = bgr ? 2 - c : c
                    for p in 0..<plane {
                        dst[base + p] = (Float(src[p * 3 + channel]) / 255 - mc) / sc
                    }
                }
            }
        }
        return out
    }
}
