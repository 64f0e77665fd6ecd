import DNN
import Imaging

extension DetectionPreprocessing {
    /// The largest network input accepted (pixels of one padded image): 4096 x 4096, 12x mmdet's
    /// 1333 x 800 test scale; its float input alone takes 200 MB.
    public static let maxInputPixels = 4096 * 4096

    /// The size mmcv's `imrescale` gives an image of `width` x `height` for `scale`:
    /// factor = min(long / max(w, h), short / min(w, h)), each side `int(side * factor + 0.5)`.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        guard keepRatio else { return (scale.width, scale.height) }
        let long = Double(max(scale.width, scale.height)), short = Double(min(scale.width, scale.height))
        let factor = min(long / Double(max(width, height)), short / Double(min(width, height)))
        return (max(1, Int(Double(width) * factor + 0.5)), max(1, Int(Double(height) * factor + 0.5)))
    }

    /// Resized, normalized and padded network input for a batch of images (mmdet's test
    /// pipeline and `DetDataPreprocessor`): each image resized with OpenCV's bilinear resize,
    /// its channels in the network's order, (x - mean) / std in float32, then zeros to the
    /// largest size in the batch rounded up to `padDivisor`. A batch whose padded input would
    /// exceed `maxInputPixels` per image is refused before anything is resized or allocated.
    public func input(_ images: [Image]) throws -> (batch: Tensor, geometry: [ImageGeometry]) {
        precondition(!images.isEmpty, "an empty batch")
        let sizes = images.map { resizedSize(width: $0.width, height: $0.height) }
        let d = max(1, padDivisor)
        let pw = (sizes.map(\.width).max()! + d - 1) / d * d, ph = (sizes.map(\.height).max()! + d - 1) / d * d
        guard pw * ph <= Self.maxInputPixels else {
            throw DetectionError("the test pipeline's Resize(scale=(\(scale.width), \(scale.height))) makes a \(pw)x\(ph) network input, "
                                 + "more than \(Self.maxInputPixels) pixels (4096 x 4096): use a smaller scale")
        }
        let resized = zip(images, sizes).map { image, size in image.resizedLinearCV(width: size.width, height: size.height) }
        var batch = Tensor(zeros: [images.count, 3, ph, pw])
        // Network channel c reads RGB sample `source[c]` of each pixel.
        let source = rgb ? [0, 1, 2] : [2, 1, 0]
        batch.scalars.withUnsafeMutableBufferPointer { out in
            for (n, image) in resized.enumerated() {
                image.pixels.withUnsafeBufferPointer { px in
                    for c in 0..<3 {
                        let (m, s, from) = (mean[c], std[c], source[c])
                        let base = (n * 3 + c) * ph * pw
                        for y in 0..<image.height {
                            for x in 0..<image.width {
                                out[base + y * pw + x] = (Float(px[(y * image.width + x) * 3 + from]) - m) / s
                            }
                        }
                    }
                }
            }
        }
        let geometry = zip(images, resized).map { original, r in
            ImageGeometry(originalWidth: original.width, originalHeight: original.height, width: r.width, height: r.height)
        }
        return (batch, geometry)
    }
}

/// Where a network input came from: the resized image's size inside the padded input, and
/// the factors the original was scaled by (mmdet's `img_shape` and `scale_factor`).
public struct ImageGeometry: Sendable, Equatable {
    /// Size of the original image.
    public var originalWidth, originalHeight: Int
    /// Size after the resize, before padding (boxes are clamped to it).
    public var width, height: Int
    /// width / originalWidth and height / originalHeight, as Python doubles.
    public var scaleX, scaleY: Double

    public init(originalWidth: Int, originalHeight: Int, width: Int, height: Int) {
        (self.originalWidth, self.originalHeight, self.width, self.height) = (originalWidth, originalHeight, width, height)
        scaleX = Double(width) / Double(originalWidth)
        scaleY = Double(height) / Double(originalHeight)
    }

    /// A box in the resized image's pixels back in the original's, as mmdet's `scale_boxes`:
    /// multiplied by the float32 reciprocal of each scale (not divided by the scale).
    public func original(_ b: BoundingBox) -> BoundingBox {
        let rx = Float(1 / scaleX), ry = Float(1 / scaleY)
        return BoundingBox(x1: b.x1 * rx, y1: b.y1 * ry, x2: b.x2 * rx, y2: b.y2 * ry)
    }
}
