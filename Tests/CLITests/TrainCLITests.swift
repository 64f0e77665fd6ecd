import XCTest
import DNN
import TestSupport

/// `hrnet train` on a tiny COCO-format set made from the committed photo (the tiny pose model,
/// 5 keypoints): it trains, logs, evaluates, exports official keys, and a resumed run ends with
/// the same weights as an uninterrupted one.
final class TrainCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try makeDataSet()
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func makeDataSet() throws { try Self.makePoseDataSet(in: dir) }

    /// Three people on each of four copies of the photo, joints spread over their boxes;
    /// the tiny config (dir/tiny.yaml) with batch 4 (three steps an epoch) and this set's split names.
    static func makePoseDataSet(in dir: URL) throws {
        let fm = FileManager.default
        for split in ["train", "val"] {
            try fm.createDirectory(at: dir.appendingPathComponent("data/images/\(split)"), withIntermediateDirectories: true)
        }
        try fm.createDirectory(at: dir.appendingPathComponent("data/annotations"), withIntermediateDirectories: true)
        let boxes: [[Double]] = [[20, 30, 90, 180], [120, 20, 80, 200], [210, 60, 100, 170]]
        var images: [String] = [], anns: [String] = []
        for i in 1...4 {
            let name = String(format: "%012d.jpg", i)
            for split in ["train", "val"] {
                try fm.copyItem(at: Fixtures.url("imaging/person.jpg"), to: dir.appendingPathComponent("data/images/\(split)/\(name)"))
            }
            images.append("{\"id\": \(i), \"file_name\": \"\(name)\", \"width\": 320, \"height\": 240}")
            for b in boxes {
                let kp = (0..<5).flatMap { j -> [Double] in [b[0] + b[2] * (0.2 + 0.15 * Double(j)), b[1] + b[3] * (0.1 + 0.2 * Double(j)), 2] }
                anns.append("{\"id\": \(anns.count + 1), \"image_id\": \(i), \"category_id\": 1, \"bbox\": \(b), \"area\": \(b[2] * b[3] / 2), "
                            + "\"iscrowd\": 0, \"num_keypoints\": 5, \"keypoints\": \(kp)}")
            }
        }
        let gt = "{\"images\": [\(images.joined(separator: ","))], \"annotations\": [\(anns.joined(separator: ","))], "
            + "\"categories\": [{\"id\": 1, \"name\": \"person\", \"keypoints\": [\"a\", \"b_left\", \"b_right\", \"c_left\", \"c_right\"]}]}"
        for split in ["train", "val"] {
            try gt.write(to: dir.appendingPathComponent("data/annotations/person_keypoints_\(split).json"), atomically: true, encoding: .utf8)
        }
        let yaml = try String(contentsOf: Fixtures.url("hrnet/tiny_pose.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "TRAIN_SET: train2017", with: "TRAIN_SET: train")
            .replacingOccurrences(of: "TEST_SET: val2017", with: "TEST_SET: val")
            .replacingOccurrences(of: "BATCH_SIZE_PER_GPU: 32", with: "BATCH_SIZE_PER_GPU: 4")
        try yaml.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
    }

    func train(_ extra: [String]) throws -> CommandResult {
        try HRNetCLI.run(["train", "--config", dir.appendingPathComponent("tiny.yaml").path, "--data", dir.appendingPathComponent("data").path,
                          "--threads", "2", "--seed", "3"] + extra, timeout: 300)
    }

    func testTrainsLogsEvaluatesAndExportsOfficialKeys() throws {
        let out = dir.appendingPathComponent("run")
        let r = try train(["--out", out.path, "--epochs", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let csv = try String(contentsOf: out.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 3, "header + 2 epochs: \(csv)")
        let losses = csv.dropFirst().map { Double($0.split(separator: ",")[1])! }
        XCTAssertTrue(losses.allSatisfy { $0.isFinite && $0 > 0 }, "\(losses)")
        XCTAssertLessThan(losses[1], losses[0], "the loss falls from epoch 1 to 2")
        let ap = csv.dropFirst().map { Double($0.split(separator: ",")[5]) }
        XCTAssertTrue(ap.allSatisfy { $0 != nil && (0...1).contains($0!) }, "AP every epoch: \(csv)")
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n").count, 2)
        // final.safetensors has the official keys: `hrnet run` loads it against the config unchanged.
        let heatmaps = dir.appendingPathComponent("h.npy")
        let run = try HRNetCLI.run(["run", "--config", dir.appendingPathComponent("tiny.yaml").path, "--weights",
                                    out.appendingPathComponent("final.safetensors").path, "--input", Fixtures.url("hrnet/tiny_pose_input.npy").path,
                                    "--output", heatmaps.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("best.safetensors").path))
        // The same folder again without --resume or --force is refused, and nothing is touched.
        let before = try Data(contentsOf: out.appendingPathComponent("log.csv"))
        let again = try train(["--out", out.path, "--epochs", "2"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--resume"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("log.csv")), before)
    }

    func testResumeGivesTheSameWeightsAsAnUninterruptedRun() throws {
        let straight = dir.appendingPathComponent("straight"), split = dir.appendingPathComponent("split")
        XCTAssertEqual(try train(["--out", straight.path, "--epochs", "2", "--eval-every", "0"]).status, 0)
        XCTAssertEqual(try train(["--out", split.path, "--epochs", "1", "--eval-every", "0"]).status, 0)
        let resumed = try train(["--out", split.path, "--epochs", "2", "--eval-every", "0", "--resume", split.appendingPathComponent("checkpoint.json").path])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resumed"), resumed.stderr)
        let a = try Checkpoint.loadFloat(straight.appendingPathComponent("final.safetensors"))
        let b = try Checkpoint.loadFloat(split.appendingPathComponent("final.safetensors"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst: Float = 0
        for (k, t) in a { worst = max(worst, t.maxAbsDifference(b[k]!)) }
        // Same seeds, same order, same threads: bit-identical.
        XCTAssertEqual(worst, 0, "largest weight difference after resuming")
        XCTAssertEqual(try String(contentsOf: split.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n").count, 3)
    }

    /// A resume is the same run: it writes where the checkpoint is and trains on the run's data
    /// and seed when not told; another seed is refused; a second run into a folder being written
    /// is refused; a folder with files but no checkpoint says so.
    func testResumeKeepsTheRunsSettingsAndFoldersAreOwned() throws {
        let straight = dir.appendingPathComponent("straight"), split = dir.appendingPathComponent("split")
        XCTAssertEqual(try train(["--out", straight.path, "--epochs", "2", "--eval-every", "0", "--seed", "5"]).status, 0)
        XCTAssertEqual(try train(["--out", split.path, "--epochs", "1", "--eval-every", "0", "--seed", "5"]).status, 0)
        let checkpoint = split.appendingPathComponent("checkpoint.json").path
        // Neither --out nor --data nor --seed: the run's own (train() passes --data; call without it).
        func resume(_ extra: [String]) throws -> CommandResult {
            try HRNetCLI.run(["train", "--config", dir.appendingPathComponent("tiny.yaml").path, "--threads", "2", "--epochs", "2",
                              "--eval-every", "0", "--resume", checkpoint] + extra, timeout: 300)
        }
        let otherSeed = try resume(["--seed", "6"])
        XCTAssertNotEqual(otherSeed.status, 0)
        XCTAssertTrue(otherSeed.stderr.contains("is a run with --seed 5"), otherSeed.stderr)
        // Another process holds the folder's lock: refused, naming it.
        let lock = open(split.appendingPathComponent(".lock").path, O_RDWR | O_CREAT, 0o644)
        XCTAssertEqual(flock(lock, LOCK_EX | LOCK_NB), 0)
        let locked = try resume([])
        XCTAssertNotEqual(locked.status, 0)
        XCTAssertTrue(locked.stderr.contains("is being written by another training run"), locked.stderr)
        close(lock)
        let resumed = try resume([])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        for (k, t) in try Checkpoint.loadFloat(straight.appendingPathComponent("final.safetensors")) {
            XCTAssertEqual(t.maxAbsDifference(try Checkpoint.loadFloat(split.appendingPathComponent("final.safetensors"))[k]!), 0, k)
        }
        XCTAssertEqual(try String(contentsOf: split.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n").count, 3)
        // A folder a run left before its first checkpoint.
        let early = dir.appendingPathComponent("early")
        try FileManager.default.createDirectory(at: early, withIntermediateDirectories: true)
        try Data("epoch,loss\n".utf8).write(to: early.appendingPathComponent("log.csv"))
        let refused = try train(["--out", early.path, "--epochs", "1"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("holds files but no checkpoint.json"), refused.stderr)
    }

    /// A run killed (SIGKILL: no chance to save) inside an epoch resumes from the last in-epoch
    /// checkpoint (--checkpoint-every) and ends with the weights of a run never killed.
    func testKilledInsideAnEpochResumesFromItsLastStepCheckpoint() throws {
        let straight = dir.appendingPathComponent("straight"), killed = dir.appendingPathComponent("killed")
        XCTAssertEqual(try train(["--out", straight.path, "--epochs", "3", "--batch", "2", "--eval-every", "0"]).status, 0)
        let process = Process()
        process.executableURL = HRNetCLI.executable
        process.arguments = ["train", "--config", dir.appendingPathComponent("tiny.yaml").path, "--data", dir.appendingPathComponent("data").path,
                             "--threads", "2", "--seed", "3", "--out", killed.path, "--epochs", "3", "--batch", "2", "--eval-every", "0",
                             "--checkpoint-every", "1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let checkpoint = killed.appendingPathComponent("checkpoint.json")
        let deadline = Date().addingTimeInterval(120)
        // Wait for a checkpoint taken inside an epoch, then kill at once.
        while process.isRunning, Date() < deadline {
            if let text = try? String(contentsOf: checkpoint, encoding: .utf8), text.contains("\"epochStep\" : 2") { break }
            usleep(2000)
        }
        guard process.isRunning else { throw XCTSkip("the run finished before it could be killed") }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let saved = try String(contentsOf: checkpoint, encoding: .utf8)
        XCTAssertFalse(saved.contains("\"epochStep\" : 0"), "a checkpoint inside an epoch: \(saved)")
        let resumed = try train(["--epochs", "3", "--batch", "2", "--eval-every", "0", "--resume", checkpoint.path])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let a = try Checkpoint.loadFloat(straight.appendingPathComponent("final.safetensors"))
        let b = try Checkpoint.loadFloat(killed.appendingPathComponent("final.safetensors"))
        for (k, t) in a { XCTAssertEqual(t.maxAbsDifference(b[k]!), 0, k) }
    }

    /// The logs follow the checkpoint on resume: a row lost by a kill between the checkpoint's
    /// commit and the log write comes back (the checkpoint carries it); a row of an epoch the
    /// checkpoint never reached (a kill after the log, before the commit) goes.
    func testLogsAreReconciledWithTheCheckpoint() throws {
        let run = dir.appendingPathComponent("run")
        XCTAssertEqual(try train(["--out", run.path, "--epochs", "1", "--eval-every", "0"]).status, 0)
        let csv = run.appendingPathComponent("log.csv"), jsonl = run.appendingPathComponent("log.jsonl")
        let header = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")[0]
        // Lost: epoch 1's row; stray: a row for epoch 7.
        try (header + "\n7,0.5,0.001,1,1,,\n").write(to: csv, atomically: true, encoding: .utf8)
        try "{\"epoch\": 7, \"loss\": 0.5}\n".write(to: jsonl, atomically: true, encoding: .utf8)
        let resumed = try train(["--epochs", "2", "--eval-every", "0", "--resume", run.appendingPathComponent("checkpoint.json").path])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] }
        XCTAssertEqual(rows, ["1", "2"])
        let lines = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix("{\"epoch\": 1,") && lines[1].hasPrefix("{\"epoch\": 2,"), "\(lines)")
    }

    func testBadTrainingInput() throws {
        func fails(_ args: [String], _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try train(args)
            XCTAssertNotEqual(r.status, 0, file: file, line: line)
            XCTAssertTrue(r.stderr.contains(words), "stderr '\(r.stderr)' lacks '\(words)'", file: file, line: line)
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
        }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("data/images/train/000000000002.jpg"))
        try fails(["--out", dir.appendingPathComponent("r1").path, "--epochs", "1"], "000000000002.jpg")
        try FileManager.default.copyItem(at: Fixtures.url("imaging/person.jpg"), to: dir.appendingPathComponent("data/images/train/000000000002.jpg"))
        try fails(["--out", dir.appendingPathComponent("r2").path, "--batch", "64"], "fewer than one batch")
        try fails(["--out", dir.appendingPathComponent("r3").path, "--data", dir.appendingPathComponent("nowhere").path], "person_keypoints_train.json")
        try "x".write(to: dir.appendingPathComponent("file"), atomically: true, encoding: .utf8)
        try fails(["--out", dir.appendingPathComponent("file").path], "not a directory")
    }
}
