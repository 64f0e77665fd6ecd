import Foundation

/// MPII's PCKh as the official pose code reports it (lib/dataset/mpii.py, `evaluate`): a joint
/// is correct when its error is at most `threshold` times the head size, the head size being
/// 0.6 (SC_BIAS) x the diagonal of the annotated head box; only visible (not missing) joints
/// count.
public struct PCKh: Sendable {
    /// SC_BIAS: the head box diagonal to head size factor.
    public static let headSizeFactor = 0.6

    /// Percent correct per joint (NaN for a joint that is never visible, as numpy's 0/0).
    public var perJoint: [Double]
    /// Visible joints per joint type.
    public var jointCount: [Int]
    /// The official summary rows: Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle (left/right
    /// means), Mean (over all joints but pelvis and thorax, weighted by visible counts), and
    /// Mean@0.1.
    public var summary: [(name: String, value: Double)]

    public var mean: Double { summary.first { $0.name == "Mean" }?.value ?? .nan }

    /// - Parameters:
    ///   - predictions, groundTruth: per person, 16 joints (x, y) in MPII's joint order, in the
    ///     same pixel convention (both 0-based or both 1-based).
    ///   - visible: per person and joint, whether the joint is annotated (1 - `jnt_missing`).
    ///   - headBoxes: per person (x1, y1, x2, y2) (`headboxes_src` of gt_valid.mat).
    ///   - threshold: 0.5 for PCKh@0.5.
    /// The official "Mean@0.1" reads row 11 of `np.arange(0, 0.51, 0.01)`, which is 0.11; it is
    /// reproduced as such.
    public static func evaluate(predictions: [[Point]], groundTruth: [[Point]],
                                visible: [[Bool]], headBoxes: [[Double]], threshold: Double = 0.5) throws -> PCKh {
        let n = groundTruth.count
        guard predictions.count == n, visible.count == n, headBoxes.count == n else {
            throw DatasetError.pckh("predictions (\(predictions.count)), ground truth (\(n)), visibility (\(visible.count)) and head boxes (\(headBoxes.count)) must list the same people")
        }
        guard n > 0 else { throw DatasetError.pckh("no people to evaluate") }
        let joints = 16
        var scaled = [[Double]](repeating: [Double](repeating: 0, count: joints), count: n)
        for p in 0..<n {
            guard predictions[p].count == joints, groundTruth[p].count == joints, visible[p].count == joints else {
                throw DatasetError.pckh("person \(p) does not have \(joints) joints (MPII) in predictions, ground truth and visibility")
            }
            guard headBoxes[p].count == 4 else { throw DatasetError.pckh("head box \(p) must be 4 numbers x1, y1, x2, y2") }
            let b = headBoxes[p]
            let head = ((b[2] - b[0]) * (b[2] - b[0]) + (b[3] - b[1]) * (b[3] - b[1])).squareRoot() * headSizeFactor
            for j in 0..<joints where visible[p][j] {
                let dx = predictions[p][j].x - groundTruth[p][j].x, dy = predictions[p][j].y - groundTruth[p][j].y
                scaled[p][j] = (dx * dx + dy * dy).squareRoot() / head
            }
        }
        var count = [Int](repeating: 0, count: joints)
        for p in 0..<n { for j in 0..<joints where visible[p][j] { count[j] += 1 } }
        func pck(_ t: Double) -> [Double] {
            (0..<joints).map { j in
                var correct = 0
                for p in 0..<n where visible[p][j] && scaled[p][j] <= t { correct += 1 }
                return 100 * Double(correct) / Double(count[j])
            }
        }
        let perJoint = pck(threshold)
        // Pelvis (6) and thorax (7) are masked out of the means, as the official np.ma mask.
        let kept = (0..<joints).filter { $0 != 6 && $0 != 7 }
        let total = Double(kept.reduce(0) { $0 + count[$1] })
        func weightedMean(_ values: [Double]) -> Double { kept.reduce(0) { $0 + values[$1] * Double(count[$1]) / total } }
        let at011 = pck(0 + 11 * 0.01)  // np.arange(0, 0.51, 0.01)[11] = start + 11 * step
        // MPII order: 0 r_ankle 1 r_knee 2 r_hip 3 l_hip 4 l_knee 5 l_ankle ... 9 head_top
        // 10 r_wrist 11 r_elbow 12 r_shoulder 13 l_shoulder 14 l_elbow 15 l_wrist.
        func pair(_ a: Int, _ b: Int) -> Double { 0.5 * (perJoint[a] + perJoint[b]) }
        let summary: [(name: String, value: Double)] = [
            ("Head", perJoint[9]), ("Shoulder", pair(13, 12)), ("Elbow", pair(14, 11)), ("Wrist", pair(15, 10)),
            ("Hip", pair(3, 2)), ("Knee", pair(4, 1)), ("Ankle", pair(5, 0)),
            ("Mean", weightedMean(perJoint)), ("Mean@0.1", weightedMean(at011)),
        ]
        return PCKh(perJoint: perJoint, jointCount: count, summary: summary)
    }

    /// The official table: one row of names, one of values (three decimals, as the official _print_name_value).
    public func format() -> String {
        let names = summary.map(\.name), values = summary.map { String(format: "%.3f", $0.value) }
        return "| " + names.joined(separator: " | ") + " |\n| " + values.joined(separator: " | ") + " |"
    }
}

