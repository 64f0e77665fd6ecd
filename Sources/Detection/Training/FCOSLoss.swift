import DNN
import Foundation

/// FCOS's training loss as mmdet's `FCOSHead.loss_by_feat` computes it, with its gradient with
/// respect to the head's outputs (the engine back-propagates from there):
/// - classification: sigmoid focal loss (alpha 0.25, gamma 2) over every point and class, the
///   target one-hot of the point's class (all zero for background), summed / the positives;
/// - box: IoU loss (-log IoU; or GIoU loss, 1 - GIoU) of the boxes the predicted and target
///   distances make around each positive point, weighted by the centerness target, summed / the
///   sum of those weights;
/// - centerness: binary cross-entropy of the centerness logit against the centerness target
///   at each positive, summed / the positives.
/// Data parallel (mmdet's `reduce_mean`): the positives and the centerness sum are the means
/// over the processes, so the processes' gradients, averaged, are the whole batch's.
public struct FCOSLoss: Sendable {
    public var focalAlpha: Double = 0.25
    public var focalGamma: Double = 2
    /// mmdet's `IoULoss` (-log IoU) or `GIoULoss` (1 - GIoU).
    public enum BoxLoss: Sendable { case iou, giou }
    public var boxLoss = BoxLoss.iou
    /// The box loss's eps (IoULoss: IoUs are clamped at it before the log; GIoULoss: the union
    /// and the enclosing area are).
    public var eps: Double = 1e-6
    public var classificationWeight = 1.0, boxWeight = 1.0, centernessWeight = 1.0
    public init() {}

    public struct Value: Sendable {
        public var classification: Double
        public var box: Double
        public var centerness: Double
        public var total: Double { classification + box + centerness }
        /// d total / d output, in the graph's output order (per level: classes, distances, centerness).
        public var gradients: [Tensor]
        public var positives: Int
    }

