import XCTest
import Collectives
import Pose
import Datasets
import DNN
import HRNet
import PoseTraining
import TestSupport

/// README.md's training and training-data examples, as written there, on the tiny pose model
/// and a small synthetic set, so the README cannot rot: one Adam step lowers the loss on the
/// same batch, and the data batches have the README's shapes.
final class ReadmeTrainingExampleTests: XCTestCase {
    func testTrainingExample() throws {
        let model = HRNetModel(config: try HRNetConfig.load(Fixtures.url("hrnet/tiny_pose.yaml")))
        let weights = model.initialParameters(seed: 1)
        let images = randomTensor([2, 3, 96, 64], seed: 2), heatmaps = randomTensor([2, 5, 24, 16], seed: 3, scale: 0.1)
        let visible = Tensor(shape: [2, 5, 1], repeating: 1)
        let epoch = 0
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-readme-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (url, weightsURL) = (dir.appendingPathComponent("checkpoint.json"), dir.appendingPathComponent("w.safetensors"))
        let progress = TrainingProgress(step: 1, epoch: 0, baseLearningRate: 1e-3)

        // The README's lines (input 96x64 and 5 joints for the tiny model):
        let trainer = try TrainingPlan(graph: model.graph, parameters: weights, input: Shape4(2, 3, 96, 64), threads: 2)
        let adam = Adam(learningRate: 1e-3)                  // or SGD(...), Adam.adamW(...)
        let schedule = LRSchedule(.multiStep(milestones: [170, 200], gamma: 0.1))
        adam.learningRate = schedule.learningRate(base: 1e-3, at: epoch)
        let loss = try trainer.step(images) { try JointsMSELoss()($0, target: heatmaps, targetWeight: visible) }
        clipGradientNorm(trainer.parameters, maxNorm: 1)     // optional
        adam.update(trainer.parameters)
        try TrainingCheckpoint.save(url, parameters: trainer.parameters, optimizer: adam, progress: progress)
        try TrainingCheckpoint.exportWeights(trainer.parameters, to: weightsURL)  // official keys

        let again = try trainer.step(images) { try JointsMSELoss()($0, target: heatmaps, targetWeight: visible) }
        XCTAssertLessThan(again, loss, "one Adam step on the batch lowers its loss")
        XCTAssertEqual(Set(try Checkpoint.loadFloat(weightsURL).keys), Set(model.graph.parameters.map(\.key)))
    }

    func testTrainingDataExample() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-readme-data-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var options = SyntheticKeypointSet.Options(images: 12)
        options.valFraction = 0.2
        _ = try SyntheticKeypointSet.write(to: root, options: options)

        // The README's lines (3 epochs, batches of 8):
        let train = try KeypointDataset.coco(annotations: root.appendingPathComponent("annotations/person_keypoints_train.json"),
                                             images: root.appendingPathComponent("images/train"), aspectRatio: 192.0 / 256)
        let data = try PoseTrainingData(dataset: train, augmentation: .coco(width: 192, height: 256), seed: 1)
        var batches = 0
        for epoch in 0..<3 {
            let order = data.order(epoch: epoch)
            for start in stride(from: 0, to: order.count, by: 8) {
                let batch = try data.batch(Array(order[start..<min(start + 8, order.count)]), epoch: epoch, threads: 2)
                // batch.input (N,3,256,192), batch.target (N,17,64,48), batch.targetWeight (N,17,1)
                let n = min(8, order.count - start)
                XCTAssertEqual(batch.input.shape, [n, 3, 256, 192])
                XCTAssertEqual(batch.target.shape, [n, 17, 64, 48])
                XCTAssertEqual(batch.targetWeight.shape, [n, 17, 1])
                batches += 1
            }
        }
        XCTAssertGreaterThan(batches, 3)
    }
}

/// README.md's data-parallel example, as written there, in one process (`ProcessGroup.world()`
/// outside mpirun is a `SingleProcess`): the tiny model, 8 synthetic images, one epoch and its
/// COCO evaluation. The MPI runs themselves are the CLI's MPITrainCLITests.
final class ReadmeDataParallelExampleTests: XCTestCase {
    func testDataParallelExample() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-readme-dp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = try String(contentsOf: Fixtures.url("hrnet/tiny_pose.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "NUM_JOINTS: 5", with: "NUM_JOINTS: 17")
        let config = try HRNetConfig.parse(yaml: yaml, source: "tiny_pose.yaml")
        var training = TrainingConfig()
        (training.batchSize, training.endEpoch) = (2, 1)
        let data = try syntheticTrainingData(in: dir, images: 8, seed: 11, valFraction: 0.25, config: config)
        let initial = HRNetModel(config: config).initialParameters(seed: 5)
        let validation = COCOPoseEvaluation(truth: try COCOGroundTruth.load(dir.appendingPathComponent("annotations/person_keypoints_val.json")),
                                            imageDirectory: dir.appendingPathComponent("images/val"))
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(dir.path)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }

        // The README's lines:
        let world = try ProcessGroup.world()      // MPIWorld under mpirun, else SingleProcess
        let trainer = try PoseTrainer(config: config, training: training, data: data, parameters: initial,
                                      threads: 1, parallel: DataParallel(communicator: world))   // its part of each global batch
        let runner = EpochRunner(folder: URL(fileURLWithPath: "run"), metrics: ["ap"], endEpoch: training.endEpoch, evalEvery: 1)
        _ = try runner.run(trainer) { _ in [try trainer.evaluate(.coco(validation), threads: 1).score] }  // only rank 0 writes
        ProcessGroup.finish()

        XCTAssertEqual(world.size, 1)
        XCTAssertEqual(trainer.position.epoch, 1)
        let log = try String(contentsOfFile: "run/log.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 2)
        let ap = Double(log[1].split(separator: ",", omittingEmptySubsequences: false).last(where: { !$0.isEmpty }) ?? "")
        XCTAssertNotNil(ap, "the epoch's line carries an AP: \(log[1])")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "run/final.safetensors"))
    }
}
