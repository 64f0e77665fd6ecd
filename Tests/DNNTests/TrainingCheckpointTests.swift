import XCTest
import DNN
import TestSupport

/// Training checkpoints: exact resume, crash safety (a save killed at any point leaves the
/// previous checkpoint loadable), clear errors for damaged files.
final class TrainingCheckpointTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func graph() -> Graph {
        let g = Graph()
        let x = g.input(channels: 3)
        let y = g.relu(g.batchNorm(g.conv(x, key: "conv1", outChannels: 8, kernel: 3), key: "bn1"))
        g.outputs = [g.conv(y, key: "head", outChannels: 2, kernel: 1, bias: true)]
        return g
    }

    func train(_ t: TrainingPlan, _ o: Optimizer, steps: Range<Int>) throws {
        for k in steps {
            try t.step(randomTensor([2, 3, 6, 6], seed: UInt64(k))) { try MSELoss()($0, target: randomTensor([2, 2, 6, 6], seed: 100 + UInt64(k))) }
            o.update(t.parameters)
        }
    }

    func testResumeIsExact() throws {
        let g = graph()
        let params = g.randomParameters(seed: 1)
        let url = dir.appendingPathComponent("run.json")
        let a = try TrainingPlan(graph: g, parameters: params, input: Shape4(2, 3, 6, 6), threads: 1)
        let adamA = Adam(learningRate: 0.01)
        a.parameters.freeze(prefixes: ["head.bias"])
        try train(a, adamA, steps: 0..<2)
        var rng = SplitMix64(seed: 9)
        _ = rng.next()
        let progress = TrainingProgress(step: 2, epoch: 1, rngPosition: rng.position, baseLearningRate: 0.01,
                                        schedule: LRSchedule(.multiStep(milestones: [170, 200], gamma: 0.1)), metadata: ["config": "test"])
        try TrainingCheckpoint.save(url, parameters: a.parameters, optimizer: adamA, progress: progress)
        try train(a, adamA, steps: 2..<4)

        let b = try TrainingPlan(graph: g, parameters: params, input: Shape4(2, 3, 6, 6), threads: 1)
        let adamB = Adam(learningRate: 0.01)
        let restored = try TrainingCheckpoint.load(url, parameters: b.parameters, optimizer: adamB)
        XCTAssertEqual(restored, progress)
        XCTAssertEqual(b.parameters.batchesTracked, 2)
        XCTAssertEqual(b.parameters.entries.filter(\.frozen).map(\.key), ["head.bias"])
        var resumed = SplitMix64(seed: restored.rngPosition)
        XCTAssertEqual(resumed.next(), rng.next())
        try train(b, adamB, steps: 2..<4)
        // Same operations on the same values: bit-identical.
        XCTAssertEqual(a.parameters.state(), b.parameters.state())
        XCTAssertEqual(b.parameters.batchesTracked, 4)
    }

    /// A trainer's run keeps its config and classes; resuming it on data with other classes is
    /// refused with both lists named.
    func testRunKeepsClassesAndRefusesOthers() throws {
        let g = graph()
        let url = dir.appendingPathComponent("run.json")
        let t = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 1), input: Shape4(2, 3, 6, 6), threads: 1)
        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        try train(t, sgd, steps: 0..<1)
        try TrainingCheckpoint.saveRun(url, parameters: t.parameters, optimizer: sgd, position: TrainingPosition(epoch: 1, step: 1), baseLearningRate: 0.1,
                                       schedule: LRSchedule(.poly(total: 10, power: 0.9)), config: "tiny.yaml",
                                       classes: ["road", "sky"], metadata: ["best_miou": "0.5"])
        let progress = try TrainingCheckpoint.resumeRun(url, parameters: t.parameters, optimizer: sgd, batchesPerEpoch: 4,
                                                          classes: ["road", "sky"])
        XCTAssertEqual(progress.step, 1)
        XCTAssertEqual(progress.metadata, ["config": "tiny.yaml", "classes": "road\nsky", "best_miou": "0.5"])
        XCTAssertThrowsError(try TrainingCheckpoint.resumeRun(url, parameters: t.parameters, optimizer: sgd, batchesPerEpoch: 4, classes: ["road", "car"],
                                                              dataRoot: URL(fileURLWithPath: "/data/city"))) {
            XCTAssertEqual("\($0)", "run.json: was trained on the classes road, sky; /data/city has road, car")
        }
    }

    /// A run stopped inside an epoch keeps how far it got; resuming it where an epoch has no
    /// more batches than that (other data, another batch size) is refused; a checkpoint from
    /// before the field existed (saved at an epoch end) reads as 0.
    func testMidEpochPosition() throws {
        let g = graph()
        let url = dir.appendingPathComponent("run.json")
        let t = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 1), input: Shape4(2, 3, 6, 6), threads: 1)
        let adam = Adam(learningRate: 0.01)
        try TrainingCheckpoint.saveRun(url, parameters: t.parameters, optimizer: adam, position: TrainingPosition(epoch: 1, epochStep: 3, step: 7),
                                       baseLearningRate: 0.01, schedule: LRSchedule(.multiStep(milestones: [5], gamma: 0.1)), config: "tiny.yaml")
        let progress = try TrainingCheckpoint.resumeRun(url, parameters: t.parameters, optimizer: adam, batchesPerEpoch: 4)
        XCTAssertEqual(progress.position, TrainingPosition(epoch: 1, epochStep: 3, step: 7))
        XCTAssertThrowsError(try TrainingCheckpoint.resumeRun(url, parameters: t.parameters, optimizer: adam, batchesPerEpoch: 3)) {
            XCTAssertEqual("\($0)", "run.json: stopped after batch 3 of epoch 2, but an epoch now has 3 batches "
                           + "(the data set or TRAIN.BATCH_SIZE_PER_GPU changed)")
        }
        var json = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(json.contains("\"epochStep\" : 3"), json)
        json = json.replacingOccurrences(of: "\"epochStep\" : 3,", with: "")
        try json.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertEqual(try TrainingCheckpoint.resumeRun(url, parameters: t.parameters, optimizer: adam, batchesPerEpoch: 3).epochStep, 0)
    }

    func testKilledSaveLeavesThePreviousCheckpoint() throws {
        let g = graph()
        let url = dir.appendingPathComponent("run.json")
        let t = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 2), input: Shape4(2, 3, 6, 6), threads: 1)
        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        try train(t, sgd, steps: 0..<2)
        try TrainingCheckpoint.save(url, parameters: t.parameters, optimizer: sgd, progress: TrainingProgress(step: 2, baseLearningRate: 0.1))
        let saved = t.parameters.state()
        try train(t, sgd, steps: 2..<3)
        XCTAssertNotEqual(t.parameters.state(), saved)
        for crash in [TrainingCheckpoint.CrashPoint.whileWritingTensors, .beforeCommit, .whileWritingManifest] {
            XCTAssertThrowsError(try TrainingCheckpoint.save(url, parameters: t.parameters, optimizer: sgd,
                                                             progress: TrainingProgress(step: 3, baseLearningRate: 0.1),
                                                             simulatingCrashAt: crash))
            let fresh = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 5), input: Shape4(2, 3, 6, 6), threads: 1)
            let progress = try TrainingCheckpoint.load(url, parameters: fresh.parameters, optimizer: SGD(learningRate: 0.1, momentum: 0.9))
            XCTAssertEqual(progress.step, 2, "after a crash \(crash)")
            XCTAssertEqual(fresh.parameters.state(), saved, "after a crash \(crash)")
        }
        // The next good save commits and sweeps the leftovers of the killed ones.
        try TrainingCheckpoint.save(url, parameters: t.parameters, optimizer: sgd, progress: TrainingProgress(step: 3, baseLearningRate: 0.1))
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(files.count, 2, "\(files)")
        XCTAssertTrue(files[0] == "run.json" || files[1] == "run.json")
        let fresh = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 5), input: Shape4(2, 3, 6, 6), threads: 1)
        XCTAssertEqual(try TrainingCheckpoint.load(url, parameters: fresh.parameters, optimizer: SGD(learningRate: 0.1, momentum: 0.9)).step, 3)
        XCTAssertEqual(fresh.parameters.state(), t.parameters.state())
    }

    func testDamagedCheckpointsAreClearErrors() throws {
        let g = graph()
        let url = dir.appendingPathComponent("run.json")
        let t = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 3), input: Shape4(2, 3, 6, 6), threads: 1)
        let adam = Adam()
        try train(t, adam, steps: 0..<1)
        try TrainingCheckpoint.save(url, parameters: t.parameters, optimizer: adam, progress: TrainingProgress(step: 1, baseLearningRate: 1e-3))
        func loadError() -> String {
            do { _ = try TrainingCheckpoint.load(url, parameters: t.parameters, optimizer: Adam()); return "no error" } catch { return "\(error)" }
        }
        // Resuming with another optimizer kind.
        XCTAssertThrowsError(try TrainingCheckpoint.load(url, parameters: t.parameters, optimizer: SGD(learningRate: 0.1))) {
            XCTAssertTrue("\($0)".contains("optimizer adam"), "\($0)")
        }
        let tensors = try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasSuffix(".safetensors") }!
        let tensorsURL = dir.appendingPathComponent(tensors)
        let bytes = try Data(contentsOf: tensorsURL)
        try bytes.prefix(bytes.count - 100).write(to: tensorsURL)
        XCTAssertTrue(loadError().contains(tensors) && loadError().contains("truncated"), loadError())
        try FileManager.default.removeItem(at: tensorsURL)
        XCTAssertTrue(loadError().contains("no such file"), loadError())
        try Data("{\"format\": 3".utf8).write(to: url)
        XCTAssertTrue(loadError().contains("run.json") && loadError().contains("not a training checkpoint"), loadError())
        // A checkpoint of another model.
        let other = Graph()
        other.outputs = [other.conv(other.input(channels: 3), key: "c", outChannels: 2, kernel: 1)]
        let o = try TrainingPlan(graph: other, parameters: other.randomParameters(), input: Shape4(1, 3, 4, 4), threads: 1)
        try TrainingCheckpoint.save(url, parameters: o.parameters, optimizer: adam, progress: TrainingProgress(baseLearningRate: 1))
        XCTAssertTrue(loadError().contains("does not fit the model"), loadError())
    }

    /// Impossible positions and optimizer state for no parameter are refused, not resumed from.
    func testImpossibleManifestsAndStrayOptimizerState() throws {
        let g = graph()
        let url = dir.appendingPathComponent("run.json")
        let t = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 3), input: Shape4(2, 3, 6, 6), threads: 1)
        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        try train(t, sgd, steps: 0..<1)
        try TrainingCheckpoint.save(url, parameters: t.parameters, optimizer: sgd, progress: TrainingProgress(step: 1, baseLearningRate: 0.1))
        XCTAssertEqual(try TrainingCheckpoint.progress(of: url).step, 1)
        let json = try String(contentsOf: url, encoding: .utf8)
        for (from, to) in [("\"epoch\" : 0", "\"epoch\" : -5"), ("\"step\" : 1", "\"step\" : -1")] {
            XCTAssertTrue(json.contains(from), json)
            try json.replacingOccurrences(of: from, with: to).write(to: url, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try TrainingCheckpoint.progress(of: url)) { XCTAssertTrue("\($0)".contains("impossible position"), "\($0)") }
        }
        // Momentum of a renamed parameter: saved for "head.weight", the model now calls it "head2.weight".
        try json.write(to: url, atomically: true, encoding: .utf8)
        let renamed = Graph()
        let y = renamed.relu(renamed.batchNorm(renamed.conv(renamed.input(channels: 3), key: "conv1", outChannels: 8, kernel: 3), key: "bn1"))
        renamed.outputs = [renamed.conv(y, key: "head2", outChannels: 2, kernel: 1, bias: true)]
        let r = try TrainingPlan(graph: renamed, parameters: renamed.randomParameters(), input: Shape4(2, 3, 6, 6), threads: 1)
        XCTAssertThrowsError(try TrainingCheckpoint.load(url, parameters: r.parameters, optimizer: SGD(learningRate: 0.1, momentum: 0.9))) {
            XCTAssertTrue("\($0)".contains("momentum_buffer.head.bias' belongs to no parameter"), "\($0)")
        }
    }

    func testExportRefusesToOverwrite() throws {
        let g = graph()
        let t = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 4), input: Shape4(2, 3, 6, 6), threads: 1)
        let url = dir.appendingPathComponent("w.safetensors")
        try TrainingCheckpoint.exportWeights(t.parameters, to: url)
        XCTAssertThrowsError(try TrainingCheckpoint.exportWeights(t.parameters, to: url)) { XCTAssertTrue("\($0)".contains("--force")) }
        try TrainingCheckpoint.exportWeights(t.parameters, to: url, overwrite: true)
        let loaded = try Checkpoint.load(url)
        XCTAssertEqual(loaded["bn1.num_batches_tracked"]?.dtype, .int64)
        XCTAssertEqual(try Checkpoint.loadFloat(url), t.parameters.state())
    }
}
