import Yams

/// YAML with a budget: aliases let a few kilobytes describe billions of nodes ("billion
/// laughs": nine levels of ten aliases each), which a loader expands in memory. The document is
/// composed first (aliases shared, not copied) and its expanded size counted, stopping at
/// `maxNodes`, before anything is built from it. Experiment and keypoint files have a few
/// thousand nodes; the budget is a thousand times that.
public enum BoundedYAML {
    public static let maxNodes = 5_000_000
    public static let maxDepth = 256

    /// A document refused before it is built: too large, too deep, or of a shape the loader cannot build.
    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    /// The document as Yams's `load` gives it (dictionaries, arrays, scalars), or an error when
    /// it expands past `maxNodes` nodes or nests deeper than `maxDepth`.
    public static func load(_ text: String) throws -> Any? {
        guard let node = try Yams.compose(yaml: text) else { return nil }
        var budget = maxNodes
        try count(node, depth: 0, budget: &budget)
        return try Yams.load(yaml: text)
    }

    private static func count(_ node: Node, depth: Int, budget: inout Int) throws {
        guard depth <= maxDepth else { throw Refused(description: "nested more than \(maxDepth) levels deep") }
        budget -= 1
        guard budget >= 0 else {
            throw Refused(description: "expands to more than \(maxNodes) nodes (aliases repeating aliases?); an experiment file has a few thousand")
        }
        switch node {
        case .scalar, .alias: break
        case .mapping(let m):
            for (k, v) in m {
                // Yams's loader force-unwraps a key that is a mapping or a list as a hashable value
                // and traps (found by fuzzing: `? {a: b}` as a key); config keys are plain names.
                guard case .scalar = k else {
                    throw Refused(description: "a mapping key is itself a mapping or a list (line \(k.mark?.line ?? 0)); keys must be plain names or numbers")
                }
                try count(k, depth: depth + 1, budget: &budget)
                try count(v, depth: depth + 1, budget: &budget)
            }
        case .sequence(let s): for v in s { try count(v, depth: depth + 1, budget: &budget) }
        }
    }
}
