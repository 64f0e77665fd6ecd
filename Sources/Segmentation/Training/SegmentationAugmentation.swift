import DNN
import Foundation
import HRNet
import Imaging

/// The official segmentation training transform (HRNet-Semantic-Segmentation
/// lib/datasets/base_dataset.py `gen_sample`, `multi_scale_aug`, `rand_crop`, `pad_image`), on the
/// image and its label map together:
/// 1. Random scale (TRAIN.MULTI_SCALE): s = 0.5 + randint(0, SCALE_FACTOR) / 10 (0.5, 0.6, ...,
///    2.1 for 16); the long side becomes int(BASE_SIZE x s + 0.5), the short side
///    int(short x long / long_old + 0.5); the image resized with cv2 INTER_LINEAR (uint8), the
///    label with INTER_NEAREST.
/// 2. Pad at the bottom and right up to the crop (TRAIN.IMAGE_SIZE): the image with 0 (black,
///    before normalization: -mean/std after), the label with ignore (255); then a random crop,
///    top-left x = randint(0, W - crop_w), y = randint(0, H - crop_h) (both ends included).
/// 3. Normalize: RGB / 255, minus the ImageNet mean, over the std (the official code reverses
///    cv2's BGR to RGB first), CHW float32.
/// 4. Horizontal flip with probability 1/2 (TRAIN.FLIP), image and label.
/// 5. Labels subsampled by TRAIN.DOWNSAMPLERATE (cv2 INTER_NEAREST with fx = fy = 1 / rate:
///    label pixel (x, y) is (x rate, y rate)).
///
/// Without MULTI_SCALE the official code neither scales nor crops (its batches then need
/// images of one size); here the pad and random crop still run at scale 1, so any image size
/// makes crop-sized batches. The draws come from our own seeded stream, not Python's.
public struct SegmentationAugmentation: Sendable, Equatable {
    /// TRAIN.IMAGE_SIZE: the network input.
    public var cropWidth: Int
    public var cropHeight: Int
    /// TRAIN.BASE_SIZE, MULTI_SCALE, SCALE_FACTOR, FLIP, DOWNSAMPLERATE.
    public var baseSize: Int
    public var multiScale = true
    public var scaleFactor = 16
    public var flip = true
    public var downsampleRate = 1
    public var mean: [Float] = [0.485, 0.456, 0.406]
    public var std: [Float] = [0.229, 0.224, 0.225]

    public init(cropWidth: Int, cropHeight: Int, baseSize: Int) {
        (self.cropWidth, self.cropHeight, self.baseSize) = (max(1, cropWidth), max(1, cropHeight), max(1, baseSize))
    }

    /// The transform an official experiment file asks for (TRAIN.IMAGE_SIZE is the model's `imageSize`).
    public init(config: HRNetConfig, training: TrainingConfig) {
        let s = training.segmentation
        self.init(cropWidth: config.imageSize.width, cropHeight: config.imageSize.height, baseSize: s.baseSize)
        multiScale = s.multiScale
        scaleFactor = s.scaleFactor
        flip = training.flip
        downsampleRate = s.downsampleRate
    }

    /// The label map's size after the downsampling: cv2's dsize = round(crop / rate).
    public var labelWidth: Int { Int((Double(cropWidth) / Double(downsampleRate)).rounded(.toNearestOrEven)) }
    public var labelHeight: Int { Int((Double(cropHeight) / Double(downsampleRate)).rounded(.toNearestOrEven)) }

    /// One sample's random choices.
    public struct Draw: Sendable, Equatable {
        /// The scale, and the image's size at that scale.
        public var scale: Double
        public var width: Int, height: Int
        /// The crop's top-left corner in the scaled, padded image.
        public var x: Int, y: Int
        public var flip: Bool
        public init(scale: Double, width: Int, height: Int, x: Int, y: Int, flip: Bool) {
            (self.scale, self.width, self.height, self.x, self.y, self.flip) = (scale, width, height, x, y, flip)
        }
    }

