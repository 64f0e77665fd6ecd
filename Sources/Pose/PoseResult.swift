import Datasets
import Foundation

/// One person of one image in COCO's keypoint results format.
public struct PoseResult: Sendable {
    public var imageID: Int
    public var fileName: String
    public var person: Person

    public init(imageID: Int, fileName: String, person: Person) {
        (self.imageID, self.fileName, self.person) = (imageID, fileName, person)
    }

    /// A COCO results list (`image_id`, `category_id` 1, `keypoints` as x, y, score triplets,
    /// `score`), with `file_name`, `center` and `scale` beside them as the official code writes;
    /// pycocotools ignores the extra fields.
    public static func json(_ results: [PoseResult]) -> String {
        func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "0" }
        var out = "[\n"
        for (i, r) in results.enumerated() {
            let kp = r.person.keypoints.flatMap { [$0.x, $0.y, $0.score] }.map(number).joined(separator: ", ")
            var line = "  {\"image_id\": \(r.imageID), \"category_id\": 1, \"file_name\": \(JSONValue.literal(r.fileName)), "
            line += "\"keypoints\": [\(kp)], \"score\": \(number(r.person.score))"
            if let c = r.person.crop {
                line += ", \"center\": [\(number(c.center.x)), \(number(c.center.y))], \"scale\": [\(number(c.scale.w)), \(number(c.scale.h))]"
            }
            out += line + "}" + (i + 1 < results.count ? ",\n" : "\n")
        }
        return out + "]\n"
    }

    /// One line for a terminal: the image, the score and each keypoint.
    public func summary(names: [String]) -> String {
        let joints = zip(names, person.keypoints).map { String(format: "%@ (%.1f, %.1f) %.2f", $0, $1.x, $1.y, $1.score) }
        return String(format: "%@ score %.3f: ", fileName, person.score) + joints.joined(separator: ", ")
    }
}
