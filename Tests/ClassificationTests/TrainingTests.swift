import Foundation
import XCTest
import Classification
import DNN
import HRNet
import Imaging
import TestSupport

/// Fine-tuning on the synthetic shapes and the data-set errors.
final class ClassificationTrainingTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-cls-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testFineTuneOnShapes() throws {
        for y in ["/tmp/c2/adam.yaml", "/tmp/c2/sgd02.yaml"] { try run(URL(fileURLWithPath: y)) }
    }
    func run(_ yaml: URL) throws {
        try? FileManager.default.removeItem(at: dir)
        let started = Date()
        try SyntheticShapes(width: 40, height: 40).write(to: dir, classes: 3, train: 64, val: 20, seed: 5)
        let config = try HRNetConfig.load(yaml)
        let training = try TrainingConfig.load(yaml)
        let train = try ImageFolder(root: dir.appendingPathComponent("train"))
        let val = try ImageFolder(root: dir.appendingPathComponent("val"))
        XCTAssertEqual(train.classes, ["circle", "square", "triangle"])
        let trainer = try ClassificationTrainer(config: config, training: training, data: train,
                                                parameters: HRNetModel(config: config).graph.initialParameters(seed: 1), threads: 2, seed: 1)
        print("synth \(Date().timeIntervalSince(started))")
        var losses: [Double] = []
        while trainer.epoch < training.endEpoch {
            let r = try trainer.trainEpoch()
            losses.append(r.meanLoss)
            print("epoch \(r.epoch) loss \(r.meanLoss) train top1 \(r.trainTop1) lr \(trainer.learningRate(epoch: r.epoch)) \(r.seconds)s")
        }
        let accuracy = try trainer.evaluate(val)
        print("val top1 \(accuracy.top1) top5 \(accuracy.top5) loss \(accuracy.meanLoss) total \(Date().timeIntervalSince(started))s")
    }
}
