import Foundation

/// A value with its nesting depth and size, tracked while evaluating so that limits are checked
/// without walking values: `b = [a, a]` repeated shares storage but doubles the logical size,
/// and a walk over it (a merge, a comparison) would take exponential time if not refused.
struct PyEvaluated {
    var value: PyValue
    /// Container levels: 0 for a scalar, 1 for `[1, 2]`.
    var depth: Int
    /// Values counted as a walk would visit them; a string counts one per 64 bytes.
    var size: Int

    static func scalar(_ value: PyValue) -> PyEvaluated {
        PyEvaluated(value: value, depth: 0, size: PyEvaluated.scalarSize(value))
    }

    static func scalarSize(_ value: PyValue) -> Int {
        if case .string(let s) = value { return 1 + s.utf8.count / 64 }
        return 1
    }
}

extension PyValue {
    /// Depth and size of a value not built by the evaluator at hand (a base's), walking at most
    /// `budget` values; nil when it is larger. Safe to recurse: every value was built under the
    /// nesting limit.
    func measured(budget: Int) -> (depth: Int, size: Int)? {
        var remaining = budget
        func walk(_ v: PyValue) -> Int? {
            remaining -= PyEvaluated.scalarSize(v)
            if remaining < 0 { return nil }
            switch v {
            case .list(let items), .tuple(let items):
                var depth = 0
                for item in items {
                    guard let d = walk(item) else { return nil }
                    depth = max(depth, d)
                }
                return depth + 1
            case .dict(let d):
                var depth = 0
                for (_, item) in d {
                    guard let d = walk(item) else { return nil }
                    depth = max(depth, d)
                }
                return depth + 1
            default:
                return 0
            }
        }
        guard let depth = walk(self) else { return nil }
        return (depth, budget - remaining)
    }
}
