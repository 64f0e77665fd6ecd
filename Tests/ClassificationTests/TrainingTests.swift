import Foundation
import XCTest
import Classification
import DNN
import HRNet
import Imaging
import TestSupport

/// Fine-tuning a pretrained classifier on a new folder data set, as a user does with
/// `hrnet train --weights W --reset-head`: the tiny shapes HRNet pretrained on ten shapes
/// (Tests/Fixtures/classify/shapes_pretrained.safetensors, made by make_shapes_pretrained.sh with
/// `hrnet train`) gets a new three-way classifier and trains on fresh images of three shapes.
final class ClassificationTrainingTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-cls-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testFineTuneFromPretrainedReachesAccuracy() throws {
        // New images (another seed than the pretraining set) of circle, square, triangle.
        try SyntheticShapes(width: 40, height: 40).write(to: dir, classes: 3, train: 32, val: 40, seed: 91)
        let yaml = Fixtures.url("classify/shapes_tiny.yaml")
        let config = try HRNetConfig.load(yaml)
        var training = try TrainingConfig.load(yaml)
        training.endEpoch = 3
        training.warmupEpochs = 0
        training.learningRate = 0.01
        let train = try ImageFolder(root: dir.appendingPathComponent("train"))
        let val = try ImageFolder(root: dir.appendingPathComponent("val"))

        // The pretrained backbone and head features; the 10-way classifier is dropped (--reset-head).
        let pretrained = Fixtures.url("classify/shapes_pretrained.safetensors")
        XCTAssertEqual(try Checkpoint.load(pretrained)["classifier.weight"]?.shape, [10, 128])
        let (parameters, report) = try ClassificationTrainer.startingParameters(from: pretrained, config: config, resetHead: true, seed: 1)
        XCTAssertEqual(report.missing.sorted(), ["classifier.bias", "classifier.weight"])

        let trainer = try ClassificationTrainer(config: config, training: training, data: train, parameters: parameters,
                                                threads: 2, seed: 1)
        let before = try trainer.evaluate(val).top1
        while trainer.position.epoch < training.endEpoch { _ = try trainer.trainEpoch() }
        let after = try trainer.evaluate(val)
        print("fine-tune: val top-1 \(before) -> \(after.top1) (\(val.count) images, 3 classes)")
        // Observed 0.62 -> 0.99 (18 steps; the random head happens to start above chance). Chance is 1/3, and from scratch these shapes take
        // thousands of steps: 370 steps on 600 images reached 0.42 (PyTorch, the same network
        // and recipe: 0.41-0.54), so only features that transfer pass 0.8.
        XCTAssertGreaterThan(after.top1, 0.8)
    }
}
