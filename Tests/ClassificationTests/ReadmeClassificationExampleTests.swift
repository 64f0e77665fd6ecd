import XCTest
import Classification
import DNN
import HRNet
import Imaging
import TestSupport

/// README.md's classification examples, as written there, on the tiny fixtures and synthetic
/// shapes, so the README cannot rot.
final class ReadmeClassificationExampleTests: XCTestCase {
    func testClassifierAndFeatures() throws {
        var config = try HRNetConfig.load(Fixtures.url("classify/tiny_cls.yaml"))
        // The tiny timm model's head sizes (the YAML has the official ones; see ClassificationTests).
        config.architecture.head = .classification(ClassifierSpec(classes: 10, increPlanes: [2, 3, 4, 5], features: 24))
        let batch = try NPY.read(Fixtures.url("classify/tiny_cls_input.npy"))
        let classifier = try Classifier(config: config, weights: Fixtures.url("classify/tiny_cls.safetensors"))
        let top5 = try classifier.classify(batch, top: 5)
        print(top5[0].map { "\($0.label ?? "\($0.index)") \($0.probability)" })
        XCTAssertEqual(top5.count, batch.shape[0])
        XCTAssertEqual(top5[0].count, 5)
        let extractor = try FeatureExtractor(config: config, weights: Fixtures.url("classify/tiny_cls.safetensors"))
        let streams = try extractor.features(batch)
        XCTAssertEqual(streams.count, 4)
        for (k, s) in streams.enumerated() {
            let expected = try NPY.read(Fixtures.url("classify/tiny_cls_stream\(k).npy"))
            XCTAssertLessThanOrEqual(s.maxAbsDifference(expected), 1e-4, "stream \(k)")
        }
    }

    func testImagesToBatchesAndTraining() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-readme-cls-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SyntheticShapes(width: 40, height: 40).write(to: dir.appendingPathComponent("shapes"), classes: 3, train: 6, val: 2, seed: 2)
        let yaml = Fixtures.url("classify/shapes_tiny.yaml")
        let config = try HRNetConfig.load(yaml)
        let url = dir.appendingPathComponent("shapes/train/circle").appendingPathComponent(
            try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("shapes/train/circle").path).sorted()[0])
        // The README's paths are relative: run them in the temporary folder, then come back.
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(dir.path)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }

        // The README's lines:
        let pre = ClassificationPreprocessing.imageNet()     // Resize(256) + CenterCrop(224) + Normalize, = torchvision
        let batch = pre.batch([try Image.load(url, applyOrientation: false)])
        let train = try ImageFolder(root: URL(fileURLWithPath: "shapes/train"))   // classes = sorted folder names
        var training = try TrainingConfig.load(yaml)
        (training.endEpoch, training.batchSize) = (1, 8)
        let trainer = try ClassificationTrainer(config: config, training: training, data: train,
                                                parameters: HRNetModel(config: config).initialParameters(seed: 0))
        let val = try ImageFolder(root: URL(fileURLWithPath: "shapes/val"))
        // The epoch loop `hrnet train` runs: checkpoint.json after each epoch, log.csv, best/final.safetensors.
        let runner = EpochRunner(folder: URL(fileURLWithPath: "run"), metrics: ["top1", "top5"],
                                 endEpoch: trainer.training.endEpoch, evalEvery: 1)
        try FileManager.default.createDirectory(atPath: "run", withIntermediateDirectories: true)
        _ = try runner.run(trainer) { _ in let a = try trainer.evaluate(val); return [a.top1, a.top5] }

        XCTAssertEqual(batch.shape, [1, 3, 224, 224])
        for file in ["checkpoint.json", "final.safetensors", "best.safetensors", "log.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/\(file)").path), file)
        }
    }
}
