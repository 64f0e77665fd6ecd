import XCTest
@testable import Collectives

final class ChunkingTests: XCTestCase {
    func testRangesCoverCountWithBoundedChunks() {
        XCTAssertEqual(Chunking.ranges(count: 0, maxChunk: 4), [])
        XCTAssertEqual(Chunking.ranges(count: 8, maxChunk: 4), [0..<4, 4..<8])
        XCTAssertEqual(Chunking.ranges(count: 9, maxChunk: 4), [0..<4, 4..<8, 8..<9])
        XCTAssertEqual(Chunking.ranges(count: 3, maxChunk: 4), [0..<3])
    }

    func testRangesBeyondInt32() {
        let limit = Int(Int32.max)
        let chunks = Chunking.ranges(count: 2 * limit + 5, maxChunk: limit)
        XCTAssertEqual(chunks, [0..<limit, limit..<2 * limit, 2 * limit..<2 * limit + 5])
        XCTAssertTrue(chunks.allSatisfy { Int32(exactly: $0.count) != nil })
    }

    func testGatherRoundsReassemblePayloads() {
        let small = [[0, 0], [5, 0, 17], [1], [30, 30, 29, 0]].map { ($0, [1, 4, 7, Int(Int32.max)]) }
        let huge = ([Int(Int32.max) + 3, 2, 0], [Int(Int32.max), Int(Int32.max) / 2])
        for (lengths, maxChunks) in small + [huge] {
            for maxChunk in maxChunks {
                let rounds = Chunking.gatherRounds(lengths: lengths, maxChunk: maxChunk)
                for slices in rounds {
                    XCTAssertEqual(slices.count, lengths.count)
                    XCTAssertLessThanOrEqual(slices.reduce(0) { $0 + $1.count }, max(maxChunk, lengths.count))
                }
                for (rank, length) in lengths.enumerated() {
                    // Slices of one rank must be contiguous and cover its whole payload.
                    var next = 0
                    for slice in rounds.map({ $0[rank] }) where !slice.isEmpty {
                        XCTAssertEqual(slice.lowerBound, next)
                        next = slice.upperBound
                    }
                    XCTAssertEqual(next, length, "lengths \(lengths) maxChunk \(maxChunk)")
                }
            }
        }
    }
}
