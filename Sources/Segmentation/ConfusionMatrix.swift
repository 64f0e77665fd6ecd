/// Pixel counts by (ground-truth class, predicted class), and the metrics the official
/// HRNet-Semantic-Segmentation reports from it (lib/utils/utils.py get_confusion_matrix,
/// lib/core/function.py testval):
/// - IoU of class c = tp / max(1, gt_c + pred_c - tp); mIoU the mean over ALL classes (a class
///   that never occurs, in the truth or the prediction, counts as IoU 0, as in the official code);
/// - pixel accuracy = sum(tp) / labelled pixels; mean accuracy = mean over classes of tp / max(1, gt_c).
/// Pixels labelled `LabelMap.ignore` are skipped.
public struct ConfusionMatrix: Sendable, Equatable {
    public let classes: Int
    /// Row-major `classes x classes`: `counts[truth * classes + prediction]`.
    public private(set) var counts: [Int]

    public init(classes: Int) {
        precondition(classes > 0, "a confusion matrix needs at least one class")
        self.classes = classes
        counts = [Int](repeating: 0, count: classes * classes)
    }

    /// A matrix of given counts (row-major, `classes x classes`), e.g. added over processes.
    init(classes: Int, counts: [Int]) {
        precondition(counts.count == classes * classes, "a confusion matrix of \(classes) classes has \(classes * classes) counts")
        (self.classes, self.counts) = (classes, counts)
    }

    public subscript(truth: Int, prediction: Int) -> Int { counts[truth * classes + prediction] }

    /// Adds one image. `truth` and `prediction` must have the same size; a truth label that is
    /// neither a class nor ignore, or a predicted label that is not a class, is an error naming `file`.
    public mutating func add(truth: LabelMap, prediction: LabelMap, file: String = "<labels>") throws {
        guard truth.width == prediction.width, truth.height == prediction.height else {
            throw SegmentationError("\(file): label map is \(truth.width) x \(truth.height) but the prediction is \(prediction.width) x \(prediction.height)")
        }
        let n = classes
        try truth.labels.withUnsafeBufferPointer { t in
            try prediction.labels.withUnsafeBufferPointer { p in
                for i in 0..<t.count {
                    let g = Int(t[i])
                    if g == Int(LabelMap.ignore) { continue }
                    let q = Int(p[i])
                    guard g < n, q < n else {
                        let (bad, what) = g >= n ? (g, "label") : (q, "prediction")
                        throw SegmentationError("\(file): \(what) \(bad) at (x \(i % truth.width), y \(i / truth.width)) is not a class id (0...\(n - 1), or \(LabelMap.ignore) for ignore)")
                    }
                    counts[g * n + q] += 1
                }
            }
        }
    }

    public static func + (a: ConfusionMatrix, b: ConfusionMatrix) -> ConfusionMatrix {
        precondition(a.classes == b.classes, "adding confusion matrices of \(a.classes) and \(b.classes) classes")
        var c = a
        for i in 0..<c.counts.count { c.counts[i] += b.counts[i] }
        return c
    }

    /// Ground-truth pixels of each class (row sums).
    public var truthCounts: [Int] { (0..<classes).map { r in (0..<classes).reduce(0) { $0 + self[r, $1] } } }
    /// Predicted pixels of each class among labelled pixels (column sums).
    public var predictionCounts: [Int] { (0..<classes).map { c in (0..<classes).reduce(0) { $0 + self[$1, c] } } }
    public var truePositives: [Int] { (0..<classes).map { self[$0, $0] } }

    public var iou: [Double] {
        let pos = truthCounts, res = predictionCounts, tp = truePositives
        return (0..<classes).map { Double(tp[$0]) / Double(max(1, pos[$0] + res[$0] - tp[$0])) }
    }
    public var meanIoU: Double { iou.reduce(0, +) / Double(classes) }
    /// The mean IoU over the classes that occur in the ground truth (not the official number;
    /// it differs from `meanIoU` on subsets that miss some classes). 0 when nothing is labelled.
    public var meanIoUOfPresentClasses: Double {
        let present = truthCounts.enumerated().filter { $0.element > 0 }.map(\.offset)
        return present.isEmpty ? 0 : present.map { iou[$0] }.reduce(0, +) / Double(present.count)
    }
    public var pixelAccuracy: Double {
        let total = truthCounts.reduce(0, +)
        return total == 0 ? 0 : Double(truePositives.reduce(0, +)) / Double(total)
    }
    public var meanAccuracy: Double {
        let pos = truthCounts, tp = truePositives
        return (0..<classes).map { Double(tp[$0]) / Double(max(1, pos[$0])) }.reduce(0, +) / Double(classes)
    }
}
