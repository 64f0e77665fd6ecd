import Foundation

/// The official half-body augmentation (JointsDataset.half_body_transform): crop around the
/// labelled joints of the upper or of the lower body only, so the network learns from partial
/// people.
public enum HalfBody {
    /// The half-body crop, or nil when fewer than 2 joints would be selected.
    ///
    /// Labelled joints (visibility > 0) are split into upper (`upperBody`) and lower; the upper
    /// body is taken when `upperNormal < 0.5` (a standard normal draw in the official code) and
    /// it has more than 2 joints, else the lower body if it has more than 2, else the upper.
    /// Center: the mean of the selected joints. Size: their extent, w or h widened to
    /// `aspectRatio`, / 200, times 1.5.
    public static func crop(joints: [Point], visibility: [Double], upperBody: Set<Int>,
                            upperNormal: Double, aspectRatio: Double) -> (center: Point, scale: (w: Double, h: Double))? {
        var upper: [Point] = [], lower: [Point] = []
        for j in joints.indices where j < visibility.count && visibility[j] > 0 {
            if upperBody.contains(j) { upper.append(joints[j]) } else { lower.append(joints[j]) }
        }
        let selected = (upperNormal < 0.5 && upper.count > 2) ? upper : (lower.count > 2 ? lower : upper)
        guard selected.count >= 2 else { return nil }
        let n = Double(selected.count)
        let center = Point(x: selected.reduce(0) { $0 + $1.x } / n, y: selected.reduce(0) { $0 + $1.y } / n)
        let xs = selected.map(\.x), ys = selected.map(\.y)
        var w = xs.max()! - xs.min()!, h = ys.max()! - ys.min()!
        if w > aspectRatio * h { h = w / aspectRatio } else if w < aspectRatio * h { w = h * aspectRatio }
        return (center, (w / 200 * 1.5, h / 200 * 1.5))
    }
}

/// Mirroring keypoints with the image (utils/transforms.py fliplr_joints).
public enum KeypointFlip {
    /// x -> width - 1 - x for every joint, then each flip pair's joints and visibilities
    /// swapped; unlabelled joints end at (0, 0) (the official `joints * joints_vis`).
    public static func mirror(joints: [Point], visibility: [Double], width: Int,
                              pairs: [[Int]]) -> (joints: [Point], visibility: [Double]) {
        var out = joints.map { Point(x: Double(width) - $0.x - 1, y: $0.y) }
        var vis = visibility
        for pair in pairs where pair.count == 2 && pair.allSatisfy({ out.indices.contains($0) && vis.indices.contains($0) }) {
            out.swapAt(pair[0], pair[1])
            vis.swapAt(pair[0], pair[1])
        }
        for j in out.indices {
            let v = j < vis.count ? vis[j] : 0
            out[j] = Point(out[j].x * v, out[j].y * v)
        }
        return (out, vis)
    }
}
