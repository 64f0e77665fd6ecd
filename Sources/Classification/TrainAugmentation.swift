import DNN
import Foundation
import Imaging

/// The official classification training transform (HRNet-Image-Classification tools/train.py):
/// `RandomResizedCrop(size)` -> `RandomHorizontalFlip()` -> `ToTensor` -> `Normalize(ImageNet)`.
///
/// The crop box follows torchvision's `RandomResizedCrop.get_params` (transforms.py): up to 10
/// attempts, each drawing an area fraction uniform in `scale` and an aspect ratio log-uniform in
/// `ratio`, w = int(round(sqrt(area * ratio))), h = int(round(sqrt(area / ratio))); the first box
/// that fits gets a uniform top (0...H - h) then left (0...W - w). Otherwise the fallback: the
/// whole image, narrowed to the nearest allowed aspect ratio and centred. The box is cropped then
/// resized to the output with PIL's bilinear filter (antialiased), as `F.resized_crop`.
/// Random numbers come from our own seeded stream (`ClassificationRandom`), not torch's.
public struct TrainAugmentation: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Area fraction range (0.08, 1) and aspect ratio range (3/4, 4/3), torchvision's defaults.
    public var scale: ClosedRange<Double> = 0.08...1
    public var ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3)
    /// Probability of a horizontal flip (RandomHorizontalFlip: 0.5).
    public var flipProbability = 0.5
    public var mean = ClassificationPreprocessing.imageNetMean
    public var std = ClassificationPreprocessing.imageNetStd

    public init(width: Int, height: Int) { (self.width, self.height) = (max(1, width), max(1, height)) }

    /// A crop box: left x, top y, width, height in source pixels.
    public struct Box: Sendable, Equatable {
        public var x: Int, y: Int, width: Int, height: Int
        public init(x: Int, y: Int, width: Int, height: Int) { (self.x, self.y, self.width, self.height) = (x, y, width, height) }
    }

    /// torchvision's get_params for an image of `width` x `height`, with the draws from `random`.
    public func box(width: Int, height: Int, random: inout ClassificationRandom) -> Box {
        let area = Double(width * height)
        let logRatio = (log(ratio.lowerBound), log(ratio.upperBound))
        for _ in 0..<10 {
            let target = area * random.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(random.uniform(logRatio.0, logRatio.1))
            let w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0, w <= width, h > 0, h <= height {
                let top = random.int(below: height - h + 1)
                let left = random.int(below: width - w + 1)
                return Box(x: left, y: top, width: w, height: h)
            }
        }
        return Self.fallbackBox(width: width, height: height, ratio: ratio)
    }

    /// The central crop torchvision falls back to after 10 failed attempts.
    public static func fallbackBox(width: Int, height: Int, ratio: ClosedRange<Double>) -> Box {
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return Box(x: (width - w) / 2, y: (height - h) / 2, width: w, height: h)
    }

    /// The augmented uint8 image: crop `box`, resize to the output (PIL bilinear), flip if asked.
    public func apply(_ image: Image, box: Box, flip: Bool) -> Image {
        var out = image.cropped(x: box.x, y: box.y, width: box.width, height: box.height).resized(width: width, height: height)
        if flip { out = out.mirrored() }
        return out
    }

    /// One training input: random box, random flip, normalized CHW planes.
    public func callAsFunction(_ image: Image, random: inout ClassificationRandom) -> [Float] {
        let b = box(width: image.width, height: image.height, random: &random)
        let flip = random.uniform() < flipProbability
        return apply(image, box: b, flip: flip).normalizedCHW(mean: mean, std: std)
    }
}

extension Image {
    /// The image mirrored left to right (PIL's `FLIP_LEFT_RIGHT`).
    func mirrored() -> Image {
        var out = pixels
        for y in 0..<height {
            let row = y * width * 3
            for x in 0..<width {
                let s = row + (width - 1 - x) * 3, d = row + x * 3
                out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2]
            }
        }
        // Same size as `self`, so the samples fit.
        return (try? Image(width: width, height: height, pixels: out)) ?? self
    }
}

/// The random numbers of classification augmentation: SplitMix64, one stream per
/// (seed, epoch, sample) so a sample looks the same whatever the loading order or thread count.
public struct ClassificationRandom: Sendable {
    private var generator: SplitMix64

    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    public init(seed: UInt64, epoch: Int, index: Int) {
        var mix = SplitMix64(seed: seed ^ 0xC1A5_51F1)
        let a = mix.next()
        mix = SplitMix64(seed: a ^ UInt64(bitPattern: Int64(epoch)))
        let b = mix.next()
        mix = SplitMix64(seed: b ^ UInt64(bitPattern: Int64(index)))
        self.init(seed: mix.next())
    }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func uniform() -> Double { Double(generator.next() >> 11) * 0x1p-53 }

    /// Uniform in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * uniform() }

    /// An integer in 0..<n (n > 0), without modulo bias.
    public mutating func int(below n: Int) -> Int {
        Int(truncatingIfNeeded: generator.next(upperBound: UInt64(max(1, n))))
    }
}
