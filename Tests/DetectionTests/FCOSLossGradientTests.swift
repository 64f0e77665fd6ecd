import XCTest
import DNN
@testable import Detection
import TestSupport

/// The FCOS loss's gradient with respect to the head outputs against central differences of
/// the loss itself (in double: the loss is computed in double from float inputs, so a step of
/// 1e-3 on outputs of order 1 leaves differences good to ~1e-6 relative).
final class FCOSLossGradientTests: XCTestCase {
    func testGradientMatchesFiniteDifferences() throws {
        let strides = [8, 16], sizes = [(h: 4, w: 6), (h: 2, w: 3)], classes = 3
        let boxes: [[GroundTruthBox]] = [
            [GroundTruthBox(box: BoundingBox(x1: 3, y1: 2, x2: 30, y2: 25), label: 1),
             GroundTruthBox(box: BoundingBox(x1: 10, y1: 5, x2: 21, y2: 30), label: 0),
             GroundTruthBox(box: BoundingBox(x1: 0, y1: 0, x2: 47, y2: 31), label: 2)],
            [GroundTruthBox(box: BoundingBox(x1: 20, y1: 8, x2: 44, y2: 30), label: 2)],
        ]
        var options = FCOSTargets.Options()
        options.regressRanges = [(-1, 16), (16, 1e8)]
        let targets = try FCOSTargets(boxes: boxes, sizes: sizes, strides: strides, options: options)
        XCTAssertGreaterThan(targets.positives, 4)
        var outputs: [Tensor] = []
        for (l, s) in sizes.enumerated() {
            outputs.append(randomTensor([2, classes, s.h, s.w], seed: UInt64(10 + l)))
            // Distances near the targets' scale (after exp: positive).
            outputs.append(Tensor(shape: [2, 4, s.h, s.w], scalars: randomTensor([2, 4, s.h, s.w], seed: UInt64(20 + l)).scalars.map { 8 + 6 * $0 }))
            outputs.append(randomTensor([2, 1, s.h, s.w], seed: UInt64(30 + l)))
        }
        for box in [FCOSLoss.BoxLoss.iou, .giou] {
        var loss = FCOSLoss()
        loss.boxLoss = box
        let value = try loss(outputs, targets: targets, strides: strides)
        XCTAssertGreaterThan(value.box, 0)
        XCTAssertGreaterThan(value.centerness, 0)
        var checked = 0
        for (o, tensor) in outputs.enumerated() {
            for i in stride(from: 0, to: tensor.count, by: 3) {
                let h: Float = o % 3 == 1 ? 1e-2 : 1e-3
                var plus = outputs, minus = outputs
                plus[o].scalars[i] += h
                minus[o].scalars[i] -= h
                let numeric = (try loss(plus, targets: targets, strides: strides).total - (try loss(minus, targets: targets, strides: strides).total))
                    / Double(plus[o].scalars[i] - minus[o].scalars[i])
                let analytic = Double(value.gradients[o].scalars[i])
                XCTAssertEqual(analytic, numeric, accuracy: 2e-4 * max(1, abs(numeric)), "\(box) output \(o) element \(i)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 100)
        }
    }

    /// 1 - GIoU and its gradient against mmdetection's own `GIoULoss` and autograd
    /// (Tests/Fixtures/detection/training/make_giou_fixture.py): overlapping, nested, disjoint
    /// (IoU 0, where GIoU still pulls) and identical boxes. Float32 box arithmetic there, double
    /// here: 1e-5 relative.
    func testGIoUMatchesMMDetection() throws {
        let url = Fixtures.url("detection/training/giou.json")
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(cases.count, 8)
        var disjoint = 0
        for c in cases {
            let d = (c["pred"] as! [Double]).map(Float.init), t = (c["target"] as! [Double]).map(Float.init)
            let point = (c["point"] as! [Double]).map(Float.init)
            let (loss, gradient) = FCOSLoss.giouLoss(predicted: SIMD4(d), target: SIMD4(t), x: point[0], y: point[1], eps: 1e-6)
            let expected = c["loss"] as! Double, grad = c["grad"] as! [Double]
            XCTAssertEqual(loss, expected, accuracy: 1e-5 * max(1, abs(expected)), "\(c)")
            for k in 0..<4 { XCTAssertEqual(gradient[k], grad[k], accuracy: 1e-5 * max(1, abs(grad[k])), "\(c) d/d\(k)") }
            if c["iou"] as! Double == 0 { disjoint += 1; XCTAssertNotEqual(gradient, .zero, "GIoU pulls boxes that do not overlap") }
        }
        XCTAssertGreaterThan(disjoint, 0)
    }

    func testTargetsFollowTheSmallestBoxAndTheRegressRange() throws {
        // One point at (12, 12) (stride 8, cell (1, 1)) inside a small and a large box: the small one wins.
        let boxes = [[GroundTruthBox(box: BoundingBox(x1: 0, y1: 0, x2: 40, y2: 40), label: 0),
                      GroundTruthBox(box: BoundingBox(x1: 8, y1: 8, x2: 20, y2: 20), label: 1)]]
        let t = try FCOSTargets(boxes: boxes, sizes: [(h: 5, w: 5)], strides: [8])
        XCTAssertEqual(t.labels[0][0][1 * 5 + 1], 1)
        XCTAssertEqual(t.distances[0][0][1 * 5 + 1], SIMD4<Float>(4, 4, 8, 8))
        // A point only in the large box whose largest distance (36) is beyond level 0's 64? No: within.
        XCTAssertEqual(t.labels[0][0][4 * 5 + 0], 0)
        // With a range of (-1, 10) the large box is out of range everywhere: only the small box's points are positive.
        var options = FCOSTargets.Options()
        options.regressRanges = [(-1, 10)]
        let ranged = try FCOSTargets(boxes: boxes, sizes: [(h: 5, w: 5)], strides: [8], options: options)
        XCTAssertEqual(ranged.positives, 1)
        XCTAssertEqual(FCOSTargets.centerness(SIMD4<Float>(4, 4, 8, 8)), 0.5, accuracy: 1e-6)
    }
}
