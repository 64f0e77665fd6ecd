import DNN
import Foundation
import Imaging

/// The standard ImageNet evaluation pre-processing, as the official HRNet-Image-Classification
/// validation (tools/valid.py) and every torchvision/timm classifier:
/// `Resize(int(size / 0.875))` (the shorter side to 256 for 224) -> `CenterCrop(size)` ->
/// `ToTensor` -> `Normalize(ImageNet mean, std)`, on PIL images.
///
/// Facts from torchvision (transforms/functional.py): the long side becomes
/// `int(shorter * long / short)` (truncated); PIL's bilinear resize with antialias (ours,
/// `Image.resized`, is integer-exact to Pillow); the crop's top-left corner is
/// `int(round((h - size) / 2.0))` with Python's round (ties to even: 58.5 -> 58); a crop larger
/// than the image is padded with black first. The result equals torchvision's to float rounding
/// (the uint8 image is identical).
///
/// ```swift
/// let pre = ClassificationPreprocessing.imageNet()           // 256 -> 224
/// let batch = try pre.batch([Image.load(url, applyOrientation: false)])   // (1, 3, 224, 224)
/// ```
public struct ClassificationPreprocessing: Sendable, Equatable {
    /// The shorter side after resizing (256).
    public var resize: Int
    /// The crop (224 x 224).
    public var cropWidth: Int
    public var cropHeight: Int
    public var mean: [Float]
    public var std: [Float]

    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    public init(resize: Int, cropWidth: Int, cropHeight: Int, mean: [Float] = imageNetMean, std: [Float] = imageNetStd) {
        (self.resize, self.cropWidth, self.cropHeight, self.mean, self.std) = (max(1, resize), max(1, cropWidth), max(1, cropHeight), mean, std)
    }

    /// The official validation transform for a `size` x `size` input: resize to int(size / 0.875)
    /// (256 for 224), center crop `size`.
    public static func imageNet(size: Int = 224) -> ClassificationPreprocessing {
        ClassificationPreprocessing(resize: Int(Double(size) / 0.875), cropWidth: size, cropHeight: size)
    }

    /// For a model's input size (MODEL.IMAGE_SIZE [w, h]): the resize follows the width as the
    /// official code does (`int(IMAGE_SIZE[0] / 0.875)`).
    public static func validation(width: Int, height: Int) -> ClassificationPreprocessing {
        ClassificationPreprocessing(resize: Int(Double(width) / 0.875), cropWidth: width, cropHeight: height)
    }

    /// torchvision's `Resize(size)` output size for an image: the shorter side becomes `size`,
    /// the longer `int(size * long / short)`.
    public static func resizedSize(width: Int, height: Int, shorter size: Int) -> (width: Int, height: Int) {
        let short = min(width, height), long = max(width, height)
        // Python's int / int true division is correctly rounded, as is Double division here.
        let newLong = Int(Double(size * long) / Double(short))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// The top-left corner of torchvision's `CenterCrop` for a side `length` and crop `crop`:
    /// int(round((length - crop) / 2.0)), ties to even; negative when the image is padded.
    public static func centerOffset(length: Int, crop: Int) -> Int {
        if crop > length { return -((crop - length) / 2) }
        return Int((Double(length - crop) / 2).rounded(.toNearestOrEven))
    }

    /// Resize (shorter side) and center crop: the uint8 image the network's input is made from.
    public func prepared(_ image: Image) -> Image {
        let size = Self.resizedSize(width: image.width, height: image.height, shorter: resize)
        let resized = image.resized(width: size.width, height: size.height)
        return resized.cropped(x: Self.centerOffset(length: resized.width, crop: cropWidth),
                               y: Self.centerOffset(length: resized.height, crop: cropHeight),
                               width: cropWidth, height: cropHeight)
    }

    /// The normalized CHW planes of one image (3 * cropHeight * cropWidth values).
    public func callAsFunction(_ image: Image) -> [Float] {
        prepared(image).normalizedCHW(mean: mean, std: std)
    }

    /// A normalized NCHW batch of images (prepared on up to `threads` threads).
    public func batch(_ images: [Image], threads: Int = 1) -> Tensor {
        let plane = 3 * cropWidth * cropHeight
        guard !images.isEmpty else { return Tensor(shape: [0, 3, cropHeight, cropWidth], scalars: []) }
        var out = [Float](repeating: 0, count: images.count * plane)
        out.withUnsafeMutableBufferPointer { buffer in
            let slots = UnsafeSlots(buffer)
            let work: @Sendable (Int) -> Void = { k in
                let values = self(images[k])
                for i in 0..<plane { slots.base[k * plane + i] = values[i] }
            }
            if threads <= 1 || images.count <= 1 {
                for k in images.indices { work(k) }
            } else {
                DispatchQueue.concurrentPerform(iterations: images.count, execute: work)
            }
        }
        return Tensor(shape: [images.count, 3, cropHeight, cropWidth], scalars: out)
    }
}

/// A buffer that workers fill at disjoint offsets.
struct UnsafeSlots: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    /// - Precondition: `buffer` is not empty (callers check).
    init(_ buffer: UnsafeMutableBufferPointer<Float>) { base = buffer.baseAddress! }
}
