import Datasets
import DNN
import Foundation
import Imaging

/// One training image of a detection data set: the file and its objects (original pixels).
public struct DetectionSample: Sendable {
    public var image: URL
    public var width: Int, height: Int
    public var objects: [GroundTruthBox]
}

/// A batch element: the network input of one image (3 x canvas, normalized, zero padded) and
/// its objects in that input's pixels.
public struct DetectionExample: Sendable {
    public var input: [Float]
    public var objects: [GroundTruthBox]
}

/// Detection training data as mmdet's train pipeline makes it: `LoadAnnotations` (crowd boxes
/// and boxes under 1 pixel dropped, images without objects skipped as `filter_empty_gt`),
/// `Resize(keep_ratio=True)` to one of `scales` (mmcv's rescale factor; boxes scaled per axis
/// and clipped to the image), `RandomFlip(0.5)` (x1' = w - x2), then `DetDataPreprocessor`
/// (channel order, (x - mean) / std, zeros after). Every batch is padded to one canvas, the
/// largest resized image of the data set rounded up to the pad divisor, where mmdet pads each
/// batch to its own largest image: the extra zeros are background points (a training plan is
/// compiled for one input shape).
public struct DetectionTrainingData: Sendable {
    public var samples: [DetectionSample]
    public var classNames: [String]
    public var preprocessing: DetectionPreprocessing
    /// `Resize` scales to choose from per image (mmdet's `RandomChoiceResize`); one: fixed.
    public var scales: [(width: Int, height: Int)]
    public var flipProbability = 0.5
    /// The padded input every batch has.
    public let canvas: (width: Int, height: Int)
    public var name: String

    public var count: Int { samples.count }

    /// - Throws: an empty data set, a canvas over `DetectionPreprocessing.maxInputPixels`.
    public init(samples: [DetectionSample], classNames: [String], preprocessing: DetectionPreprocessing,
                scales: [(width: Int, height: Int)]? = nil, name: String) throws {
        guard !samples.isEmpty else { throw DetectionError.training("\(name) has no image with objects to train on") }
        let scales = scales ?? [preprocessing.scale]
        var (w, h) = (1, 1)
        for s in samples {
            for scale in scales {
                var p = preprocessing
                p.scale = scale
                let r = p.resizedSize(width: s.width, height: s.height)
                (w, h) = (max(w, r.width), max(h, r.height))
            }
        }
        let d = max(1, preprocessing.padDivisor)
        canvas = ((w + d - 1) / d * d, (h + d - 1) / d * d)
        guard canvas.width * canvas.height <= DetectionPreprocessing.maxInputPixels else {
            throw DetectionError.training("\(name): resizing to \(scales) makes inputs of \(canvas.width)x\(canvas.height), over 4096x4096 pixels")
        }
        (self.samples, self.classNames, self.preprocessing, self.scales, self.name) = (samples, classNames, preprocessing, scales, name)
    }

    /// A COCO instances file and its image folder. Labels follow the file's categories in
    /// order (mmdet's `cat2label`, and what `COCODetectionEvaluation` maps labels back by);
    /// `classes` keeps only the categories so named, in that order.
    public static func coco(annotations: URL, images: URL, preprocessing: DetectionPreprocessing, classes: [String]? = nil,
                            scales: [(width: Int, height: Int)]? = nil) throws -> DetectionTrainingData {
        let truth = try COCOGroundTruth.load(annotations)
        var seen = Set<Int>()
        let categories = (truth.categoryOrder.isEmpty ? truth.categoryIDs : truth.categoryOrder).filter { seen.insert($0).inserted }
        let names = categories.map { truth.categoryNames[$0] ?? "class \($0)" }
        var label: [Int: Int] = [:]
        if let classes {
            for (k, name) in classes.enumerated() {
                guard let i = names.firstIndex(of: name) else {
                    throw DetectionError.training("\(annotations.lastPathComponent) has no category \(name) (it has \(names.joined(separator: ", ")))")
                }
                label[categories[i]] = k
            }
        } else {
            for (k, id) in categories.enumerated() { label[id] = k }
        }
        if let orphan = truth.annotations.first(where: { truth.images[$0.imageID] == nil }) {
            throw DetectionError.training("\(annotations.lastPathComponent): annotation \(orphan.id) refers to image_id \(orphan.imageID), which the file's 'images' do not list")
        }
        var objects: [Int: [GroundTruthBox]] = [:]
        for a in truth.annotations where !a.isCrowd {
            let b = a.bbox
            guard let k = label[a.categoryID], b.count == 4, b[2] >= 1, b[3] >= 1 else { continue }
            objects[a.imageID, default: []].append(GroundTruthBox(
                box: BoundingBox(x1: Float(b[0]), y1: Float(b[1]), x2: Float(b[0] + b[2]), y2: Float(b[1] + b[3])), label: k))
        }
        let samples = truth.imageIDs.compactMap { id -> DetectionSample? in
            guard let info = truth.images[id], let boxes = objects[id], !boxes.isEmpty else { return nil }
            return DetectionSample(image: images.appendingPathComponent(info.fileName), width: info.width, height: info.height, objects: boxes)
        }
        return try DetectionTrainingData(samples: samples, classNames: classes ?? names, preprocessing: preprocessing, scales: scales,
                                         name: annotations.lastPathComponent)
    }

    /// Sample `index` resized, maybe flipped (drawn from `random`), normalized and padded.
    public func example(index: Int, random: inout SplitMix64) throws -> DetectionExample {
        let sample = samples[index]
        let image: Image
        do { image = try Image.load(sample.image, applyOrientation: false) } catch {
            throw DetectionError.training("\(sample.image.path): cannot be read for \(name): \(error)")
        }
        var p = preprocessing
        p.scale = scales.count == 1 ? scales[0] : scales[Int(random.next() % UInt64(scales.count))]
        let flip = Double(random.nextUnitFloat()) < flipProbability
        let size = p.resizedSize(width: image.width, height: image.height)
        let resized = image.resizedLinearCV(width: size.width, height: size.height)
        let (sx, sy) = (Float(size.width) / Float(image.width), Float(size.height) / Float(image.height))
        let (cw, ch) = canvas
        var input = [Float](repeating: 0, count: 3 * cw * ch)
        let source = p.rgb ? [0, 1, 2] : [2, 1, 0]
        resized.pixels.withUnsafeBufferPointer { px in
            for c in 0..<3 {
                let (m, s, from) = (p.mean[c], p.std[c], source[c])
                for y in 0..<size.height {
                    for x in 0..<size.width {
                        let sx = flip ? size.width - 1 - x : x
                        input[(c * ch + y) * cw + x] = (Float(px[(y * size.width + sx) * 3 + from]) - m) / s
                    }
                }
            }
        }
        let (w, h) = (Float(size.width), Float(size.height))
        let objects = sample.objects.compactMap { o -> GroundTruthBox? in
            var b = BoundingBox(x1: min(max(o.box.x1 * sx, 0), w), y1: min(max(o.box.y1 * sy, 0), h),
                                x2: min(max(o.box.x2 * sx, 0), w), y2: min(max(o.box.y2 * sy, 0), h))
            if flip { b = BoundingBox(x1: w - b.x2, y1: b.y1, x2: w - b.x1, y2: b.y2) }
            return b.width > 0 && b.height > 0 ? GroundTruthBox(box: b, label: o.label) : nil
        }
        return DetectionExample(input: input, objects: objects)
    }
}