    /// The loss of a batch's head outputs (`outputs`: per level classes (N, C, H, W), distances
    /// (N, 4, H, W) after scale and exp, centerness logits (N, 1, H, W)) against `targets`.
    /// - Parameters:
    ///   - meanPositives: the positives averaged over the processes (nil: this batch's), floored at 1.
    ///   - meanCenternessSum: the centerness targets' sum averaged over the processes (nil: this batch's).
    public func callAsFunction(_ outputs: [Tensor], targets: FCOSTargets, strides: [Int], meanPositives: Double? = nil,
                               meanCenternessSum: Double? = nil) throws -> Value {
        let levels = targets.labels.count
        guard outputs.count == 3 * levels, strides.count == levels else {
            throw DetectionError.training("FCOS loss: \(outputs.count) outputs for \(levels) levels (3 each)")
        }
        // mmdet's weighted means divide by (avg_factor + float32 eps).
        let eps32 = Double(Float.ulpOfOne)
        let numPositives = max(meanPositives ?? Double(targets.positives), 1) + eps32
        let centernessNorm = max(meanCenternessSum ?? targets.centernessSum, 1e-6) + eps32
        var classification = 0.0, box = 0.0, centerness = 0.0
        var gradients: [Tensor] = []
        let (alpha, gamma) = (focalAlpha, focalGamma)
        for l in 0..<levels {
            let (cls, dist, ctr) = (outputs[3 * l], outputs[3 * l + 1], outputs[3 * l + 2])
            guard cls.rank == 4, dist.shape == [cls.shape[0], 4, cls.shape[2], cls.shape[3]],
                  ctr.shape == [cls.shape[0], 1, cls.shape[2], cls.shape[3]],
                  targets.labels[l].count == cls.shape[0], targets.labels[l].allSatisfy({ $0.count == cls.shape[2] * cls.shape[3] }) else {
                throw DetectionError.training("FCOS loss: level \(l) outputs \(cls.shape), \(dist.shape), \(ctr.shape) do not fit the targets")
            }
            let (batch, classes, plane) = (cls.shape[0], cls.shape[1], cls.shape[2] * cls.shape[3])
            var gCls = [Float](repeating: 0, count: cls.count), gDist = [Float](repeating: 0, count: dist.count)
            var gCtr = [Float](repeating: 0, count: ctr.count)
            let px = { (p: Int) in (Float(p % cls.shape[3]) + 0.5) * Float(strides[l]) }
            let py = { (p: Int) in (Float(p / cls.shape[3]) + 0.5) * Float(strides[l]) }
            for n in 0..<batch {
                for p in 0..<plane {
                    let label = targets.labels[l][n][p]
                    // Focal loss over every class of the point.
                    for c in 0..<classes {
                        let i = (n * classes + c) * plane + p
                        let x = Double(cls.scalars[i]), t = label == c
                        let (loss, grad) = Self.focal(x, positive: t, alpha: alpha, gamma: gamma)
                        classification += loss
                        gCls[i] = Float(grad / numPositives * classificationWeight)
                    }
                    guard label != nil else { continue }
                    let target = targets.distances[l][n][p]
                    let weight = Double(FCOSTargets.centerness(target))
                    // Box: -log IoU (or 1 - GIoU) of the boxes around the point, weighted by the centerness target.
                    var d = SIMD4<Float>()
                    for k in 0..<4 { d[k] = dist.scalars[(n * 4 + k) * plane + p] }
                    let (loss, grad) = boxLoss == .iou ? Self.iouLoss(predicted: d, target: target, x: px(p), y: py(p), eps: eps)
                        : Self.giouLoss(predicted: d, target: target, x: px(p), y: py(p), eps: eps)
                    box += weight * loss
                    for k in 0..<4 { gDist[(n * 4 + k) * plane + p] = Float(weight * grad[k] / centernessNorm * boxWeight) }
                    // Centerness: BCE with logits against the target.
                    let z = Double(ctr.scalars[n * plane + p])
                    centerness += Self.softplus(z) - z * weight
                    gCtr[n * plane + p] = Float((Self.sigmoid(z) - weight) / numPositives * centernessWeight)
                }
            }
            gradients += [Tensor(shape: cls.shape, scalars: gCls), Tensor(shape: dist.shape, scalars: gDist), Tensor(shape: ctr.shape, scalars: gCtr)]
        }
        return Value(classification: classification / numPositives * classificationWeight, box: box / centernessNorm * boxWeight,
                     centerness: centerness / numPositives * centernessWeight, gradients: gradients, positives: targets.positives)
    }

