import Foundation

/// Where a COCO-style data set keeps one split: `ROOT/annotations/<kind>_<split>.json` and the
/// images in `ROOT/images/<split>` (or `ROOT/<split>`, COCO's own layout). One locator for
/// training, evaluation and the data sets.
public struct COCOSplit: Sendable, Equatable {
    public let annotations: URL
    public let images: URL

    /// Annotation files by task, as COCO names them.
    public enum Kind: String, Sendable {
        case keypoints = "person_keypoints"
        case instances
    }

    /// A split whose files are known.
    public init(annotations: URL, images: URL) { (self.annotations, self.images) = (annotations, images) }

    /// Finds `split` under `root`; an error names the file or folder that is not there. Boxes
    /// (`instances`) are also read from a person-keypoint file when the split has only that one:
    /// its annotations are person instances with boxes (as `hrnet synth` writes them).
    public init(root: URL, split: String, kind: Kind) throws {
        let kinds = kind == .instances ? [kind, .keypoints] : [kind]
        let candidates = kinds.map { root.appendingPathComponent("annotations/\($0.rawValue)_\(split).json") }
        guard let annotations = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw DatasetError.coco(candidates[0].path, "no such file (expected DATA/annotations/\(kind.rawValue)_\(split).json"
                                    + (kinds.count > 1 ? ", or person_keypoints_\(split).json for people)" : ")"))
        }
        guard let images = [root.appendingPathComponent("images/\(split)"), root.appendingPathComponent(split)]
            .first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw DatasetError.coco(root.path, "neither images/\(split) nor \(split) exists")
        }
        (self.annotations, self.images) = (annotations, images)
    }
}