    /// `multi_scale_aug`'s size for a `width` x `height` image at `scale`.
    public func scaledSize(width: Int, height: Int, scale: Double) -> (width: Int, height: Int) {
        let long = Int(Double(baseSize) * scale + 0.5)
        if height > width { return (max(1, Int(Double(width) * Double(long) / Double(height) + 0.5)), long) }
        return (long, max(1, Int(Double(height) * Double(long) / Double(width) + 0.5)))
    }

    /// Draws scale, crop corner and flip for a `width` x `height` image, in that order.
    public func draw(width: Int, height: Int, random: inout SplitMix64) -> Draw {
        var scale = 1.0, size = (width: width, height: height)
        if multiScale {
            scale = 0.5 + Double(random.next(upperBound: UInt64(scaleFactor + 1))) / 10
            size = scaledSize(width: width, height: height, scale: scale)
        }
        let paddedW = max(size.width, cropWidth), paddedH = max(size.height, cropHeight)
        let x = Int(random.next(upperBound: UInt64(paddedW - cropWidth + 1)))
        let y = Int(random.next(upperBound: UInt64(paddedH - cropHeight + 1)))
        let mirrored = flip && random.next() >> 63 == 1
        return Draw(scale: scale, width: size.width, height: size.height, x: x, y: y, flip: mirrored)
    }

    /// One training example: the normalized CHW crop and its labels (`labelWidth` x `labelHeight`,
    /// row-major, 255 ignore).
    public struct Example: Sendable, Equatable {
        public var input: [Float]
        public var labels: [UInt8]
    }

    /// Applies `draw` to an image and its label map (same size).
    public func apply(_ image: Image, _ label: LabelMap, draw d: Draw) throws -> Example {
        guard image.width == label.width, image.height == label.height else {
            throw SegmentationError("the image is \(image.width) x \(image.height) but its label map \(label.width) x \(label.height)")
        }
        let (w, h) = (d.width, d.height)
        let pixels = OpenCVResize.linear(image.pixels, channels: 3, width: image.width, height: image.height, toWidth: w, toHeight: h)
        let labels = OpenCVResize.nearest(label.labels, width: label.width, height: label.height, toWidth: w, toHeight: h)
        // Pad (black, ignore) + crop + flip in one pass over the crop.
        let (cw, ch) = (cropWidth, cropHeight)
        var crop = [UInt8](repeating: 0, count: cw * ch * 3)
        var cropLabels = [UInt8](repeating: LabelMap.ignore, count: cw * ch)
        for i in 0..<ch {
            let sy = d.y + i
            guard sy < h else { break }
            for j in 0..<cw {
                let sx = d.x + (d.flip ? cw - 1 - j : j)
                guard sx < w else { continue }
                let s = sy * w + sx, o = i * cw + j
                cropLabels[o] = labels[s]
                crop[o * 3] = pixels[s * 3]; crop[o * 3 + 1] = pixels[s * 3 + 1]; crop[o * 3 + 2] = pixels[s * 3 + 2]
            }
        }
        let input = try Image(width: cw, height: ch, pixels: crop).normalizedCHW(mean: mean, std: std)
        guard downsampleRate != 1 else { return Example(input: input, labels: cropLabels) }
        let (lw, lh, r) = (labelWidth, labelHeight, downsampleRate)
        var small = [UInt8](repeating: LabelMap.ignore, count: lw * lh)
        for y in 0..<lh { for x in 0..<lw { small[y * lw + x] = cropLabels[min(y * r, ch - 1) * cw + min(x * r, cw - 1)] } }
        return Example(input: input, labels: small)
    }

    /// Draws and applies: one augmented training example.
    public func callAsFunction(_ image: Image, _ label: LabelMap, random: inout SplitMix64) throws -> Example {
        try apply(image, label, draw: draw(width: image.width, height: image.height, random: &random))
    }
}
