import Datasets
import Foundation
import Pose

extension KeypointDataset {
    /// The db of an official MPII annotation file (annot/train.json, valid.json: a list of
    /// {image, center, scale, joints (16 x 2), joints_vis (16)}), built as mpii.py builds it:
    /// where center x is not -1, center y moves down by 15 * scale and scale grows by 1.25
    /// ("to avoid cropping limbs"); then center and joints go from MATLAB's 1-based pixels to
    /// 0-based (minus 1). Scale is square: (s, s) * 1.25. Images are `images/NAME` under `images`.
    public static func mpii(annotations: URL, images: URL) throws -> KeypointDataset {
        let file = annotations.lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: annotations) } catch {
            throw PoseTrainingError.dataset(annotations.path, FileManager.default.fileExists(atPath: annotations.path) ? "cannot be read" : "no such file")
        }
        let root: JSONValue
        do { root = try JSONParser.parse(data) } catch { throw PoseTrainingError.dataset(file, "\(error)") }
        guard let list = root.array else { throw PoseTrainingError.dataset(file, "expected a JSON list of {image, center, scale, joints, joints_vis}") }
        let count = KeypointSet.mpii.count
        var samples: [KeypointSample] = []
        var missing: [String] = []
        var checked: Set<String> = []
        for (i, item) in list.enumerated() {
            let what = "entry \(i)"
            guard let name = item["image"]?.string, !name.isEmpty else { throw PoseTrainingError.dataset(file, "\(what) has no 'image' name") }
            guard let c = item["center"]?.doubles, c.count == 2, c.allSatisfy(\.isFinite) else {
                throw PoseTrainingError.dataset(file, "\(what) ('\(name)'): 'center' must be 2 numbers")
            }
            guard let s = item["scale"]?.double, s.isFinite, s > 0 else {
                throw PoseTrainingError.dataset(file, "\(what) ('\(name)'): 'scale' must be a positive number")
            }
            guard let rows = item["joints"]?.array, rows.count == count else {
                throw PoseTrainingError.dataset(file, "\(what) ('\(name)'): 'joints' must list \(count) joints (MPII)")
            }
            guard let vis = item["joints_vis"]?.doubles, vis.count == count else {
                throw PoseTrainingError.dataset(file, "\(what) ('\(name)'): 'joints_vis' must have \(count) entries")
            }
            var joints: [Point] = []
            for (j, row) in rows.enumerated() {
                guard let p = row.doubles, p.count >= 2, p[0].isFinite, p[1].isFinite else {
                    throw PoseTrainingError.dataset(file, "\(what) ('\(name)'), joint \(j): expected [x, y]")
                }
                joints.append(Point(p[0] - 1, p[1] - 1))
            }
            var center = Point(x: c[0], y: c[1]), scale = s
            if center.x != -1 {
                center.y += 15 * scale
                scale *= 1.25
            }
            let url = images.appendingPathComponent(name)
            if checked.insert(name).inserted, !FileManager.default.fileExists(atPath: url.path) { missing.append(url.path) }
            samples.append(KeypointSample(image: url, center: Point(center.x - 1, center.y - 1), scale: (scale, scale),
                                          joints: joints, visibility: vis, annotationID: i, imageID: i))
        }
        if let first = missing.first {
            let more = missing.count > 1 ? " (and \(missing.count - 1) more image files)" : ""
            throw PoseTrainingError.dataset(file, "image file \(first) is missing\(more)")
        }
        guard !samples.isEmpty else { throw PoseTrainingError.dataset(file, "has no people: nothing to train on") }
        return KeypointDataset(name: file, samples: samples, keypoints: .mpii, upperBody: upperBody(of: .mpii))
    }
}
