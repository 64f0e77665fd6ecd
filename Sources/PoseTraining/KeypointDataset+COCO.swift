import Datasets
import Foundation
import Pose

extension KeypointDataset {
    /// What to do with a labelled keypoint that lies outside its image.
    public enum OutsideKeypoints: Sendable {
        /// Refuse the data set, naming the annotation and the joint (the default: such a label
        /// is usually a bug in a converter, and training must not quietly learn from it).
        case fail
        /// Treat the joint as unlabelled (visibility 0), as if the annotator had left it out.
        case unlabel
    }

    /// The training db of a COCO-format keypoint file, built as the official `COCODataset`
    /// builds it (coco.py, `_load_coco_keypoint_annotation_kernal`):
    /// - images in file order (pycocotools' getImgIds); for each, its non-crowd annotations in
    ///   file order;
    /// - boxes cleaned (x1 = max(0, x), x2 = min(width - 1, x1 + max(0, w - 1)), likewise y;
    ///   kept when area > 0 and x2 >= x1, y2 >= y1);
    /// - only the first category of the file (the official class index 1), and only people with
    ///   a labelled keypoint (`max(keypoints) != 0`);
    /// - visibility = min(1, v); center = box center; w or h widened to `aspectRatio`
    ///   (input width / height); scale = (w, h) / 200 * 1.25.
    ///
    /// Unlike the official code, problems are found here rather than mid-training: a missing
    /// image file, a labelled keypoint outside its image (see `outside`), a category without
    /// keypoint names, an image without a size, a person without keypoints. Each is an error
    /// naming the file and the entry; nothing is skipped silently.
    /// - Parameters:
    ///   - annotations: person_keypoints_SPLIT.json.
    ///   - images: the folder the `file_name`s are relative to.
    public static func coco(annotations: URL, images: URL, aspectRatio: Double,
                            outside: OutsideKeypoints = .fail) throws -> KeypointDataset {
        let file = annotations.lastPathComponent
        let truth: COCOGroundTruth
        do { truth = try COCOGroundTruth.load(annotations) } catch {
            throw PoseTrainingError.dataset(annotations.path, "\(error)")
        }
        guard aspectRatio.isFinite, aspectRatio > 0 else {
            throw PoseTrainingError.dataset(file, "the input aspect ratio \(aspectRatio) must be a positive number")
        }
        guard let category = truth.categoryOrder.first else { throw PoseTrainingError.dataset(file, "has no categories") }
        guard let names = truth.keypointNames[category], !names.isEmpty else {
            throw PoseTrainingError.dataset(file, "category \(category) lists no 'keypoints': this is not a keypoint data set")
        }
        let keypoints = KeypointSet.named(names, skeleton: (truth.skeletons[category] ?? []).map { $0.map { $0 - 1 } })
        let count = names.count

        // An annotation of an image the file does not list would be dropped without a word.
        if let orphan = truth.annotations.first(where: { truth.images[$0.imageID] == nil }) {
            throw PoseTrainingError.dataset(file, "annotation \(orphan.id) refers to image_id \(orphan.imageID), which the file's 'images' do not list")
        }
        var byImage: [Int: [Int]] = [:]
        for (i, a) in truth.annotations.enumerated() where !a.isCrowd { byImage[a.imageID, default: []].append(i) }
        var samples: [KeypointSample] = []
        var missingFiles: [String] = []
        for imageID in truth.imageOrder {
            guard let indices = byImage[imageID], let info = truth.images[imageID] else { continue }
            var people: [KeypointSample] = []
            for index in indices {
                let a = truth.annotations[index]
                let what = "annotation \(a.id) (image \(imageID))"
                let (x, y, w, h) = (a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3])
                guard [x, y, w, h].allSatisfy(\.isFinite) else { throw PoseTrainingError.dataset(file, "\(what) has a bbox that is not finite") }
                guard info.width > 0, info.height > 0 else {
                    throw PoseTrainingError.dataset(file, "image \(imageID) ('\(info.fileName)') has no width and height; boxes cannot be cleaned")
                }
                let x1 = max(0, x), y1 = max(0, y)
                let x2 = min(Double(info.width - 1), x1 + max(0, w - 1)), y2 = min(Double(info.height - 1), y1 + max(0, h - 1))
                guard a.area > 0, x2 >= x1, y2 >= y1 else { continue }
                guard a.categoryID == category else { continue }
                guard !a.keypoints.isEmpty else {
                    throw PoseTrainingError.dataset(file, "\(what) of category \(category) has no 'keypoints'")
                }
                guard a.keypoints.count == 3 * count else {
                    throw PoseTrainingError.dataset(file, "\(what) has \(a.keypoints.count / 3) keypoints; category \(category) names \(count)")
                }
                if a.keypoints.max() == 0 { continue }  // official: people with no labelled keypoint are not trained on
                var joints: [Point] = [], visibility: [Double] = []
                for j in 0..<count {
                    let (kx, ky, v) = (a.keypoints[3 * j], a.keypoints[3 * j + 1], a.keypoints[3 * j + 2])
                    guard kx.isFinite, ky.isFinite, [0, 1, 2].contains(v) else {
                        throw PoseTrainingError.dataset(file, "\(what), keypoint \(j) ('\(names[j])'): (\(kx), \(ky), v \(v)) is not finite x, y and v in 0, 1, 2")
                    }
                    var vis = min(1, v)
                    if vis > 0, kx < 0 || ky < 0 || kx > Double(info.width) || ky > Double(info.height) {
                        switch outside {
                        case .fail:
                            throw PoseTrainingError.dataset(file, "\(what), keypoint \(j) ('\(names[j])') at (\(kx), \(ky)) lies outside the \(info.width)x\(info.height) image '\(info.fileName)' (load with outside: .unlabel to treat such joints as unlabelled)")
                        case .unlabel:
                            vis = 0
                        }
                    }
                    joints.append(Point(kx, ky))
                    visibility.append(vis)
                }
                guard visibility.contains(where: { $0 > 0 }) || outside == .fail else { continue }
                let crop = PersonCrop(box: x1, y1, x2 - x1, y2 - y1, aspectRatio: aspectRatio)
                people.append(KeypointSample(image: images.appendingPathComponent(info.fileName), imageWidth: info.width,
                                             imageHeight: info.height, center: crop.center, scale: crop.scale,
                                             joints: joints, visibility: visibility, annotationID: a.id, imageID: imageID))
            }
            if let first = people.first, !FileManager.default.fileExists(atPath: first.image.path) {
                missingFiles.append(first.image.path)
            }
            samples += people
        }
        if let first = missingFiles.first {
            let more = missingFiles.count > 1 ? " (and \(missingFiles.count - 1) more image files)" : ""
            throw PoseTrainingError.dataset(file, "image file \(first) is missing\(more)")
        }
        guard !samples.isEmpty else {
            throw PoseTrainingError.dataset(file, "has no person with a labelled keypoint in category \(category): nothing to train on")
        }
        return KeypointDataset(name: file, samples: samples, keypoints: keypoints, upperBody: upperBody(of: keypoints))
    }
}
