/// MPI counts and displacements are C `int`, so anything longer than
/// `Int32.max` elements has to be moved in several calls. The planning is kept
/// free of MPI so it can be tested without launching processes.
package enum Chunking {
    /// Consecutive ranges covering `0..<count`, each at most `maxChunk` long.
    package static func ranges(count: Int, maxChunk: Int) -> [Range<Int>] {
        precondition(maxChunk > 0, "maxChunk must be positive")
        return stride(from: 0, to: count, by: maxChunk).map { $0..<min($0 + maxChunk, count) }
    }

    /// Plan for a variable-length gather: `result[round][rank]` is the slice of
    /// that rank's payload sent in that round. Each rank sends at most
    /// `maxChunk / ranks` bytes per round, so a round's total (and every
    /// displacement into the receive buffer) stays within `maxChunk`.
    package static func gatherRounds(lengths: [Int], maxChunk: Int) -> [[Range<Int>]] {
        precondition(maxChunk > 0, "maxChunk must be positive")
        let perRank = max(1, maxChunk / max(1, lengths.count))
        let longest = lengths.max() ?? 0
        let rounds = (longest + perRank - 1) / perRank
        return (0..<rounds).map { round in
            let start = round * perRank
            return lengths.map { length in
                let lower = min(start, length)
                return lower..<min(start + perRank, length)
            }
        }
    }
}
