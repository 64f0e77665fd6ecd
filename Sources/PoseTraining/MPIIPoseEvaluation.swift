import Collectives
import Datasets
import Foundation
import Imaging
import Pose

/// The official MPII validation (lib/core/function.py `validate` with lib/dataset/mpii.py):
/// every person of annot/SPLIT.json is cropped at its db center and scale (no detector), run
/// through the network (flip test with MPII's pairs when the options say so), decoded and
/// mapped back to the image; the predictions, in the file's order, are scored by PCKh against
/// annot/gt_SPLIT.mat.
///
/// ```swift
/// let evaluation = try MPIIPoseEvaluation.load(root: URL(fileURLWithPath: "data/mpii"), split: "valid")
/// let estimator = try PoseEstimator(config: config, parameters: weights, keypoints: .mpii)
/// print(try evaluation.run(estimator).pckh.format())
/// ```
public struct MPIIPoseEvaluation: Sendable {
    public var dataset: KeypointDataset
    public var groundTruth: MPIIGroundTruth
    /// Processes sharing the work (`mpirun`): each predicts every size-th batch of people and
    /// every process gets all the predictions, in order (the same PCKh as one process).
    public var communicator: any Communicator = SingleProcess()

    /// The files of a split under the official data root: annot/SPLIT.json, annot/gt_SPLIT.mat,
    /// images/.
    public static func files(root: URL, split: String) -> (annotations: URL, groundTruth: URL, images: URL) {
        (root.appendingPathComponent("annot/\(split).json"), root.appendingPathComponent("annot/gt_\(split).mat"),
         root.appendingPathComponent("images", isDirectory: true))
    }

    /// Reads the split's annotations and ground truth; a missing file is an error naming its path.
    public static func load(root: URL, split: String) throws -> MPIIPoseEvaluation {
        let (annotations, gt, images) = files(root: root, split: split)
        for (url, what) in [(annotations, "DATA/annot/\(split).json"), (gt, "DATA/annot/gt_\(split).mat, the official evaluation's ground truth")]
            where !FileManager.default.fileExists(atPath: url.path) {
            throw PoseTrainingError.dataset(url.path, "no such file (MPII evaluation needs \(what))")
        }
        return try MPIIPoseEvaluation(dataset: .mpii(annotations: annotations, images: images), groundTruth: .load(gt))
    }

    /// - Throws: when the two do not list the same number of people (they must match in order).
    public init(dataset: KeypointDataset, groundTruth: MPIIGroundTruth) throws {
        guard dataset.keypoints.count == MPIIGroundTruth.jointNames.count else {
            throw PoseTrainingError.dataset(dataset.name, "has \(dataset.keypoints.count) keypoints; MPII evaluation needs 16")
        }
        guard dataset.count == groundTruth.count else {
            throw PoseTrainingError.dataset(dataset.name, "lists \(dataset.count) people but \(groundTruth.source) has \(groundTruth.count); they must match person for person")
        }
        (self.dataset, self.groundTruth) = (dataset, groundTruth)
    }

    /// The first `count` people only (a quick look; the numbers are not the official ones).
    public func prefix(_ count: Int) -> MPIIPoseEvaluation {
        var e = self
        e.dataset.samples = Array(dataset.samples.prefix(count))
        e.groundTruth.positions = Array(groundTruth.positions.prefix(count))
        e.groundTruth.visible = Array(groundTruth.visible.prefix(count))
        e.groundTruth.headBoxes = Array(groundTruth.headBoxes.prefix(count))
        return e
    }

    /// The joints of every person (image pixels, 0-based, as `get_final_preds` gives them),
    /// in the data set's order. `progress` hears how many people are done.
    public func predict(_ estimator: PoseEstimator, progress: (Int) -> Void = { _ in }) throws -> [[Keypoint]] {
        let samples = dataset.samples
        let batch = max(1, estimator.options.batchSize)
        var predictions: [[Keypoint]] = []
        predictions.reserveCapacity(samples.count)
        var cache: [URL: Image] = [:]
        var mine: [(index: Int, joints: [Keypoint])] = []
        let (rank, processes) = (communicator.rank, communicator.size)
        for (done, start) in stride(from: rank * batch, to: samples.count, by: batch * processes).enumerated() {
            let chunk = samples[start..<min(start + batch, samples.count)]
            // People of one image are usually next to each other: keep the chunk's images only.
            var images: [URL: Image] = [:]
            for sample in chunk where images[sample.image] == nil {
                if let image = cache[sample.image] {
                    images[sample.image] = image
                    continue
                }
                do { images[sample.image] = try Image.load(sample.image, applyOrientation: false) } catch {
                    throw PoseTrainingError.dataset(sample.image.path, "cannot be read for person \(sample.annotationID) of \(dataset.name): \(error)")
                }
            }
            cache = images
            let heatmaps = try estimator.heatmaps(chunk.map { (images[$0.image]!, $0.crop) })
            for (k, sample) in chunk.enumerated() {
                mine.append((start + k, HeatmapDecoder.decode(heatmaps, image: k, crop: sample.crop, method: estimator.options.decoding)))
            }
            progress(min((done + 1) * batch, samples.count))
        }
        guard processes > 1 else { return mine.map(\.joints) }
        // Every process's people, by index: (index, then x, y, score per joint) as doubles.
        let joints = MPIIGroundTruth.jointNames.count
        let local = mine.flatMap { [Double($0.index)] + $0.joints.flatMap { [$0.x, $0.y, $0.score] } }
        var byIndex = [[Keypoint]?](repeating: nil, count: samples.count)
        for values in try communicator.allGather(local) {
            let stride = 1 + 3 * joints
            guard values.count % stride == 0 else { throw PoseTrainingError.dataset(dataset.name, "gathered MPII predictions are not whole people") }
            for p in Swift.stride(from: 0, to: values.count, by: stride) {
                let i = Int(values[p])
                guard i >= 0, i < samples.count else { throw PoseTrainingError.dataset(dataset.name, "gathered a prediction for person \(i)") }
                byIndex[i] = (0..<joints).map { Keypoint(x: values[p + 1 + 3 * $0], y: values[p + 2 + 3 * $0], score: values[p + 3 + 3 * $0]) }
            }
        }
        predictions = try byIndex.enumerated().map { i, joints in
            guard let joints else { throw PoseTrainingError.dataset(dataset.name, "no process predicted person \(i)") }
            return joints
        }
        return predictions
    }

    /// PCKh of the estimator's predictions, and the predictions.
    public func run(_ estimator: PoseEstimator, progress: (Int) -> Void = { _ in }) throws -> (pckh: PCKh, predictions: [[Keypoint]]) {
        let predictions = try predict(estimator, progress: progress)
        let pckh = try groundTruth.evaluate(predictions: predictions.map { $0.map { Point(x: $0.x, y: $0.y) } })
        return (pckh, predictions)
    }

    /// The predictions as the official pred.mat holds them (N x 16 x [x, y], 1-based), as JSON.
    public static func predictionsJSON(_ predictions: [[Keypoint]]) -> String {
        "[" + predictions.map { person in
            "[" + person.map { String(format: "[%.17g, %.17g]", $0.x + 1, $0.y + 1) }.joined(separator: ", ") + "]"
        }.joined(separator: ",\n") + "]\n"
    }
}
