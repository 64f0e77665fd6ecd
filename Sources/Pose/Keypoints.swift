/// The keypoints a data set defines: names, left/right pairs (for flip test and augmentation),
/// the skeleton (for drawing) and the OKS sigmas (for evaluation and NMS).
public struct KeypointSet: Sendable, Equatable {
    public var names: [String]
    /// Index pairs swapped when the image is mirrored.
    public var flipPairs: [[Int]]
    /// Index pairs joined by a limb.
    public var skeleton: [[Int]]
    /// Per-keypoint OKS sigma.
    public var sigmas: [Double]

    public init(names: [String], flipPairs: [[Int]], skeleton: [[Int]], sigmas: [Double]) {
        (self.names, self.flipPairs, self.skeleton, self.sigmas) = (names, flipPairs, skeleton, sigmas)
    }

    public var count: Int { names.count }

    /// COCO's 17 person keypoints (person_keypoints_*.json; sigmas from cocoapi).
    public static let coco = KeypointSet(
        names: ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
                "left_knee", "right_knee", "left_ankle", "right_ankle"],
        flipPairs: [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]],
        // COCO's skeleton, 0-based.
        skeleton: [[15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7], [6, 8],
                   [7, 9], [8, 10], [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6]],
        sigmas: [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89].map { $0 / 10 })
}
