import Foundation

extension SegmentationDataset {
    /// The confusion matrix of `segmenter`'s predictions (the official test procedure of its
    /// options) over the first `limit` pairs (all when nil). `progress` hears each image with
    /// the matrix so far.
    public func evaluate(_ segmenter: Segmenter, limit: Int? = nil,
                         progress: (Int, ConfusionMatrix) -> Void = { _, _ in }) throws -> ConfusionMatrix {
        guard segmenter.classes == classNames.count else {
            throw SegmentationError("\(root.path): the data set has \(classNames.count) classes, the model \(segmenter.classes)")
        }
        var matrix = ConfusionMatrix(classes: segmenter.classes)
        for i in 0..<min(count, limit ?? count) {
            let sample = try sample(at: i)
            let prediction = try segmenter.segment(sample.image)
            try matrix.add(truth: sample.label, prediction: prediction.labels, file: entries[i].label.path)
            progress(i + 1, matrix)
        }
        return matrix
    }
}
