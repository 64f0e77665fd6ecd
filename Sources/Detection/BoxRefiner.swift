import DNN
import Foundation
import HRNet
import Imaging
import Pose

/// A second stage for a person detector: each detected person is cropped as the top-down pose
/// model crops one (widened to the network's aspect ratio, padded by 1.25), a keypoint HRNet finds
/// the four extreme points of what is seen of them (the middle pixel of their leftmost column,
/// top row, rightmost column and bottom row, `KeypointSet.extremes`), and the box those pixels span
/// replaces the detector's. A one-stage detector regresses box edges from stride-4 features of
/// the whole image; the crop sees a small person several times larger (ExtremeNet's observation
/// that extreme points lie on the object, so a heatmap finds them).
///
/// A refined box (clipped to the image, as the detector's are) is kept only when its four points
/// are found (heatmap peaks above `minimumPeak`) and it overlaps the detector's box by
/// `minimumIoU`; otherwise the detection stays as it was. Scores are left alone.
public final class BoxRefiner {
    public let estimator: PoseEstimator
    /// Detections scoring below this are not refined (they rarely count, and each costs a crop).
    public var minimumScore: Float
    /// A point's heatmap peak below this means it was not found.
    public var minimumPeak: Double
    /// A refined box overlapping its detection less than this is not taken.
    public var minimumIoU: Float
    /// Seconds spent in the refiner's network since it was made.
    public var networkSeconds: Double { estimator.networkSeconds }

    /// - Parameter config: a pose config with `numJoints` 4 (the extreme points in `KeypointSet.extremes`' order).
    public convenience init(config: HRNetConfig, parameters: [String: Tensor], options: PoseEstimator.Options? = nil,
                            minimumScore: Float = 0.05, minimumPeak: Double = 0.1, minimumIoU: Float = 0.5) throws {
        let joints = config.numJoints ?? 0
        guard joints == KeypointSet.extremes.count else {
            throw DetectionError("\(config.source): a box refiner predicts \(KeypointSet.extremes.count) extreme points, the model \(joints) keypoints")
        }
        var options = options ?? PoseEstimator.Options(config: config)
        options.nmsThreshold = nil
        let estimator = try PoseEstimator(config: config, parameters: parameters, keypoints: .extremes, options: options)
        self.init(estimator: estimator, minimumScore: minimumScore, minimumPeak: minimumPeak, minimumIoU: minimumIoU)
    }

    init(estimator: PoseEstimator, minimumScore: Float, minimumPeak: Double, minimumIoU: Float) {
        self.estimator = estimator
        self.minimumScore = minimumScore
        self.minimumPeak = minimumPeak
        self.minimumIoU = minimumIoU
    }

    /// The detections of each image with the boxes of class `label` refined (same order, same
    /// scores); crops of all images share network runs.
    public func refine(_ detections: [[Detection]], in images: [Image], label: Int) throws -> [[Detection]] {
        guard detections.count == images.count else {
            throw DetectionError("the box refiner needs one detection list per image (\(detections.count) lists, \(images.count) images)")
        }
        var jobs: [(image: Int, index: Int, box: PersonBox)] = []
        for (i, list) in detections.enumerated() {
            for (k, d) in list.enumerated() where d.label == label && d.score >= minimumScore && d.box.width > 0 && d.box.height > 0 {
                // A box that cannot be cropped (not finite, outside the image) stays as it is.
                let box = Self.personBox(d.box)
                if box.problem(imageWidth: images[i].width, imageHeight: images[i].height) == nil { jobs.append((i, k, box)) }
            }
        }
        var refined = detections
        try estimator.forEachCrop(of: jobs.map { (images[$0.image], $0.box) }) { j, heatmaps, n, crop in
            let (i, k, _) = jobs[j]
            let points = HeatmapDecoder.decode(heatmaps, image: n, crop: crop, method: estimator.options.decoding)
            if let box = box(spannedBy: points, width: images[i].width, height: images[i].height),
               box.iou(detections[i][k].box) >= minimumIoU {
                refined[i][k].box = box
            }
        }
        return refined
    }

    /// The box four extreme pixels span, in COCO's convention (pixel i covers [i, i + 1); the
    /// decoded points sit on pixel centres): x from left.x to right.x + 1, y from top.y to
    /// bottom.y + 1, clipped to a `width` x `height` image. Nil when a point was not found or the
    /// box would be empty.
    func box(spannedBy points: [Keypoint], width: Int, height: Int) -> BoundingBox? {
        guard points.count == 4, points.allSatisfy({ $0.score >= minimumPeak && $0.x.isFinite && $0.y.isFinite }) else { return nil }
        let box = BoundingBox(x1: max(0, Float(points[0].x)), y1: max(0, Float(points[1].y)),
                              x2: min(Float(width), Float(points[2].x + 1)), y2: min(Float(height), Float(points[3].y + 1)))
        return box.width > 0 && box.height > 0 ? box : nil
    }

    static func personBox(_ box: BoundingBox) -> PersonBox {
        PersonBox(x: Double(box.x1), y: Double(box.y1), width: Double(box.width), height: Double(box.height))
    }
}
