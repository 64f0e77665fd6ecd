import DNN
import Foundation

/// One class of a classification, as ranked by `Scores.top`.
public struct Prediction: Sendable, Equatable {
    /// Index of the logit.
    public let index: Int
    /// Softmax probability over all classes.
    public let probability: Float
    public let logit: Float
    /// The class name, when labels are known.
    public let label: String?
}

/// Softmax and top-k over class logits, in plain Swift.
public enum Scores {
    /// The logit rows of a (N, C) or (N, C, 1, 1) tensor (a plan returns linear outputs as the latter).
    public static func rows(_ logits: Tensor) throws -> [ArraySlice<Float>] {
        let s = logits.shape
        guard s.count == 2 || (s.count == 4 && s[2] == 1 && s[3] == 1), s[0] > 0, s[1] > 0 else {
            throw ClassificationError("logits must be (N, C) or (N, C, 1, 1), got \(s)")
        }
        let c = s[1]
        return (0..<s[0]).map { logits.scalars[($0 * c)..<(($0 + 1) * c)] }
    }

    /// exp(x_i - max) / sum_j exp(x_j - max), summed in Double: stable for any finite logits.
    public static func softmax<C: Collection>(_ logits: C) -> [Float] where C.Element == Float {
        guard let m = logits.max() else { return [] }
        let e = logits.map { Foundation.exp(Double($0 - m)) }
        let sum = e.reduce(0, +)
        return e.map { Float($0 / sum) }
    }

    /// Indices of the `k` largest values, largest first; ties go to the lower index, NaN ranks last.
    /// - Complexity: O(C log C) for C values.
    public static func topIndices<C: Collection>(_ values: C, k: Int) -> [Int] where C.Element == Float, C.Index == Int {
        let key = { (v: Float) -> Float in v.isNaN ? -.infinity : v }
        let sorted = values.indices.sorted { a, b in
            let (x, y) = (key(values[a]), key(values[b]))
            return x != y ? x > y : a < b
        }
        return Array(sorted.prefix(max(0, k)).map { $0 - values.startIndex })
    }

    /// The `k` most probable classes of every image in a logit batch.
    public static func top(_ logits: Tensor, k: Int, labels: ClassLabels? = nil) throws -> [[Prediction]] {
        let rows = try rows(logits)
        if let labels { try labels.check(classes: logits.shape[1]) }
        return rows.map { row in
            let p = softmax(row)
            return topIndices(row, k: k).map { i in
                Prediction(index: i, probability: p[i], logit: row[row.startIndex + i], label: labels?.names[i])
            }
        }
    }
}
