import Datasets
import Collectives
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
    /// Processes sharing the work (`mpirun`): each runs every size-th image, the first gathers
    /// the people and scores them; every process gets the scores. One process by default.
    public var communicator: any Communicator = SingleProcess()

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
        /// Every person found (with several processes: on the first; the others hold their own share).
        public var results: [PoseResult]
        public var images: Int
    }

    /// Runs `estimator` over every image of the ground truth and evaluates.
    /// - Parameter progress: images done so far and people found, after each group.
    public func run(_ estimator: PoseEstimator, progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let gtBoxes = detections == nil && personDetector == nil ? truth.personBoxesByImage() : [:]
        var written: [(index: Int, result: PoseResult)] = []
        let ids = truth.imageIDs
        let (rank, processes) = (communicator.rank, communicator.size)
        // This process's images: every size-th, from its rank.
        let mine = Array(stride(from: rank, to: ids.count, by: processes))
        try estimator.stream(count: mine.count, groupCrops: groupCrops, item: { j in
            let id = ids[mine[j]]
            guard let info = truth.images[id] else { return nil }
            let url = imageDirectory.appendingPathComponent(info.fileName)
            func load() throws -> Image {
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw PoseError("\(url.path): image \(id) of the ground truth is missing")
                }
                // The official code reads with IMREAD_IGNORE_ORIENTATION: annotations are in stored pixels.
                return try Image.load(url, applyOrientation: false)
            }
            // A box that cannot be cropped is named with its image file here (the estimator
            // knows only its place in a group).
            func checked(_ boxes: [PersonBox], width: Int, height: Int) throws -> [PersonBox] {
                if let why = PersonBox.problem(among: boxes, imageWidth: width, imageHeight: height) { throw PoseError("\(url.path): \(why)") }
                return boxes
            }
            let boxes: [PersonBox]
            if let personDetector {
                let image = try load()
                boxes = try checked(personDetector(image), width: image.width, height: image.height)
                return boxes.isEmpty ? nil : PoseEstimator.StreamItem(boxes: boxes, image: { image })
            } else if let detections {
                boxes = detections.byImageID[id] ?? detections.byFileName[info.fileName] ?? []
            } else {
                boxes = (gtBoxes[id] ?? []).map { PersonBox(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
            }
            guard !boxes.isEmpty else { return nil }
            // The annotation's size when it gives one (the image is read later, in its group).
            if info.width > 0 && info.height > 0 { _ = try checked(boxes, width: info.width, height: info.height) }
            return PoseEstimator.StreamItem(boxes: boxes, image: load)
        }, deliver: { j, _, found in
            let id = ids[mine[j]]
            written += found.map { (mine[j], PoseResult(imageID: id, fileName: truth.images[id]?.fileName ?? "", person: $0)) }
        }, progress: { progress($0, written.count) })
        let fileName = { (id: Int) in truth.images[id]?.fileName ?? "" }
        guard processes > 1 else { return try score(written.map(\.result), sigmas: estimator.keypoints.sigmas) }
        // Sharded: the first process scores everyone's people and tells the others.
        let all = try PoseResultExchange.gather(written, over: communicator, fileName: fileName)
        var outcome: Result?, failure: Error?
        if let all {
            do { outcome = try score(all, sigmas: estimator.keypoints.sigmas) } catch { failure = error }
        }
        var stats = outcome?.stats ?? []
        try communicator.broadcast(&stats, root: 0)
        if let failure { throw failure }
        guard stats.count == 10 else { throw PoseError("no person was found in \(ids.count) images: nothing to evaluate") }
        return outcome ?? Result(stats: stats, results: written.map(\.result), images: ids.count)
    }

    /// COCOeval of `written` against the ground truth.
    func score(_ written: [PoseResult], sigmas: [Double]) throws -> Result {
        let ids = truth.imageIDs
        guard !written.isEmpty else { throw PoseError("no person was found in \(ids.count) images: nothing to evaluate") }
        let objects = written.map {
            COCOObject(imageID: $0.imageID, categoryID: 1, keypoints: $0.person.keypoints.flatMap { [$0.x, $0.y, $0.score] },
                       score: $0.person.score)
        }
        let eval = COCOEval(groundTruth: truth, results: COCOResults.complete(objects, iouType: .keypoints), iouType: .keypoints,
                            sigmas: sigmas)
        return Result(stats: try eval.run(), results: written, images: ids.count)
    }
}
