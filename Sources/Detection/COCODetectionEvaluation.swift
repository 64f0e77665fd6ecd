import Datasets
import Foundation
import Imaging

/// COCO box AP of a detector on a data set split, as mmdetection's `CocoMetric` computes it
/// (pycocotools' COCOeval, iouType bbox): every image of the annotation file detected, the
/// results in COCO's format, the twelve summary numbers and each class's AP.
public struct COCODetectionEvaluation {
    /// `DATA/annotations/instances_SPLIT.json` and the images in `DATA/images/SPLIT` or `DATA/SPLIT`.
    public let annotations: URL
    public let images: URL
    public var truth: COCOGroundTruth

    public init(data: URL, split: String) throws {
        let located = try COCOSplit(root: data, split: split, kind: .instances)
        try self.init(annotations: located.annotations, images: located.images)
    }

    /// A COCO instances file and the folder its `file_name`s are in.
    public init(annotations: URL, images: URL) throws {
        (self.annotations, self.images) = (annotations, images)
        truth = try COCOGroundTruth.load(annotations)
        guard !truth.imageIDs.isEmpty else { throw DetectionError(.evaluation, "\(annotations.lastPathComponent) has no images") }
    }

    /// Keeps the first `count` images and their annotations.
    public mutating func limit(to count: Int) { truth.limit(to: count) }

    /// Evaluates only these COCO category ids (e.g. [1] for person AP).
    public mutating func restrict(toCategories ids: [Int]) {
        truth.categoryIDs = truth.categoryIDs.filter(ids.contains)
    }

    public struct Outcome {
        public var results: [DetectionResult]
        /// pycocotools' 12 numbers: AP, AP50, AP75, AP small/medium/large, AR 1/10/100, AR small/medium/large.
        public var stats: [Double]
        /// (category id, AP) for each evaluated category with ground truth; -1 where it has none.
        public var perCategory: [(id: Int, ap: Double)]
    }

    /// Detects every image (`progress(done, total)` after each) and scores the results.
    /// The detector's classes must be COCO's 80 (mmdet's order) or the file's categories in order.
    public func run(_ detector: Detector, maxPixels: Int = Image.defaultMaxPixels, progress: (Int, Int) -> Void = { _, _ in }) throws -> Outcome {
        let categoryOf: (Int) -> Int
        if detector.spec.classes == COCOClasses.names {
            categoryOf = { COCOClasses.categoryIDs[$0] }
        } else {
            let order = truth.categoryOrder.isEmpty ? truth.categoryIDs : truth.categoryOrder
            guard order.count == detector.spec.classes.count else {
                throw DetectionError(.evaluation, "the detector has \(detector.spec.classes.count) classes, \(annotations.lastPathComponent) \(order.count) categories")
            }
            categoryOf = { order[$0] }
        }
        var results: [DetectionResult] = []
        let order = truth.imageOrder.isEmpty ? truth.imageIDs : truth.imageOrder.filter(Set(truth.imageIDs).contains)
        for (k, id) in order.enumerated() {
            guard let entry = truth.images[id] else { throw DetectionError(.evaluation, "\(annotations.lastPathComponent): image \(id) has no file name") }
            let url = images.appendingPathComponent(entry.fileName)
            let found = try detector.detect(try Image.load(url, maxPixels: maxPixels))
            results += found.map { DetectionResult(imageID: id, fileName: entry.fileName, detection: $0, categoryID: categoryOf($0.label)) }
            progress(k + 1, order.count)
        }
        return Outcome(results: results, stats: try score(results), perCategory: try perCategory(results))
    }

    /// COCOeval's summary of `results` against the ground truth.
    public func score(_ results: [DetectionResult], truth: COCOGroundTruth? = nil) throws -> [Double] {
        let objects = results.map { r in
            COCOObject(imageID: r.imageID, categoryID: r.categoryID, bbox: r.detection.box.xywh, score: Double(r.detection.score))
        }
        return try COCOEval(groundTruth: truth ?? self.truth, results: COCOResults.complete(objects, iouType: .bbox), iouType: .bbox).run()
    }

    /// AP of each category alone (what mmdet's `classwise` table reads from the same precision array).
    public func perCategory(_ results: [DetectionResult]) throws -> [(id: Int, ap: Double)] {
        try truth.categoryIDs.map { id in
            var one = truth
            one.categoryIDs = [id]
            guard one.annotations.contains(where: { $0.categoryID == id && !$0.isCrowd }) else { return (id, -1) }
            return (id, try score(results.filter { $0.categoryID == id }, truth: one)[0])
        }
    }
}
