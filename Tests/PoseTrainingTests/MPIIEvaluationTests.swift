import XCTest
import Datasets
import Pose
import PoseTraining
import TestSupport

/// The MPII evaluation's files and conventions: the db (0-based, from annot/*.json) and
/// gt_valid.mat (1-based) meet through the official +1, so predicting the annotated joints
/// scores 100 on every joint that is labelled; mismatched or missing files are named.
final class MPIIEvaluationTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mpii-\(UUID().uuidString)")
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("annot"), withIntermediateDirectories: true)
        try fm.createSymbolicLink(at: root.appendingPathComponent("images"), withDestinationURL: Fixtures.url("posedata/mpii/images"))
        try fm.copyItem(at: Fixtures.url("posedata/mpii/train.json"), to: root.appendingPathComponent("annot/valid.json"))
        try fm.copyItem(at: Fixtures.url("posedata/mpii/mat/gt_valid.mat"), to: root.appendingPathComponent("annot/gt_valid.mat"))
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func testAnnotatedJointsScoreFull() throws {
        let evaluation = try MPIIPoseEvaluation.load(root: root, split: "valid")
        XCTAssertEqual(evaluation.dataset.count, 4)
        XCTAssertEqual(evaluation.groundTruth.count, 4)
        // Exact: x - 1 + 1 == x for these one-decimal numbers, so every error is 0.
        let pckh = try evaluation.groundTruth.evaluate(predictions: evaluation.dataset.samples.map(\.joints))
        for (j, count) in pckh.jointCount.enumerated() where count > 0 { XCTAssertEqual(pckh.perJoint[j], 100, "joint \(j)") }
        // The mean sums 14 count-weighted ratios: 1e-9 covers their rounding.
        XCTAssertEqual(pckh.mean, 100, accuracy: 1e-9)
        // One pixel off everywhere: still within half a head (head boxes are 8-20 pixels, 0.6 x diagonal >= 6.7).
        let shifted = evaluation.dataset.samples.map { $0.joints.map { Point(x: $0.x + 1, y: $0.y) } }
        XCTAssertEqual(try evaluation.groundTruth.evaluate(predictions: shifted).mean, 100, accuracy: 1e-9)
        // The first people only.
        let two = evaluation.prefix(2)
        XCTAssertEqual(two.dataset.count, 2)
        XCTAssertEqual(two.groundTruth.count, 2)
    }

    func testMismatchedAndMissingFiles() throws {
        let gt = root.appendingPathComponent("annot/gt_valid.mat")
        try FileManager.default.removeItem(at: gt)
        XCTAssertThrowsError(try MPIIPoseEvaluation.load(root: root, split: "valid")) { error in
            XCTAssertTrue("\(error)".contains(gt.path) && "\(error)".contains("no such file"), "\(error)")
        }
        try FileManager.default.copyItem(at: Fixtures.url("posedata/mpii/mat/gt_synthetic.mat"), to: gt)
        XCTAssertThrowsError(try MPIIPoseEvaluation.load(root: root, split: "valid")) { error in
            XCTAssertTrue("\(error)".contains("4 people") && "\(error)".contains("has 50"), "\(error)")
        }
        XCTAssertThrowsError(try MPIIPoseEvaluation.load(root: root, split: "test")) { error in
            XCTAssertTrue("\(error)".contains("annot/test.json"), "\(error)")
        }
    }
}
