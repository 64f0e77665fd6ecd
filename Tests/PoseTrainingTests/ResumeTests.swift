import DNN
import Foundation
import HRNet
import PoseTraining
import TestSupport
import XCTest

/// A run stopped inside an epoch (Ctrl-C) and resumed from its checkpoint ends with the same
/// weights, BN statistics and optimizer steps as a run never stopped: the resumed epoch goes
/// on with its next batch instead of starting the epoch again.
final class ResumeTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testStopInsideAnEpochResumesAtTheNextBatch() throws {
        // The tiny model (2/4/8/16 channels) with the synthetic set's 17 joints.
        let yaml = try String(contentsOf: Fixtures.url("hrnet/tiny_pose.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "NUM_JOINTS: 5", with: "NUM_JOINTS: 17")
        let config = try HRNetConfig.parse(yaml: yaml, source: "tiny_pose.yaml")
        var training = TrainingConfig()
        training.batchSize = 2
        training.learningRate = 0.001
        training.optimizer = .adam
        let data = try syntheticTrainingData(in: dir, images: 8, seed: 11, valFraction: 0.25, config: config)
        let initial = HRNetModel(config: config).initialParameters(seed: 5)
        func trainer() throws -> PoseTrainer {
            try PoseTrainer(config: config, training: training, data: data, parameters: initial, threads: 2, seed: 3)
        }
        let batches = data.count / training.batchSize
        guard batches >= 3 else { return XCTFail("\(data.count) people: the stop must fall inside an epoch") }

        let straight = try trainer()
        for _ in 0..<2 { XCTAssertTrue(try straight.trainEpoch().completed) }

        // Stopped after two steps of the first epoch, saved, and resumed by a new trainer.
        let stopped = try trainer()
        var asked = 0
        let partial = try stopped.trainEpoch(shouldStop: { asked += 1; return asked > 2 })
        XCTAssertFalse(partial.completed)
        XCTAssertEqual(partial.steps, 2)
        XCTAssertEqual(stopped.position, TrainingPosition(epoch: 0, epochStep: 2, step: 2))
        let url = dir.appendingPathComponent("run/checkpoint.json")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try stopped.save(url)

        let resumed = try trainer()
        try resumed.resume(url)
        XCTAssertEqual(resumed.position, stopped.position)
        var seen: [Int] = []
        let rest = try resumed.trainEpoch(onStep: { seen.append($0.batch) })
        XCTAssertTrue(rest.completed)
        XCTAssertEqual(seen, Array(3...batches), "the resumed epoch takes only the batches not yet trained on")
        XCTAssertTrue(try resumed.trainEpoch().completed)
        XCTAssertEqual(resumed.position, straight.position)
        XCTAssertEqual(straight.position, TrainingPosition(epoch: 2, epochStep: 0, step: 2 * batches))
        // Same batches, same order of operations, same threads: bit-identical.
        let a = straight.weights, b = resumed.weights
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst: Float = 0
        for (k, t) in a { worst = max(worst, t.maxAbsDifference(b[k]!)) }
        XCTAssertEqual(worst, 0, "largest difference from the run never stopped")
    }
}
