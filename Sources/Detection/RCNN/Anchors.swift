/// mmdet's `AnchorGenerator` (`scale_major=True`, no explicit centres), in float32 as it computes
/// them. Faster R-CNN: strides 4, 8, 16, 32, 64, base size = stride, ratios [0.5, 1, 2], scales
/// [8], centre offset 0 (an anchor is centred on (x * stride, y * stride), the cell's top-left
/// corner, not its centre).
enum Anchors {
    /// One cell's anchors, `gen_single_level_base_anchors`: `h_ratio = sqrt(ratio)`,
    /// `w_ratio = 1 / h_ratio`, `w = base * w_ratio * scale`, `h = base * h_ratio * scale` (that
    /// order of products), corners `centre -+ 0.5 * w` with `centre = centerOffset * base`.
    /// Ratio-major: anchor `r * scales.count + s` has ratio r and scale s.
    static func base(ratios: [Float], scales: [Float], baseSize: Int, centerOffset: Float = 0) -> [BoundingBox] {
        let size = Float(baseSize)
        // mmdet: x_center = center_offset * w in Python doubles, then float32 in the tensor op.
        let center = Float(Double(centerOffset) * Double(baseSize))
        var anchors: [BoundingBox] = []
        anchors.reserveCapacity(ratios.count * scales.count)
        for ratio in ratios {
            let hRatio = ratio.squareRoot()
            let wRatio = 1 / hRatio
            for scale in scales {
                let w = size * wRatio * scale, h = size * hRatio * scale
                anchors.append(BoundingBox(x1: center - 0.5 * w, y1: center - 0.5 * h,
                                           x2: center + 0.5 * w, y2: center + 0.5 * h))
            }
        }
        return anchors
    }

    /// All anchors of one level, `single_level_grid_priors`: cells row-major (x fastest), each
    /// cell's base anchors in `base` order, shifted by (x * stride, y * stride) computed in
    /// float32. That is the order of the RPN's flattened (H, W, A) outputs.
    static func grid(stride: Int, height: Int, width: Int, ratios: [Float], scales: [Float], baseSize: Int,
                     centerOffset: Float = 0) -> [BoundingBox] {
        precondition(height >= 0 && width >= 0, "negative feature map size \(height) x \(width)")
        let cell = base(ratios: ratios, scales: scales, baseSize: baseSize, centerOffset: centerOffset)
        let step = Float(stride)
        var anchors: [BoundingBox] = []
        anchors.reserveCapacity(height * width * cell.count)
        for y in 0..<height {
            let sy = Float(y) * step
            for x in 0..<width {
                let sx = Float(x) * step
                for a in cell {
                    anchors.append(BoundingBox(x1: a.x1 + sx, y1: a.y1 + sy, x2: a.x2 + sx, y2: a.y2 + sy))
                }
            }
        }
        return anchors
    }
}
