import Foundation

/// mmdet's `DeltaXYWHBBoxCoder.decode` (`delta2bbox`, `add_ctr_clamp=False`, `clip_border=True`),
/// float32 in mmdet's order of operations:
/// `d = delta * std + mean`; `px = (x1 + x2) * 0.5`, `pw = x2 - x1` (no +1);
/// `gx = px + pw * dx`; `dw` clamped to +-|log(16 / 1000)| (4.1351666, as float32);
/// `gw = pw * exp(dw)`; `x1 = gx - gw * 0.5`, `x2 = gx + gw * 0.5`; the same in y; then, with a
/// max shape, x clamped to [0, width] and y to [0, height] (boxes past the border can come out
/// with zero width or height; callers drop those). NaN propagates as in torch.
/// The RPN decodes with means 0, stds 1; the R-CNN box head with stds (0.1, 0.1, 0.2, 0.2).
enum DeltaCoder {
    /// `np.abs(np.log(16 / 1000))`, as float32 (torch's clamp bound on a float32 tensor).
    static let maxRatio = Float(abs(log(16.0 / 1000.0)))

    static func decode(_ proposals: [BoundingBox], deltas: [(Float, Float, Float, Float)], means: [Float] = [0, 0, 0, 0],
                       stds: [Float] = [1, 1, 1, 1], maxShape: (height: Int, width: Int)?) -> [BoundingBox] {
        precondition(proposals.count == deltas.count, "\(proposals.count) proposals but \(deltas.count) deltas")
        precondition(means.count == 4 && stds.count == 4, "means and stds need 4 values each")
        let limit = maxRatio
        let bound = maxShape.map { (width: Float($0.width), height: Float($0.height)) }
        var boxes: [BoundingBox] = []
        boxes.reserveCapacity(proposals.count)
        for (p, d) in zip(proposals, deltas) {
            let dx = d.0 * stds[0] + means[0]
            let dy = d.1 * stds[1] + means[1]
            let dw = clamp(d.2 * stds[2] + means[2], -limit, limit)
            let dh = clamp(d.3 * stds[3] + means[3], -limit, limit)
            let px = (p.x1 + p.x2) * 0.5, py = (p.y1 + p.y2) * 0.5
            let pw = p.x2 - p.x1, ph = p.y2 - p.y1
            let gx = px + pw * dx, gy = py + ph * dy
            let gw = pw * exp(dw), gh = ph * exp(dh)
            var box = BoundingBox(x1: gx - gw * 0.5, y1: gy - gh * 0.5, x2: gx + gw * 0.5, y2: gy + gh * 0.5)
            if let b = bound {
                box.x1 = clamp(box.x1, 0, b.width)
                box.x2 = clamp(box.x2, 0, b.width)
                box.y1 = clamp(box.y1, 0, b.height)
                box.y2 = clamp(box.y2, 0, b.height)
            }
            boxes.append(box)
        }
        return boxes
    }

    /// torch's `clamp`: NaN stays NaN.
    @inline(__always)
    static func clamp(_ x: Float, _ lo: Float, _ hi: Float) -> Float {
        x.isNaN ? x : min(max(x, lo), hi)
    }
}
