import Collectives
import Foundation
import Pose

extension PoseTrainer {
    /// What a pose run is scored by after its epochs: COCO keypoint AP with the ground-truth
    /// boxes, or MPII's PCKh.
    public enum Validation {
        case coco(COCOPoseEvaluation)
        case mpii(MPIIPoseEvaluation)

        /// What evaluation counts through: images (COCO) or people (MPII).
        public var units: (count: Int, name: String) {
            switch self {
            case .coco(let coco): (coco.truth.imageIDs.count, "images")
            case .mpii(let mpii): (mpii.dataset.count, "people")
            }
        }
    }

    /// The score of the current weights, as the official `validate` (flip test and decoding as
    /// the config's TEST keys say), sharded over the trainer's processes (every process gets it).
    /// - Parameters:
    ///   - progress: units done (`validation.units`) and a note.
    /// - Returns: AP (COCO) or the PCKh Mean (MPII), and MPII's official table (nil for COCO).
    public func evaluate(_ validation: Validation, batchSize: Int = 16, threads: Int,
                         progress: (_ done: Int, _ note: String) -> Void = { _, _ in }) throws -> (score: Double, table: String?) {
        var options = PoseEstimator.Options(config: config)
        options.batchSize = batchSize
        options.threads = threads
        switch validation {
        case .coco(var coco):
            coco.communicator = communicator
            let joints = config.numJoints ?? 0
            // The evaluation file's keypoint names (its flip pairs), else the training set's.
            var keypoints = coco.keypoints(joints: joints) ?? data.dataset.keypoints
            if keypoints.count != joints { keypoints = .unnamed(joints) }
            let estimator = try PoseEstimator(config: config, parameters: weights, keypoints: keypoints, options: options)
            let result = try coco.run(estimator) { images, people in progress(images, "\(people) people") }
            return (result.stats[0], nil)
        case .mpii(var mpii):
            mpii.communicator = communicator
            let estimator = try PoseEstimator(config: config, parameters: weights, keypoints: .mpii, options: options)
            let pckh = try mpii.run(estimator) { progress($0, "") }.pckh
            return (pckh.mean, "PCKh@0.5 on \(mpii.dataset.name):\n" + pckh.format())
        }
    }
}
