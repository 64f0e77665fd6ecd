import Foundation
import Imaging

extension SegmentationDataset {
    /// The confusion matrix of `segmenter`'s predictions (the official test procedure of its
    /// options) over the first `limit` pairs (all when nil). `progress` hears each image with
    /// the matrix so far.
    public func evaluate(_ segmenter: Segmenter, limit: Int? = nil,
                         progress: (Int, ConfusionMatrix) -> Void = { _, _ in }) throws -> ConfusionMatrix {
        try evaluate(classes: segmenter.classes, limit: limit, progress: progress) { try segmenter.segment($0).labels }
    }

    /// The confusion matrix of `predict`'s label maps (the image's size) over the first `limit` pairs.
    public func evaluate(classes: Int, limit: Int? = nil, progress: (Int, ConfusionMatrix) -> Void = { _, _ in },
                         predict: (Image) throws -> LabelMap) throws -> ConfusionMatrix {
        guard classes == classNames.count else {
            throw SegmentationError("\(root.path): the data set has \(classNames.count) classes, the model \(classes)")
        }
        var matrix = ConfusionMatrix(classes: classes)
        for i in 0..<min(count, limit ?? count) {
            let sample = try sample(at: i)
            try matrix.add(truth: sample.label, prediction: predict(sample.image), file: entries[i].label.path)
            progress(i + 1, matrix)
        }
        return matrix
    }
}
