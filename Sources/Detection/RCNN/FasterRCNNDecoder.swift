import DNN
import Foundation

/// Faster R-CNN's test-time steps around its two networks, as mmdetection 3.3.0 runs them.
enum FasterRCNNDecoder {
    /// A proposal: a box in the resized image's pixels and its objectness.
    struct Proposal {
        var box: BoundingBox
        var score: Float
    }

    /// `RPNHead.predict_by_feat` (rescale off): per level, sigmoid objectness of every anchor,
    /// the best `nmsPre` when there are more (else all, in anchor order), their deltas and
    /// anchors; then all levels: deltas decoded onto the anchors and clamped to the image,
    /// empty boxes dropped, NMS per level (the level as the class), the best `maxPerImage`.
    static func proposals(levels: [(scores: Tensor, deltas: Tensor)], image n: Int, spec: FasterRCNNSpec,
                          geometry: ImageGeometry) -> [Proposal] {
        let test = spec.rpnTest
        let a = spec.anchorsPerCell
        var anchors: [BoundingBox] = [], deltas: [(Float, Float, Float, Float)] = [], scores: [Float] = [], levelIDs: [Int] = []
        for (l, level) in levels.enumerated() {
            let (h, w) = (level.scores.shape[2], level.scores.shape[3])
            let plane = h * w, count = plane * a
            // mmdet's order: index (cell * A + anchor), cell = y * W + x.
            var s = [Float](repeating: 0, count: count)
            level.scores.scalars.withUnsafeBufferPointer { cls in
                for k in 0..<a { for p in 0..<plane { s[p * a + k] = FCOSDecoder.sigmoid(cls[(n * a + k) * plane + p]) } }
            }
            var order = Array(0..<count)
            if test.nmsPre > 0 && count > test.nmsPre { order = Array(NMS.descendingOrder(s).prefix(test.nmsPre)) }
            let grid = Anchors.grid(stride: spec.anchorStrides[l], height: h, width: w, ratios: spec.anchorRatios,
                                    scales: spec.anchorScales, baseSize: spec.anchorStrides[l])
            level.deltas.scalars.withUnsafeBufferPointer { reg in
                for i in order {
                    let p = i / a, k = i % a
                    func d(_ j: Int) -> Float { reg[(n * 4 * a + k * 4 + j) * plane + p] }
                    anchors.append(grid[i])
                    deltas.append((d(0), d(1), d(2), d(3)))
                    scores.append(s[i])
                    levelIDs.append(l)
                }
            }
        }
        let boxes = DeltaCoder.decode(anchors, deltas: deltas, means: spec.rpnMeans, stds: spec.rpnStds,
                                      maxShape: (geometry.height, geometry.width))
        var kept: [Int] = []
        for i in boxes.indices where test.minBoxSize < 0 || (boxes[i].width > test.minBoxSize && boxes[i].height > test.minBoxSize) {
            kept.append(i)
        }
        let keep = NMS.batched(kept.map { boxes[$0] }, scores: kept.map { scores[$0] }, labels: kept.map { levelIDs[$0] }, config: test.nms)
        return keep.prefix(test.maxPerImage).map { Proposal(box: boxes[kept[$0]], score: scores[kept[$0]]) }
    }

    /// `SingleRoIExtractor`: each RoI pooled (RoIAlign) from the level its size maps to.
    /// Output (R, C, size, size) in RoI order, then zeros to `paddedTo` rows. `features` are
    /// NCHW, or (N, H, W, C) with `channelsLast` (the detector's plan gives them so).
    static func pool(features: [Tensor], rois: [(batch: Int, box: BoundingBox)], spec: FasterRCNNSpec, threads: Int,
                     paddedTo rows: Int? = nil, channelsLast: Bool = false) -> Tensor {
        let c = features[0].shape[channelsLast ? 3 : 1], size = spec.roiOutputSize, per = c * size * size
        var out = Tensor(zeros: [max(rows ?? 0, rois.count), c, size, size])
        let levels = RoIAlign.levels(rois.map(\.box), finestScale: spec.finestScale, levels: spec.roiStrides.count)
        for l in spec.roiStrides.indices {
            let members = rois.indices.filter { levels[$0] == l }
            guard !members.isEmpty else { continue }
            let pooled = RoIAlign.pool(features[l], rois: members.map { rois[$0] }, spatialScale: Float(1 / Double(spec.roiStrides[l])),
                                       outputSize: size, samplingRatio: spec.roiSamplingRatio, aligned: true, threads: threads,
                                       channelsLast: channelsLast)
            out.scalars.withUnsafeMutableBufferPointer { o in
                pooled.scalars.withUnsafeBufferPointer { p in
                    for (k, r) in members.enumerated() {
                        (o.baseAddress! + r * per).update(from: p.baseAddress! + k * per, count: per)
                    }
                }
            }
        }
        return out
    }

    /// `BBoxHead.predict_by_feat` with rescale: softmax over classes + background, each class's
    /// deltas decoded onto its RoI (clamped to the image), boxes scaled back to the original
    /// image, (RoI, class) pairs above the score threshold, class-aware NMS, the best `maxPerImage`.
    /// `rows` are this image's rows of `classLogits` (R, classes + 1) and `deltas`.
    static func detections(classLogits: Tensor, deltas: Tensor, rows: Range<Int>, rois: [BoundingBox], spec: FasterRCNNSpec,
                           geometry: ImageGeometry) -> [Detection] {
        let k = spec.classes, regPerRoI = deltas.shape[1]
        var boxes: [BoundingBox] = [], scores: [Float] = [], labels: [Int] = []
        for (j, r) in rows.enumerated() {
            let logits = classLogits.scalars[(r * (k + 1))..<((r + 1) * (k + 1))]
            let probabilities = softmax(Array(logits))
            let wanted = (0..<k).filter { probabilities[$0] > spec.rcnnTest.scoreThreshold }
            guard !wanted.isEmpty else { continue }
            let d = wanted.map { c -> (Float, Float, Float, Float) in
                let base = r * regPerRoI + (spec.classAgnosticBoxes ? 0 : 4 * c)
                return (deltas.scalars[base], deltas.scalars[base + 1], deltas.scalars[base + 2], deltas.scalars[base + 3])
            }
            let decoded = DeltaCoder.decode(Array(repeating: rois[j], count: wanted.count), deltas: d, means: spec.boxMeans,
                                            stds: spec.boxStds, maxShape: (geometry.height, geometry.width))
            for (c, b) in zip(wanted, decoded) {
                boxes.append(geometry.original(b))
                scores.append(probabilities[c])
                labels.append(c)
            }
        }
        let keep = NMS.batched(boxes, scores: scores, labels: labels, config: spec.rcnnTest.nms)
        return keep.prefix(spec.rcnnTest.maxPerImage).map { Detection(box: boxes[$0], score: scores[$0], label: labels[$0]) }
    }

    /// `F.softmax` in float32: exp(x - max) / sum.
    static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { Foundation.exp($0 - m) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }
}
