import Foundation
import XCTest
import DNN

/// `Elementwise.exp` (oneDNN's jit exp) against libm's over the range a softmax sees, and at its
/// ends: within 2 ulp (5e-7 relative), or below 2e-38 (oneDNN flushes results under about
/// e^-87, the smallest normal floats, to 0), 0 far below, 1 at 0; 1 and 2 threads; odd lengths.
final class ElementwiseTests: XCTestCase {
    func testExpMatchesLibm() throws {
        var random = SystemRandomNumberGenerator()
        for (count, threads) in [(1, 1), (17, 2), (100_003, 1), (100_003, 2)] {
            let x = (0..<count).map { _ in Float.random(in: -87...88, using: &random) }
            var y = x
            try Elementwise.exp(&y, threads: threads)
            for (v, e) in zip(x, y) {
                let want = Foundation.exp(v)
                XCTAssertLessThanOrEqual(abs(e - want), 5e-7 * want + 2e-38, "exp(\(v)) = \(e), libm \(want)")
            }
        }
        var ends: [Float] = [0, -200, -1e30, 1e-8]
        try Elementwise.exp(&ends, threads: 2)
        XCTAssertEqual(ends[0], 1)
        XCTAssertEqual(ends[1], 0, accuracy: 1e-38)
        XCTAssertEqual(ends[2], 0)
        XCTAssertEqual(ends[3], 1, accuracy: 1e-7)
        var empty: [Float] = []
        try Elementwise.exp(&empty, threads: 2)
    }
}
