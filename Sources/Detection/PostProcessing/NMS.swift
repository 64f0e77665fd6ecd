/// Non-maximum suppression as mmcv computes it (`mmcv.ops.nms`, `batched_nms`).
public enum NMS {
    /// Indices of the kept boxes, best score first: going down the scores, a box is dropped
    /// when its IoU with a kept box is above `iouThreshold` (float32 compare, as mmcv's kernel).
    /// Equal scores keep their input order (mmcv's sort is unstable there; any order is
    /// mmcv's, and stable is reproducible).
    /// - Complexity: O(n^2) in the worst case, n = boxes.count.
    public static func suppress(_ boxes: [BoundingBox], scores: [Float], iouThreshold: Float) -> [Int] {
        precondition(boxes.count == scores.count, "NMS: \(boxes.count) boxes, \(scores.count) scores")
        let order = descendingOrder(scores)
        var suppressed = [Bool](repeating: false, count: boxes.count)
        var keep: [Int] = []
        for (k, i) in order.enumerated() where !suppressed[i] {
            keep.append(i)
            let a = boxes[i]
            for j in order[(k + 1)...] where !suppressed[j] {
                if a.iou(boxes[j]) > iouThreshold { suppressed[j] = true }
            }
        }
        return keep
    }

    /// Class-aware NMS as mmcv's `batched_nms`: boxes of different labels never suppress each
    /// other. Like mmcv, each box is shifted by label * (largest coordinate + 1) and one NMS runs
    /// on the shifted boxes, so IoUs carry the same float32 rounding as mmdet's.
    public static func batched(_ boxes: [BoundingBox], scores: [Float], labels: [Int], config: NMSConfig) -> [Int] {
        guard !boxes.isEmpty else { return [] }
        if config.classAgnostic { return suppress(boxes, scores: scores, iouThreshold: config.iouThreshold) }
        let largest = boxes.map { max($0.x1, $0.y1, $0.x2, $0.y2) }.max()!
        let shifted = zip(boxes, labels).map { b, label in
            let offset = Float(label) * (largest + 1)
            return BoundingBox(x1: b.x1 + offset, y1: b.y1 + offset, x2: b.x2 + offset, y2: b.y2 + offset)
        }
        return suppress(shifted, scores: scores, iouThreshold: config.iouThreshold)
    }

    /// Indices sorting `scores` from high to low, ties in index order.
    static func descendingOrder(_ scores: [Float]) -> [Int] {
        scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    }
}
