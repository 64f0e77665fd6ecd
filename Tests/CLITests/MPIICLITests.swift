import XCTest
import Datasets
import TestSupport

/// MPII through the CLI: `hrnet eval` and `hrnet train` with DATASET.DATASET mpii on the
/// fixture people (Tests/Fixtures/posedata/mpii: train.json, images, mat/gt_valid.mat) and the
/// tiny pose model made 16-joint, 64x64: the PCKh table is printed, the numbers are those of
/// the written predictions, and a missing gt_valid.mat is named before anything runs.
final class MPIICLITests: XCTestCase {
    var dir: URL!
    var data: URL { dir.appendingPathComponent("data") }
    var config: URL { dir.appendingPathComponent("tiny_mpii.yaml") }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-mpii-\(UUID().uuidString)")
        let fm = FileManager.default
        try fm.createDirectory(at: data.appendingPathComponent("annot"), withIntermediateDirectories: true)
        try fm.createDirectory(at: data.appendingPathComponent("images"), withIntermediateDirectories: true)
        for split in ["train", "valid"] {
            try fm.copyItem(at: Fixtures.url("posedata/mpii/train.json"), to: data.appendingPathComponent("annot/\(split).json"))
        }
        try fm.copyItem(at: Fixtures.url("posedata/mpii/mat/gt_valid.mat"), to: data.appendingPathComponent("annot/gt_valid.mat"))
        for name in ["a.jpg", "b.jpg"] {
            try fm.copyItem(at: Fixtures.url("posedata/mpii/images/\(name)"), to: data.appendingPathComponent("images/\(name)"))
        }
        var yaml = try String(contentsOf: Fixtures.url("hrnet/tiny_pose.yaml"), encoding: .utf8)
        for (a, b) in [("NUM_JOINTS: 5", "NUM_JOINTS: 16"), ("DATASET: coco", "DATASET: mpii"), ("TEST_SET: val2017", "TEST_SET: valid"),
                       ("TRAIN_SET: train2017", "TRAIN_SET: train"), ("  - 64\n  - 96", "  - 64\n  - 64"), ("  - 16\n  - 24", "  - 16\n  - 16"),
                       ("BATCH_SIZE_PER_GPU: 32\n  SHUFFLE", "BATCH_SIZE_PER_GPU: 2\n  SHUFFLE")] {
            XCTAssertTrue(yaml.contains(a), a)
            yaml = yaml.replacingOccurrences(of: a, with: b)
        }
        try yaml.write(to: config, atomically: true, encoding: .utf8)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func eval(_ extra: [String]) throws -> CommandResult {
        try HRNetCLI.run(["eval", "--config", config.path, "--random-weights", "--data", data.path, "--threads", "2"] + extra)
    }

    /// The printed PCKh equals PCKh of the written predictions (1-based, as pred.mat) against the
    /// ground truth, computed here through the library: exact to 1e-9 (same doubles, same sums).
    func testEvalPrintsPCKhOfItsPredictions() throws {
        let predictions = dir.appendingPathComponent("pred.json")
        let r = try eval(["--json", "--out-json", predictions.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let output = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let table = try XCTUnwrap(output["pckh"] as? [String: Double], r.stdout)
        let preds = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: predictions)) as? [[[Double]]])
        XCTAssertEqual(preds.count, 4)
        XCTAssertTrue(preds.allSatisfy { $0.count == 16 && $0.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isFinite) } })
        let gt = try MPIIGroundTruth.load(data.appendingPathComponent("annot/gt_valid.mat"))
        let want = try gt.evaluate(predictions: preds.map { $0.map { Point(x: $0[0] - 1, y: $0[1] - 1) } })
        XCTAssertEqual(Set(table.keys), Set(want.summary.map(\.name)))
        for row in want.summary { XCTAssertEqual(table[row.name]!, row.value, accuracy: 1e-9, row.name) }

        // The official table, and the same predictions again (deterministic).
        let again = try eval(["--out-json", predictions.path, "--force"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("| Head | Shoulder | Elbow | Wrist | Hip | Knee | Ankle | Mean | Mean@0.1 |"), again.stdout)
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(contentsOf: predictions)) as? [[[Double]]], preds)
    }

    func testMissingGroundTruthIsNamed() throws {
        let gt = data.appendingPathComponent("annot/gt_valid.mat")
        try FileManager.default.removeItem(at: gt)
        let r = try eval(["--out-json", dir.appendingPathComponent("p.json").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(gt.path) && r.stderr.contains("no such file"), r.stderr)
        // Training says so at the start, before building anything.
        let run = dir.appendingPathComponent("run")
        let t = try HRNetCLI.run(["train", "--config", config.path, "--data", data.path, "--out", run.path, "--epochs", "1", "--threads", "2"])
        XCTAssertNotEqual(t.status, 0)
        XCTAssertTrue(t.stderr.contains(gt.path) && t.stderr.contains("no such file"), t.stderr)
        XCTAssertFalse(t.stderr.contains("epoch 1"), t.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path))
        // A broken file is named too.
        try Data("MATLAB 5.0 MAT-file, broken".utf8).write(to: gt)
        let broken = try eval(["--out-json", dir.appendingPathComponent("p.json").path])
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue(broken.stderr.contains(gt.path) && broken.stderr.contains("too short"), broken.stderr)
    }

    /// One epoch on the four fixture people: PCKh is evaluated, logged and printed as the table.
    func testTrainEvaluatesPCKh() throws {
        let run = dir.appendingPathComponent("run")
        let r = try HRNetCLI.run(["train", "--config", config.path, "--data", data.path, "--out", run.path, "--epochs", "1",
                                  "--threads", "2", "--seed", "1"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("| Head | Shoulder | Elbow | Wrist | Hip | Knee | Ankle | Mean | Mean@0.1 |"), r.stderr)
        XCTAssertTrue(r.stderr.contains("PCKh"), r.stderr)
        let csv = try String(contentsOf: run.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "epoch,loss,lr,images_per_s,seconds,pckh,best_pckh")
        let pckh = csv.dropFirst().first.flatMap { Double($0.split(separator: ",", omittingEmptySubsequences: false)[5]) }
        XCTAssertNotNil(pckh, "\(csv)")
        XCTAssertTrue((0...100).contains(pckh ?? -1), "\(csv)")
    }

    /// `mpirun -np 2 hrnet eval` on MPII: each process predicts every other batch of people; the
    /// PCKh and the predictions file equal one process's.
    func testShardedOverProcessesEqualsOneProcess() throws {
        guard HRNetCLI.mpirunPath != nil else { throw XCTSkip("Open MPI's mpirun is not installed (make deps installs it)") }
        let one = dir.appendingPathComponent("one.json"), two = dir.appendingPathComponent("two.json")
        let a = try eval(["--json", "--batch", "2", "--out-json", one.path])
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try HRNetCLI.mpirun(processes: 2, ["eval", "--config", config.path, "--random-weights", "--data", data.path, "--threads", "1",
                                                   "--json", "--batch", "2", "--out-json", two.path])
        XCTAssertEqual(b.status, 0, b.stdout + b.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        XCTAssertEqual(try Data(contentsOf: one), try Data(contentsOf: two))
    }
}
