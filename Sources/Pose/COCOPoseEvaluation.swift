import Datasets
import Foundation
import Imaging

/// COCO keypoint evaluation of a pose estimator over a data set split, as the official test
/// does it: ground-truth person boxes (USE_GT_BBOX) or a detector's, images read without EXIF
/// rotation, re-scoring and OKS-NMS per image (the estimator's options), then COCOeval.
public struct COCOPoseEvaluation {
    public let truth: COCOGroundTruth
    public let imageDirectory: URL
    /// Boxes by image id; nil: the ground truth's (`personBoxesByImage`).
    public let detections: DetectionFile?
    /// People per group of images sent to the estimator together.
    public var groupCrops = 32
    /// A person detector run on each image (e.g. `Detection`'s `Detector.people`); it replaces
    /// `detections` and the ground-truth boxes.
    public var personDetector: ((Image) throws -> [PersonBox])?

    public init(truth: COCOGroundTruth, imageDirectory: URL, detections: DetectionFile? = nil) {
        (self.truth, self.imageDirectory, self.detections) = (truth, imageDirectory, detections)
    }

    /// The data set's keypoints for a model with `joints` outputs: named from the person
    /// category (COCO's own names give COCO's set), else nil.
    public func keypoints(joints: Int) -> KeypointSet? {
        guard let names = truth.keypointNames[1], names.count == joints else { return nil }
        return .named(names, skeleton: (truth.skeletons[1] ?? []).map { $0.map { $0 - 1 } })
    }

    public struct Result {
        /// COCOeval's 10 keypoint numbers (AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl).
        public var stats: [Double]
        public var results: [PoseResult]
        public var images: Int
    }

    /// Runs `estimator` over every image of the ground truth and evaluates.
    /// - Parameter progress: images done so far and people found, after each group.
    public func run(_ estimator: PoseEstimator, progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let gtBoxes = detections == nil && personDetector == nil ? truth.personBoxesByImage() : [:]
        var written: [PoseResult] = []
        let ids = truth.imageIDs
        try estimator.stream(count: ids.count, groupCrops: groupCrops, item: { k in
            let id = ids[k]
            guard let info = truth.images[id] else { return nil }
            let url = imageDirectory.appendingPathComponent(info.fileName)
            func load() throws -> Image {
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw PoseError("\(url.path): image \(id) of the ground truth is missing")
                }
                // The official code reads with IMREAD_IGNORE_ORIENTATION: annotations are in stored pixels.
                return try Image.load(url, applyOrientation: false)
            }
            let boxes: [PersonBox]
            if let personDetector {
                let image = try load()
                boxes = try personDetector(image)
                return boxes.isEmpty ? nil : PoseEstimator.StreamItem(boxes: boxes, image: { image })
            } else if let detections {
                boxes = detections.byImageID[id] ?? detections.byFileName[info.fileName] ?? []
            } else {
                boxes = (gtBoxes[id] ?? []).map { PersonBox(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
            }
            return boxes.isEmpty ? nil : PoseEstimator.StreamItem(boxes: boxes, image: load)
        }, deliver: { k, _, found in
            let id = ids[k]
            written += found.map { PoseResult(imageID: id, fileName: truth.images[id]?.fileName ?? "", person: $0) }
        }, progress: { progress($0, written.count) })
        guard !written.isEmpty else { throw PoseError("no person was found in \(ids.count) images: nothing to evaluate") }
        let objects = written.map {
            COCOObject(imageID: $0.imageID, categoryID: 1, keypoints: $0.person.keypoints.flatMap { [$0.x, $0.y, $0.score] },
                       score: $0.person.score)
        }
        let eval = COCOEval(groundTruth: truth, results: COCOResults.complete(objects, iouType: .keypoints), iouType: .keypoints,
                            sigmas: estimator.keypoints.sigmas)
        return Result(stats: try eval.run(), results: written, images: ids.count)
    }
}
