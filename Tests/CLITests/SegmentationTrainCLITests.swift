import DNN
import Foundation
import Segmentation
import TestSupport
import XCTest

/// `hrnet train` with a seg_hrnet config (Tests/Fixtures/segmentation/tinyseg_train.yaml) on a
/// small synthetic set: it trains, logs mIoU, exports weights eval-seg reads, resumes to the same
/// weights as an uninterrupted run, and bad data sets give errors naming the file.
final class SegmentationTrainCLITests: XCTestCase {
    var dir: URL!
    var data: URL { dir.appendingPathComponent("data") }
    let config = Fixtures.url("segmentation/tinyseg_train.yaml").path

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-seg-train-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // 8 training images: two steps of 4 an epoch, every image used.
        try SyntheticSegmentation.write(to: data, splits: [("train", 8), ("val", 3)], width: 48, height: 32, classes: 2, seed: 4)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func train(_ extra: [String], config: String? = nil) throws -> CommandResult {
        try HRNetCLI.run(["train", "--config", config ?? self.config, "--data", data.path, "--threads", "1", "--workers", "1", "--seed", "3"]
                         + extra, timeout: 300)
    }

    func testTrainEvaluatesExportsAndResumes() throws {
        let run = dir.appendingPathComponent("run")
        let first = try train(["--out", run.path, "--epochs", "1"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("2 classes, batch 4, crops 32x32"), first.stderr)
        XCTAssertTrue(first.stdout.contains("best mIoU"), first.stdout)
        for file in ["checkpoint.json", "final.safetensors", "best.safetensors", "classes.txt", "log.jsonl"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), file)
        }
        let csv = try String(contentsOf: run.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "epoch,loss,lr,images_per_s,seconds,miou,pixel_accuracy,mean_accuracy,best_miou")
        XCTAssertEqual(csv.count, 2)
        let row = csv[1].split(separator: ",", omittingEmptySubsequences: false)
        XCTAssertTrue((0...1).contains(Double(row[5]) ?? -1), "mIoU in \(row)")
        XCTAssertEqual(try String(contentsOf: run.appendingPathComponent("classes.txt"), encoding: .utf8), "background 0 0 0\ndisc 220 60 60\n")
        // The exported weights have the official keys: eval-seg reads them with the config.
        let eval = try HRNetCLI.run(["eval-seg", "--config", config, "--weights", run.appendingPathComponent("final.safetensors").path,
                                     "--data", data.path, "--threads", "1"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.contains("mIoU"), eval.stdout)
        // Not the same folder again without --resume.
        let again = try train(["--out", run.path, "--epochs", "1"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--resume"), again.stderr)

        // Resume to epoch 2; the weights equal those of a run trained to 2 at once.
        let resumed = try train(["--out", run.path, "--epochs", "2", "--resume", run.appendingPathComponent("checkpoint.json").path])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resumed"), resumed.stderr)
        XCTAssertEqual(try String(contentsOf: run.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n").count, 3)
        let straight = dir.appendingPathComponent("straight")
        XCTAssertEqual(try train(["--out", straight.path, "--epochs", "2", "--eval-every", "0"]).status, 0)
        let a = try Checkpoint.loadFloat(straight.appendingPathComponent("final.safetensors"))
        let b = try Checkpoint.loadFloat(run.appendingPathComponent("final.safetensors"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst: Float = 0
        for (k, t) in a { worst = max(worst, t.maxAbsDifference(b[k]!)) }
        // Same seeds, order and thread count, and evaluation does not touch the weights: identical.
        XCTAssertEqual(worst, 0, "largest weight difference after resuming")
    }

    func testBadSegmentationData() throws {
        func fails(_ words: [String], config: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try train(["--out", dir.appendingPathComponent("r\(UUID().uuidString)").path, "--epochs", "1"], config: config)
            XCTAssertNotEqual(r.status, 0, file: file, line: line)
            for w in words { XCTAssertTrue(r.stderr.contains(w), "stderr '\(r.stderr)' lacks '\(w)'", file: file, line: line) }
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
        }
        let labels = data.appendingPathComponent("labels/train")
        let good = try Data(contentsOf: labels.appendingPathComponent("00001.png"))
        // A label PNG of another size than its image.
        try LabelMap(width: 10, height: 10, labels: [UInt8](repeating: 0, count: 100)).writePNG(to: labels.appendingPathComponent("00001.png"))
        try fails(["labels/train/00001.png", "label is 10 x 10", "00001.png is 48 x 32"])
        // A label id the 2-class list does not have.
        var ids = [UInt8](repeating: 0, count: 48 * 32)
        ids[5 * 48 + 7] = 7
        try LabelMap(width: 48, height: 32, labels: ids).writePNG(to: labels.appendingPathComponent("00001.png"))
        try fails(["labels/train/00001.png", "label 7 at (x 7, y 5) is not a class id (0...1"])
        try good.write(to: labels.appendingPathComponent("00001.png"))
        // An image without its label.
        try FileManager.default.copyItem(at: data.appendingPathComponent("images/train/00002.png"),
                                         to: data.appendingPathComponent("images/train/extra.png"))
        try fails(["images/train/extra.png has no label", "labels/train/extra.png"])
        try FileManager.default.removeItem(at: data.appendingPathComponent("images/train/extra.png"))
        // DATASET.NUM_CLASSES other than the class list's length.
        let three = dir.appendingPathComponent("three.yaml")
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "NUM_CLASSES: 2", with: "NUM_CLASSES: 3")
            .write(to: three, atomically: true, encoding: .utf8)
        try fails(["the data set has 2 classes (background, disc)", "DATASET.NUM_CLASSES 3"], config: three.path)
        // Fine again once repaired.
        XCTAssertEqual(try train(["--out", dir.appendingPathComponent("ok").path, "--epochs", "1", "--eval-every", "0"]).status, 0)
    }
}
