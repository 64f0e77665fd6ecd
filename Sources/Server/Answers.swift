import Classification
import Detection
import Foundation
import HRNet
import Imaging
import Pose
import Segmentation

/// The JSON bodies of the API (snake_case keys as written here).
struct ImageSize: Encodable {
    let width: Int, height: Int
    init(_ image: Image) { (width, height) = (image.width, image.height) }
}

struct PoseAnswer: Encodable {
    struct PersonJSON: Encodable {
        /// [x, y, w, h] of the box the person was cropped from.
        let box: [Double]
        let score: Double
        let box_score: Double
        /// Per keypoint [x, y, score], in the keypoint_names order.
        let keypoints: [[Double]]
    }
    let model: String
    let image: ImageSize
    let keypoint_names: [String]
    /// Pairs of keypoint indices to draw as limbs.
    let skeleton: [[Int]]
    let people: [PersonJSON]

    init(model: String, image: ImageSize, keypoints: KeypointSet, people: [Person]) {
        self.model = model
        self.image = image
        keypoint_names = keypoints.names
        skeleton = keypoints.skeleton
        self.people = people.map { p in
            let b = p.box
            return PersonJSON(box: b.map { [$0.x, $0.y, $0.width, $0.height] } ?? [], score: p.score, box_score: b?.score ?? 1,
                              keypoints: p.keypoints.map { [$0.x, $0.y, $0.score] })
        }
    }
}

struct SegmentAnswer: Encodable {
    struct ClassArea: Encodable {
        let id: Int
        let name: String
        let fraction: Double
        let pixels: Int
    }
    let model: String
    let width: Int, height: Int
    /// Classes present, largest first.
    let classes: [ClassArea]

    init(model: String, labels: LabelMap, names: [String]) {
        self.model = model
        (width, height) = (labels.width, labels.height)
        var counts = [Int](repeating: 0, count: 256)
        for v in labels.labels { counts[Int(v)] += 1 }
        let total = Double(max(1, labels.labels.count))
        classes = counts.enumerated().filter { $0.element > 0 }.sorted { $0.element > $1.element }.map {
            ClassArea(id: $0.offset, name: $0.offset < names.count ? names[$0.offset] : "class \($0.offset)",
                      fraction: Double($0.element) / total, pixels: $0.element)
        }
    }
}

struct ClassifyAnswer: Encodable {
    struct Entry: Encodable {
        let index: Int
        let label: String?
        let probability: Double
    }
    let model: String
    let top: [Entry]
}

struct DetectAnswer: Encodable {
    struct Entry: Encodable {
        let label: String
        let score: Double
        /// [x, y, w, h]
        let box: [Double]
    }
    let model: String
    let image: ImageSize
    let detections: [Entry]
}

/// GET /v1/models: what each model is and takes.
struct ModelInfo: Encodable {
    let name: String
    let task: String
    let source: String
    /// [width, height] of the network input (pose: the crop).
    let input: [Int]?
    let classes: [String]?
    let keypoint_names: [String]?
    let skeleton: [[Int]]?
    let person_detector: String?

    init(_ m: ServedModel) {
        name = m.name
        task = m.task.rawValue
        person_detector = m.personDetector?.name
        if let d = m.detector {
            source = m.entry.preset ?? m.entry.config ?? m.entry.weights ?? ""
            _ = d
            input = nil
            classes = d.spec.classes
            (keypoint_names, skeleton) = (nil, nil)
            return
        }
        let config = m.pose?.config ?? m.segmenter?.config ?? m.classifier?.model.model.config
        source = config?.source ?? m.entry.preset ?? m.entry.config ?? ""
        input = config.map { [$0.imageSize.width, $0.imageSize.height] }
        classes = m.task == .pose ? nil : Self.classNames(m)
        keypoint_names = m.pose?.keypoints.names
        skeleton = m.pose?.keypoints.skeleton
    }

    static func classNames(_ m: ServedModel) -> [String] {
        if let labels = m.classifier?.model.labels { return labels.names }
        guard let config = m.segmenter?.config, let n = config.numClasses else { return [] }
        return DatasetClassNames.names(dataset: config.dataset, classes: n)
    }
}
