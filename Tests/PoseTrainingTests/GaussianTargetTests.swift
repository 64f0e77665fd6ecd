import XCTest
@testable import PoseTraining
import TestSupport

/// Gaussian heatmaps and target weights against the official generate_target (fixture script),
/// for joints inside, on and beyond the heatmap border, an unlabelled joint, sigma 2, 3 and 1.5.
final class GaussianTargetTests: XCTestCase {
    struct Cases: Decodable {
        struct Case: Decodable { let sigma: Double; let target: [Float]; let target_weight: [Float] }
        let image_size: [Int], heatmap_size: [Int], joints: [[Double]], visibility: [Double], cases: [Case]
    }

    func testTargetsMatchOfficial() throws {
        let c = try JSONDecoder().decode(Cases.self, from: Data(contentsOf: Fixtures.url("posedata/target_cases.json")))
        for k in c.cases {
            let (target, weight) = GaussianTarget.make(joints: c.joints.map { Point($0[0], $0[1]) }, visibility: c.visibility,
                                                       imageSize: (c.image_size[0], c.image_size[1]),
                                                       heatmapSize: (c.heatmap_size[0], c.heatmap_size[1]), sigma: k.sigma)
            XCTAssertEqual(weight, k.target_weight, "sigma \(k.sigma)")
            XCTAssertEqual(target.count, k.target.count)
            // float32 exp (numpy) vs exp in Double rounded to float32, and 8-digit fixtures: 1e-6.
            var worst: Float = 0, worstIndex = 0
            for i in target.indices where abs(target[i] - k.target[i]) > worst { worst = abs(target[i] - k.target[i]); worstIndex = i }
            XCTAssertLessThan(worst, 1e-6, "sigma \(k.sigma): worst at \(worstIndex)")
            XCTAssertTrue(k.target_weight.contains(0) && k.target_weight.contains(1))
        }
    }

    /// The peak is 1 at the rounded heatmap cell; a window outside the map gives weight 0. The
    /// official test is `br < 0` with br exclusive, so a window ending exactly at column 0
    /// (x = -30: mu = -7, br = 0) keeps weight 1 with an empty map; x = -34 (br = -1) gets 0.
    func testPeakAndWindowRules() {
        let (t, w) = GaussianTarget.make(joints: [Point(41, 22), Point(-30, 10), Point(10, 10), Point(-34, 10)], visibility: [1, 1, 0, 1],
                                         imageSize: (96, 128), heatmapSize: (24, 32), sigma: 2)
        XCTAssertEqual(w, [1, 1, 0, 0])
        XCTAssertEqual(t[6 * 24 + 10], 1)  // int(41 / 4 + 0.5) = 10, int(22 / 4 + 0.5) = 6
        XCTAssertEqual(t[6 * 24 + 11], Float(exp(-1.0 / 8)), accuracy: 1e-7)
        XCTAssertEqual(t[(24 * 32)..<(4 * 24 * 32)].max(), 0)
    }

    /// Unbiased encoding (DarkPose's generate_target): the Gaussian sits on the exact position
    /// mu = x / stride over the whole map, so its centroid is mu, not the rounded cell; the
    /// window rule runs on the unrounded mu (x = -33: mu = -8.25, br = int(-1.25) = -1 < 0 -> 0;
    /// x = -29: br = int(-0.25) = 0 -> kept).
    func testUnbiasedEncoding() {
        let joints: [Point] = [Point(41.3, 62.9), Point(-33, 10), Point(-29, 10), Point(10, 10)]
        let (t, w) = GaussianTarget.make(joints: joints, visibility: [1, 1, 1, 0], imageSize: (96, 128),
                                         heatmapSize: (24, 32), sigma: 2, unbiased: true)
        XCTAssertEqual(w, [1, 0, 1, 0])
        let (mx, my) = (41.3 / 4, 62.9 / 4)  // far enough from the borders for the centroid
        var (sum, sx, sy) = (0.0, 0.0, 0.0)
        for y in 0..<32 {
            for x in 0..<24 {
                let v = Double(t[y * 24 + x])
                // Every cell, even 3 sigma and more away (numpy float32 exp vs Double: 1e-6).
                XCTAssertEqual(v, exp(-((Double(x) - mx) * (Double(x) - mx) + (Double(y) - my) * (Double(y) - my)) / 8), accuracy: 1e-6)
                (sum, sx, sy) = (sum + v, sx + v * Double(x), sy + v * Double(y))
            }
        }
        XCTAssertEqual(sx / sum, mx, accuracy: 1e-3)
        XCTAssertEqual(sy / sum, my, accuracy: 1e-3)
        XCTAssertLessThan(t.prefix(24 * 32).max()!, 1)  // no cell sits on the joint
        XCTAssertGreaterThan(t[(2 * 24 * 32)..<(3 * 24 * 32)].max()!, 0)  // mu = -7.25: the tail reaches column 0
        XCTAssertEqual(t[(24 * 32)..<(2 * 24 * 32)].max(), 0)
        XCTAssertEqual(t[(3 * 24 * 32)...].max(), 0)
        // The official (rounded) target for the same joint peaks at 1 on cell (10, 16).
        let (official, _) = GaussianTarget.make(joints: joints, visibility: [1, 1, 1, 0], imageSize: (96, 128),
                                                heatmapSize: (24, 32), sigma: 2)
        XCTAssertEqual(official[16 * 24 + 10], 1)
    }
}
