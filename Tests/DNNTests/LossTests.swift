import XCTest
import DNN
import TestSupport

/// Losses and their gradients against PyTorch autograd on the official formulas
/// (Tests/Fixtures/training/losses.json). Losses are O(0.1-1) and gradients O(1e-2): the
/// value agrees to 1e-6 relative (double accumulation here, fp32 in PyTorch) and gradients
/// to 1e-7 absolute.
final class LossTests: XCTestCase {
    func floats(_ a: Any?) -> [Float] { (a as! [Any]).map { Float(($0 as! NSNumber).doubleValue) } }

    func testLossesMatchPyTorch() throws {
        let cases = try JSONSerialization.jsonObject(with: try Data(contentsOf: Fixtures.url("training/losses.json"))) as! [[String: Any]]
        XCTAssertEqual(cases.count, 9)
        for c in cases {
            let name = c["loss"] as! String
            let shape = c["shape"] as! [Int]
            let output = Tensor(shape: shape, scalars: floats(c["output"]))
            let labels = (c["labels"] as? [Int])?.map(Int32.init) ?? []
            let weights = (c["class_weights"] as? [Any]).map { _ in floats(c["class_weights"]) }
            let result: LossValue
            switch name {
            case "joints_mse":
                result = try JointsMSELoss()(output, target: Tensor(shape: shape, scalars: floats(c["target"])),
                                             targetWeight: Tensor(shape: [shape[0], shape[1], 1], scalars: floats(c["target_weight"])))
            case "joints_ohkm_top3":
                result = try JointsOHKMMSELoss(topK: 3)(output, target: Tensor(shape: shape, scalars: floats(c["target"])),
                                                        targetWeight: Tensor(shape: [shape[0], shape[1], 1], scalars: floats(c["target_weight"])))
            case "mse":
                result = try MSELoss()(output, target: Tensor(shape: shape, scalars: floats(c["target"])))
            case "cross_entropy", "cross_entropy_unweighted":
                result = try CrossEntropyLoss(classWeights: weights)(output, labels: labels)
            case "cross_entropy_smoothing", "cross_entropy_smoothing_cls":
                let smoothing = Float((c["label_smoothing"] as! NSNumber).doubleValue)
                result = try CrossEntropyLoss(classWeights: weights, labelSmoothing: smoothing)(output, labels: labels)
            case "ohem_threshold":
                result = try OHEMCrossEntropyLoss(threshold: 0.7, minKept: 5, classWeights: weights)(output, labels: labels)
            case "ohem_min_kept":
                result = try OHEMCrossEntropyLoss(threshold: 0.05, minKept: 20, classWeights: weights)(output, labels: labels)
            default: XCTFail("unknown case \(name)"); continue
            }
            let expected = (c["value"] as! NSNumber).doubleValue
            XCTAssertEqual(result.loss, expected, accuracy: 1e-6 * abs(expected), name)
            let err = zip(result.gradient.scalars, floats(c["gradient"])).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(err, 1e-7, "\(name) gradient")
        }
    }

    func testBadLossInputsAreClearErrors() {
        let logits = Tensor(zeros: [1, 3, 2, 2])
        XCTAssertThrowsError(try CrossEntropyLoss()(logits, labels: [0, 1, 2])) { XCTAssertTrue("\($0)".contains("labels")) }
        XCTAssertThrowsError(try CrossEntropyLoss()(logits, labels: [0, 1, 7, 255])) { XCTAssertTrue("\($0)".contains("label 7")) }
        XCTAssertThrowsError(try CrossEntropyLoss(classWeights: [1, 2])(logits, labels: [0, 1, 2, 255]))
        XCTAssertThrowsError(try JointsMSELoss()(logits, target: Tensor(zeros: [1, 3, 2, 3]), targetWeight: nil))
        XCTAssertThrowsError(try JointsMSELoss()(logits, target: logits, targetWeight: nil)) { XCTAssertTrue("\($0)".contains("target weight")) }
        XCTAssertThrowsError(try MSELoss()(logits, target: Tensor(zeros: [3])))
        XCTAssertThrowsError(try JointsOHKMMSELoss(topK: 8)(logits, target: logits, targetWeight: Tensor(zeros: [1, 3]))) {
            XCTAssertTrue("\($0)".contains("top-k 8"), "\($0)")
        }
        XCTAssertThrowsError(try CrossEntropyLoss(labelSmoothing: 1)(logits, labels: [0, 1, 2, 255])) {
            XCTAssertTrue("\($0)".contains("label smoothing"), "\($0)")
        }
        // Every pixel ignored: zero loss and gradient (PyTorch gives NaN, which would stop training).
        let all = try? CrossEntropyLoss()(logits, labels: [255, 255, 255, 255])
        XCTAssertEqual(all?.loss, 0)
    }
}
