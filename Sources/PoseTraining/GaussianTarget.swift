import Foundation

/// The official training target (JointsDataset.generate_target, TARGET_TYPE gaussian): one
/// heatmap per joint with an unnormalized Gaussian (peak 1) at the joint, and a weight per
/// joint that says whether the loss looks at it.
public enum GaussianTarget {
    /// Heatmaps (joints x height x width, row-major) and target weights.
    ///
    /// For each joint: the weight starts as its visibility. The joint maps to the heatmap cell
    /// mu = int(x / stride + 0.5) (truncating toward zero, as Python's `int`), stride = input
    /// size / heatmap size per axis. The Gaussian window reaches 3 sigma each way: upper-left
    /// ul = int(mu - 3 sigma), bottom-right br = int(mu + 3 sigma + 1) (exclusive). When the
    /// window misses the heatmap entirely (ul >= size or br < 0) the weight becomes 0 and the map
    /// stays empty. Otherwise, when the weight is above 0.5, the window's part inside the map
    /// gets exp(-((x - x0)^2 + (y - y0)^2) / (2 sigma^2)) with (x0, y0) the window's center
    /// cell (size // 2), in float32 as numpy computes it. USE_DIFFERENT_JOINTS_WEIGHT is off.
    ///
    /// `unbiased` (DARK's unbiased encoding, as DarkPose's JointsDataset and MMPose's
    /// `unbiased_encoding` make it): the Gaussian is centred on the joint's exact heatmap position
    /// mu = x / stride, not on a rounded cell, and covers the whole map; the window test that zeroes
    /// the weight uses ul = int(mu - 3 sigma), br = int(mu + 3 sigma + 1) on that unrounded mu.
    /// Rounding moves a target by up to half a heatmap cell (2 input pixels at stride 4), an error
    /// the network then learns and no decoder can take back.
    /// - Complexity: O(joints x heatmap area) to clear the maps, plus O(joints x sigma^2)
    ///   (unbiased: O(joints x heatmap area)).
    public static func make(joints: [Point], visibility: [Double], imageSize: (width: Int, height: Int),
                            heatmapSize: (width: Int, height: Int), sigma: Double, unbiased: Bool = false) -> (target: [Float], weight: [Float]) {
        let (hw, hh) = (heatmapSize.width, heatmapSize.height)
        var target = [Float](repeating: 0, count: joints.count * hw * hh)
        var weight = [Float](repeating: 0, count: joints.count)
        let stride = (x: Double(imageSize.width) / Double(hw), y: Double(imageSize.height) / Double(hh))
        let tmp = sigma * 3
        // The window: numpy's arange(0, 2 * tmp + 1) has ceil(2 * tmp + 1) entries; center size // 2.
        let size = Int((2 * tmp + 1).rounded(.up))
        let center = Double(Int((2 * tmp + 1) / 2))
        let twoSigma2 = Float(2 * sigma * sigma)
        var window = [Float](repeating: 0, count: size * size)
        for gy in 0..<size {
            for gx in 0..<size {
                let dx = Float(Double(gx) - center), dy = Float(Double(gy) - center)
                window[gy * size + gx] = Float(exp(Double(-(dx * dx + dy * dy) / twoSigma2)))
            }
        }
        for j in joints.indices {
            weight[j] = Float(j < visibility.count ? visibility[j] : 0)
            let px = joints[j].x / stride.x, py = joints[j].y / stride.y
            guard px.isFinite, py.isFinite, abs(px) < 1e9, abs(py) < 1e9 else { weight[j] = 0; continue }
            // The official centre is the cell int(p + 0.5) (truncation toward zero, as int());
            // the unbiased one is p itself.
            let mu = unbiased ? Point(x: px, y: py) : Point(x: Double(Int(px + 0.5)), y: Double(Int(py + 0.5)))
            let ul = (x: Int(mu.x - tmp), y: Int(mu.y - tmp))
            let br = (x: Int(mu.x + tmp + 1), y: Int(mu.y + tmp + 1))
            if ul.x >= hw || ul.y >= hh || br.x < 0 || br.y < 0 {
                weight[j] = 0
                continue
            }
            guard weight[j] > 0.5 else { continue }
            let base = j * hw * hh
            if unbiased {
                // The whole map; exp separates into one row and one column of factors.
                let gx = (0..<hw).map { Float(exp(-(Double($0) - mu.x) * (Double($0) - mu.x) / (2 * sigma * sigma))) }
                let gy = (0..<hh).map { Float(exp(-(Double($0) - mu.y) * (Double($0) - mu.y) / (2 * sigma * sigma))) }
                for y in 0..<hh {
                    for x in 0..<hw { target[base + y * hw + x] = gy[y] * gx[x] }
                }
                continue
            }
            let (x0, x1) = (max(0, ul.x), min(br.x, hw)), (y0, y1) = (max(0, ul.y), min(br.y, hh))
            for y in y0..<max(y0, y1) {
                let gy = y - ul.y
                guard gy < size else { break }
                for x in x0..<max(x0, x1) {
                    let gx = x - ul.x
                    guard gx < size else { break }
                    target[base + y * hw + x] = window[gy * size + gx]
                }
            }
        }
        return (target, weight)
    }
}
