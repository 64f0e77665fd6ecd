/// The result of segmenting one image: the official test output and its arg-max.
public struct SegmentationPrediction: Sendable {
    public let classes: Int
    public let height: Int
    public let width: Int
    /// `classes x height x width` (CHW): what the official `multi_scale_inference` returns for the
    /// image, i.e. the sum over scales of exp(logits), where each scale's logits are upsampled
    /// to the network input (bilinear, the config's ALIGN_CORNERS), averaged with the mirrored
    /// run's under flip, averaged over overlapping windows, and resized to the image size.
    public var scores: [Float]
    /// The arg-max class of every pixel (train ids; the first class wins ties, as np.argmax).
    public var labels: LabelMap

    public init(classes: Int, height: Int, width: Int, scores: [Float]) {
        precondition(scores.count == classes * height * width, "scores do not match \(classes) x \(height) x \(width)")
        (self.classes, self.height, self.width, self.scores) = (classes, height, width, scores)
        self.labels = Self.argmax(scores, classes: classes, height: height, width: width)
    }

    /// The class of highest score at each pixel of CHW `scores` (first maximum on ties).
    /// - Complexity: O(classes * height * width).
    public static func argmax(_ scores: [Float], classes: Int, height: Int, width: Int) -> LabelMap {
        let plane = height * width
        var best = [Float](repeating: -.infinity, count: plane)
        var labels = [UInt8](repeating: 0, count: plane)
        scores.withUnsafeBufferPointer { s in
            for c in 0..<classes {
                let base = c * plane, id = UInt8(truncatingIfNeeded: c)
                for p in 0..<plane where s[base + p] > best[p] {
                    best[p] = s[base + p]
                    labels[p] = id
                }
            }
        }
        return LabelMap(unchecked: width, height, labels)
    }
}
