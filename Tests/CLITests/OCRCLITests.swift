import DNN
import Foundation
import HRNet
import Segmentation
import TestSupport
import XCTest

/// HRNet-OCR from the shell: `hrnet train` with a seg_hrnet_ocr config (both heads, balanced
/// loss, OHEM on the main head, Dropout2d, head learning-rate multiplier) on a small synthetic
/// set, resumed to the same weights as a straight run (the dropout masks included), then
/// `eval-seg`, `segment` and `run --output-index` on its weights.
final class OCRCLITests: XCTestCase {
    var dir: URL!
    var data: URL { dir.appendingPathComponent("data") }
    let config = Fixtures.url("ocr/tiny_ocr_train.yaml").path

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-ocr-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try SyntheticSegmentation.write(to: data, splits: [("train", 8), ("val", 3)], width: 48, height: 32, classes: 2, seed: 4)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func train(_ out: URL, _ extra: [String]) throws -> CommandResult {
        try HRNetCLI.run(["train", "--config", config, "--data", data.path, "--threads", "1", "--workers", "1", "--seed", "3",
                          "--out", out.path] + extra, timeout: 300)
    }

    func testTrainResumeEvaluateAndSegment() throws {
        let run = dir.appendingPathComponent("run")
        let first = try train(run, ["--epochs", "1"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("best mIoU"), first.stdout)
        let resumed = try train(run, ["--epochs", "2", "--resume", run.appendingPathComponent("checkpoint.json").path])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let straight = dir.appendingPathComponent("straight")
        XCTAssertEqual(try train(straight, ["--epochs", "2", "--eval-every", "0"]).status, 0)
        let a = try Checkpoint.loadFloat(straight.appendingPathComponent("final.safetensors"))
        let b = try Checkpoint.loadFloat(run.appendingPathComponent("final.safetensors"))
        XCTAssertTrue(a.keys.contains("ocr_distri_head.object_context_block.f_pixel.0.weight"))
        XCTAssertTrue(a.keys.contains("aux_head.3.weight") && a.keys.contains("cls_head.weight"))
        var worst: Float = 0
        for (k, t) in a { worst = max(worst, t.maxAbsDifference(b[k]!)) }
        XCTAssertEqual(worst, 0, "a resumed OCR run (dropout masks from the seed and step) equals a straight one")
        // The weights moved from the start (both heads trained).
        let start = HRNetModel(config: try HRNetConfig.load(URL(fileURLWithPath: config))).initialParameters(seed: 3)
        XCTAssertGreaterThan(a["cls_head.weight"]!.maxAbsDifference(start["cls_head.weight"]!), 0)
        XCTAssertGreaterThan(a["aux_head.3.weight"]!.maxAbsDifference(start["aux_head.3.weight"]!), 0)

        let weights = run.appendingPathComponent("final.safetensors").path
        let eval = try HRNetCLI.run(["eval-seg", "--config", config, "--weights", weights, "--data", data.path, "--threads", "1"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.contains("mIoU"), eval.stdout)

        let image = data.appendingPathComponent("images/val").path
        let labels = dir.appendingPathComponent("labels")
        let segment = try HRNetCLI.run(["segment", image, "--config", config, "--weights", weights, "--out", labels.path, "--threads", "1"])
        XCTAssertEqual(segment.status, 0, segment.stderr)
        let written = try FileManager.default.contentsOfDirectory(atPath: labels.path)
        XCTAssertFalse(written.isEmpty)

        // run: the main head by default, the aux head with --output-index 0, both (2, 32, 48) / 4.
        var rng = SplitMix64(seed: 1)
        let x = Tensor(shape: [1, 3, 32, 48], scalars: (0..<(3 * 32 * 48)).map { _ in rng.nextUnitFloat() - 0.5 })
        let input = dir.appendingPathComponent("x.npy")
        try NPY.write(x, to: input)
        let model = HRNetModel(config: try HRNetConfig.load(URL(fileURLWithPath: config)))
        let (parameters, _) = try model.loadWeights(URL(fileURLWithPath: weights))
        let expected = try Plan(graph: model.graph, parameters: parameters, input: Shape4(1, 3, 32, 48), threads: 1).run(x)
        for (index, flag) in [(1, [String]()), (0, ["--output-index", "0"]), (1, ["--output-index=-1"])] {
            let out = dir.appendingPathComponent("y\(index).npy")
            let r = try HRNetCLI.run(["run", "--config", config, "--weights", weights, "--input", input.path, "--output", out.path,
                                      "--force", "--threads", "1"] + flag)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try NPY.read(out).maxAbsDifference(expected[index]), 0, "output \(index) \(flag)")
        }
        let bad = try HRNetCLI.run(["run", "--config", config, "--weights", weights, "--input", input.path,
                                    "--output", dir.appendingPathComponent("z.npy").path, "--output-index", "2"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--output-index 2: seg_hrnet_ocr has 2 outputs"), bad.stderr)
    }

    func testInt8CoversTheOCRHead() throws {
        // `hrnet quantize` then `run --precision int8`: the OCR head's convolutions in int8, its
        // gather and attention in fp32. Calibrated on one photo unlike the random input, so the
        // bound is loose: 15% of the logit scale (measured 6.6%) and 95% of the arg-max (99.5%).
        let calib = dir.appendingPathComponent("calib")
        try FileManager.default.createDirectory(at: calib, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("segmentation/photo.png"), to: calib.appendingPathComponent("photo.png"))
        let config = Fixtures.url("ocr/tiny_ocr.yaml").path
        let table = dir.appendingPathComponent("q.safetensors").path
        let q = try HRNetCLI.run(["quantize", "--config", config, "--weights", Fixtures.url("ocr/tiny_ocr.safetensors").path,
                                  "--calib", calib.path, "--out", table, "--threads", "1"])
        XCTAssertEqual(q.status, 0, q.stderr)
        let out = dir.appendingPathComponent("y8.npy")
        let r = try HRNetCLI.run(["run", "--config", config, "--weights", table, "--precision", "int8", "--input",
                                  Fixtures.url("ocr/input.npy").path, "--output", out.path, "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try NPY.read(out), expected = try NPY.read(Fixtures.url("ocr/main.npy"))
        let scale = expected.scalars.map(abs).max()!
        XCTAssertLessThan(got.maxAbsDifference(expected) / scale, 0.15)
        let (n, c, pixels) = (expected.shape[0], expected.shape[1], expected.shape[2] * expected.shape[3])
        var agree = 0
        for b in 0..<n { for p in 0..<pixels {
            func top(_ t: Tensor) -> Int { (0..<c).max { t.scalars[(b * c + $0) * pixels + p] < t.scalars[(b * c + $1) * pixels + p] }! }
            if top(got) == top(expected) { agree += 1 }
        }}
        XCTAssertGreaterThan(Double(agree) / Double(n * pixels), 0.95)
    }

    func testBenchTrainsBothHeads() throws {
        let r = try HRNetCLI.run(["bench", "--train", "--config", config, "--random-weights", "--runs", "1", "--warmup", "0",
                                  "--batch", "2", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("images/s"), r.stdout)
    }

    func testInfoShowsTheHeadAndBothOutputs() throws {
        let r = try HRNetCLI.run(["info", "--preset", "ocr_w48_cityscapes"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("OCR: 512 mid channels, 256 key channels"), r.stdout)
        XCTAssertTrue(r.stdout.contains("output     19x128x256, 19x128x256 (TEST.OUTPUT_INDEX reads output 1)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("70.37 M"), r.stdout)
    }
}
