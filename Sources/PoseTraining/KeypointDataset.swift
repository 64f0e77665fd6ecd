import Foundation
import Pose

/// A keypoint data set ready for training: its people (`KeypointSample`, the official db), the
/// keypoint definition (names, flip pairs) and which joints count as the upper body for the
/// half-body augmentation.
public struct KeypointDataset: Sendable {
    /// For messages: the annotation file's name.
    public var name: String
    public var samples: [KeypointSample]
    public var keypoints: KeypointSet
    /// The official `upper_body_ids`; every other joint is lower body.
    public var upperBody: Set<Int>

    public init(name: String, samples: [KeypointSample], keypoints: KeypointSet, upperBody: Set<Int>) {
        (self.name, self.samples, self.keypoints, self.upperBody) = (name, samples, keypoints, upperBody)
    }

    public var count: Int { samples.count }

    /// Upper-body joints of a keypoint set: COCO's and MPII's official lists; for other sets,
    /// every joint whose name does not mention a hip, knee, ankle or foot (or pelvis).
    public static func upperBody(of set: KeypointSet) -> Set<Int> {
        if set.names == KeypointSet.coco.names { return Set(0...10) }          // coco.py upper_body_ids
        if set.names == KeypointSet.mpii.names { return Set(7...15) }          // mpii.py upper_body_ids
        let lower = ["hip", "knee", "ankle", "foot", "heel", "toe", "pelvis"]
        return Set(set.names.indices.filter { i in !lower.contains { set.names[i].lowercased().contains($0) } })
    }
}

extension KeypointSet {
    /// MPII's 16 joints in the order of the official annotations (mpii.py: flip pairs; the
    /// skeleton joins each joint to its `parent_ids` entry). OKS sigmas: COCO's mean.
    public static let mpii: KeypointSet = {
        let parents = [1, 2, 6, 6, 3, 4, 6, 6, 7, 8, 11, 12, 7, 7, 13, 14]
        var set = KeypointSet.unnamed(16)
        set.names = ["r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
                     "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist"]
        set.flipPairs = [[0, 5], [1, 4], [2, 3], [10, 15], [11, 14], [12, 13]]
        set.skeleton = parents.enumerated().filter { $0.offset != $0.element }.map { [$0.offset, $0.element] }
        return set
    }()
}