    @inline(__always) static func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)) }
    /// log(1 + e^x), without overflow.
    @inline(__always) static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(Foundation.exp(-abs(x))) }

    /// Sigmoid focal loss of one logit and its derivative: t = 1: -alpha (1 - p)^gamma log p;
    /// t = 0: -(1 - alpha) p^gamma log(1 - p) (mmdet's `py_sigmoid_focal_loss`: the focal
    /// weight is not detached, so it is differentiated too).
    static func focal(_ x: Double, positive: Bool, alpha: Double, gamma: Double) -> (loss: Double, gradient: Double) {
        let p = sigmoid(x)
        if positive {
            let logP = -softplus(-x), q = 1 - p
            let loss = alpha * pow(q, gamma) * -logP
            let grad = alpha * (gamma * p * pow(q, gamma) * logP - pow(q, gamma + 1))
            return (loss, grad)
        }
        let logQ = -softplus(x)
        let loss = (1 - alpha) * pow(p, gamma) * -logQ
        let grad = (1 - alpha) * (gamma * pow(p, gamma) * (1 - p) * -logQ + pow(p, gamma + 1))
        return (loss, grad)
    }

    /// The predicted box `a` and the target box `b` the distances (left, top, right, bottom) make
    /// around the point (x, y) (mmdet decodes them to corners in float32), their overlap, and the
    /// derivatives of the overlap and of a's area with respect to the predicted distances.
    struct BoxPair {
        let a: (Float, Float, Float, Float), b: (Float, Float, Float, Float)
        let areaA: Double, areaB: Double, inter: Double
        let dInter: SIMD4<Double>, dAreaA: SIMD4<Double>

        init(predicted d: SIMD4<Float>, target t: SIMD4<Float>, x: Float, y: Float) {
            a = (x - d[0], y - d[1], x + d[2], y + d[3]); b = (x - t[0], y - t[1], x + t[2], y + t[3])
            areaA = Double((a.2 - a.0) * (a.3 - a.1)); areaB = Double((b.2 - b.0) * (b.3 - b.1))
            let w = Double(min(a.2, b.2) - max(a.0, b.0)), h = Double(min(a.3, b.3) - max(a.1, b.1))
            let (iw, ih) = (max(w, 0), max(h, 0))
            inter = iw * ih
            // A side moves the overlap only where it is the inner one.
            let dw = w > 0 ? ih : 0, dh = h > 0 ? iw : 0
            dInter = SIMD4(a.0 > b.0 ? dw : 0, a.1 > b.1 ? dh : 0, a.2 < b.2 ? dw : 0, a.3 < b.3 ? dh : 0)
            let heightA = Double(a.3 - a.1), widthA = Double(a.2 - a.0)
            dAreaA = SIMD4(heightA, widthA, heightA, widthA)
        }
    }

    /// -log IoU of the boxes the distances `predicted` and `target` make around (x, y) (mmdet's
    /// `bbox_overlaps` aligned, IoU clamped at eps), and its derivative with respect to the
    /// predicted distances.
    static func iouLoss(predicted d: SIMD4<Float>, target t: SIMD4<Float>, x: Float, y: Float, eps: Double) -> (loss: Double, gradient: SIMD4<Double>) {
        let p = BoxPair(predicted: d, target: t, x: x, y: y)
        let union = max(p.areaA + p.areaB - p.inter, eps)
        let iou = p.inter / union
        guard iou > eps else { return (-log(eps), .zero) }
        // loss = log(union) - log(inter)
        let gradient = (p.dAreaA - p.dInter) / union - p.dInter / p.inter
        return (-log(iou), gradient)
    }

    /// 1 - GIoU of the boxes the distances `predicted` and `target` make around (x, y), where
    /// GIoU = IoU - (enclosing area - union) / enclosing area (mmdet's `bbox_overlaps(mode='giou',
    /// is_aligned=True)`: union and enclosing area clamped at eps, no log), and its derivative with
    /// respect to the predicted distances. Unlike -log IoU it still pulls boxes that do not overlap.
    static func giouLoss(predicted d: SIMD4<Float>, target t: SIMD4<Float>, x: Float, y: Float, eps: Double) -> (loss: Double, gradient: SIMD4<Double>) {
        let p = BoxPair(predicted: d, target: t, x: x, y: y)
        let (a, b, inter) = (p.a, p.b, p.inter)
        let rawUnion = p.areaA + p.areaB - inter, union = max(rawUnion, eps)
        let ew = Double(max(a.2, b.2) - min(a.0, b.0)), eh = Double(max(a.3, b.3) - min(a.1, b.1))
        let rawEnclosure = max(ew, 0) * max(eh, 0), enclosure = max(rawEnclosure, eps)
        let loss = 1 - (inter / union - (enclosure - union) / enclosure)
        // loss = 2 - I / U - U / E; each distance moves the inner side (I), the area of a (U) and
        // the outer side (E).
        let dUnion = rawUnion > eps ? p.dAreaA - p.dInter : .zero
        let dEnclosure = rawEnclosure > eps
            ? SIMD4<Double>(a.0 < b.0 ? eh : 0, a.1 < b.1 ? ew : 0, a.2 > b.2 ? eh : 0, a.3 > b.3 ? ew : 0) : .zero
        let gradient = -(p.dInter * union - inter * dUnion) / (union * union)
            - (dUnion * enclosure - union * dEnclosure) / (enclosure * enclosure)
        return (loss, gradient)
    }
}
