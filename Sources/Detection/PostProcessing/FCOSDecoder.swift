import DNN
import Foundation

/// FCOS's test-time post-processing, as mmdet's `BaseDenseHead.predict_by_feat` with
/// `rescale=True`: per level, sigmoid class scores above the threshold, the best `nmsPre`
/// (point, class) pairs, distances decoded around each point and clamped to the image; then
/// all levels: boxes scaled back to the original image, score = class x centerness
/// probability, empty boxes dropped, class-aware NMS, the best `maxPerImage`.
enum FCOSDecoder {
    /// Detections of image `n` of a batch from the head's outputs, level by level.
    static func decode(levels: [(classes: Tensor, boxes: Tensor, centerness: Tensor)], image n: Int, spec: FCOSHeadSpec,
                       geometry: ImageGeometry) -> [Detection] {
        let test = spec.test
        var candidates: [Detection] = []
        for (l, level) in levels.enumerated() {
            candidates += decodeLevel(level, image: n, stride: spec.strides[l], spec: spec, geometry: geometry)
        }
        candidates = candidates.compactMap { c in
            let b = geometry.original(c.box)
            guard b.width > test.minBoxSize, b.height > test.minBoxSize else { return nil }
            return Detection(box: b, score: c.score, label: c.label)
        }
        let keep = NMS.batched(candidates.map(\.box), scores: candidates.map(\.score), labels: candidates.map(\.label), config: test.nms)
        return keep.prefix(test.maxPerImage).map { candidates[$0] }
    }

    /// One level's candidates, best `nmsPre` first, boxes in the resized image's pixels and
    /// scores already multiplied by the centerness.
    static func decodeLevel(_ level: (classes: Tensor, boxes: Tensor, centerness: Tensor), image n: Int, stride: Int,
                            spec: FCOSHeadSpec, geometry: ImageGeometry) -> [Detection] {
        let (k, h, w) = (level.classes.shape[1], level.classes.shape[2], level.classes.shape[3])
        let plane = h * w
        let threshold = spec.test.scoreThreshold
        // sigmoid(x) > t only if x > logit(t); the margin keeps the exact float32 test on the sigmoid.
        let logitBound = Float(log(Double(threshold) / (1 - Double(threshold)))) - 1e-3
        var pairs: [(index: Int, score: Float)] = []  // index = point * classes + class, mmdet's row-major order
        level.classes.scalars.withUnsafeBufferPointer { cls in
            let base = n * k * plane
            for c in 0..<k {
                for p in 0..<plane {
                    let x = cls[base + c * plane + p]
                    guard x > logitBound else { continue }
                    let s = sigmoid(x)
                    if s > threshold { pairs.append((p * k + c, s)) }
                }
            }
        }
        pairs.sort { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
        let s = Float(stride)
        return pairs.prefix(spec.test.nmsPre).map { pair in
            let p = pair.index / k, label = pair.index % k
            let px = (Float(p % w) + 0.5) * s, py = (Float(p / w) + 0.5) * s
            func distance(_ side: Int) -> Float {
                let d = level.boxes.scalars[(n * 4 + side) * plane + p]
                return spec.normOnBox ? d * s : d
            }
            let box = BoundingBox(x1: min(max(px - distance(0), 0), Float(geometry.width)),
                                  y1: min(max(py - distance(1), 0), Float(geometry.height)),
                                  x2: min(max(px + distance(2), 0), Float(geometry.width)),
                                  y2: min(max(py + distance(3), 0), Float(geometry.height)))
            let centerness = sigmoid(level.centerness.scalars[n * plane + p])
            return Detection(box: box, score: pair.score * centerness, label: label)
        }
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
}
