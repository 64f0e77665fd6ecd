import Collectives
import Foundation
import Imaging

extension SegmentationDataset {
    /// The confusion matrix of `segmenter`'s predictions (the official test procedure of its
    /// options) over the first `limit` pairs (all when nil). `progress` hears each image with
    /// the matrix so far.
    public func evaluate(_ segmenter: Segmenter, limit: Int? = nil, communicator: any Communicator = SingleProcess(),
                         progress: (Int, ConfusionMatrix) -> Void = { _, _ in }) throws -> ConfusionMatrix {
        try evaluate(classes: segmenter.classes, limit: limit, communicator: communicator, progress: progress) { try segmenter.labels($0) }
    }

    /// The confusion matrix of `predict`'s label maps (the image's size) over the first `limit` pairs.
    /// Several processes (`communicator`) each take every size-th image and add their matrices:
    /// every process gets the whole data set's matrix, the same as one process's.
    public func evaluate(classes: Int, limit: Int? = nil, communicator: any Communicator = SingleProcess(),
                         progress: (Int, ConfusionMatrix) -> Void = { _, _ in },
                         predict: (Image) throws -> LabelMap) throws -> ConfusionMatrix {
        guard classes == classNames.count else {
            throw SegmentationError("\(root.path): the data set has \(classNames.count) classes, the model \(classes)")
        }
        var matrix = ConfusionMatrix(classes: classes)
        for (done, i) in stride(from: communicator.rank, to: min(count, limit ?? count), by: communicator.size).enumerated() {
            let sample = try sample(at: i)
            try matrix.add(truth: sample.label, prediction: predict(sample.image), file: entries[i].label.path)
            progress(done + 1, matrix)
        }
        guard communicator.size > 1 else { return matrix }
        // Pixel counts add exactly in double (below 2^53).
        var counts = matrix.counts.map(Double.init)
        try counts.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        return ConfusionMatrix(classes: classes, counts: counts.map { Int($0) })
    }
}
