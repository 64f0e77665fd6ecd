import DNN
import Foundation
import Segmentation
import TestSupport
import XCTest

/// `hrnet train` with the encoder-decoder baselines: a stacked hourglass (both stacks supervised)
/// and a U-Net (aux and main heads), each a short run whose metric rises, then the commands that
/// read the weights (eval, eval-seg).
final class BaselineTrainCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-baselines-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, _ name: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func metric(_ run: URL, column: String) throws -> [Double] {
        let rows = try String(contentsOf: run.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
        let index = try XCTUnwrap(rows.first?.split(separator: ",").firstIndex(of: Substring(column)), "\(rows.first ?? "")")
        return rows.dropFirst().compactMap { Double($0.split(separator: ",", omittingEmptySubsequences: false)[index]) }
    }

    /// The tiny two-stack hourglass at 16/32 channels on TrainCLITests' set (the same photo in
    /// train and val: a memorization task, so a short run can show AP rising), augmentation and
    /// flip test off (those joints are not mirror-symmetric). Measured: AP 0.07 after 4 epochs,
    /// 0.81 after 16.
    func testHourglassTrainingRaisesAP() throws {
        try TrainCLITests.makePoseDataSet(in: dir)
        let yaml = try String(contentsOf: Fixtures.url("baselines/tiny_hourglass.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "NUM_JOINTS: 17", with: "NUM_JOINTS: 5")
            .replacingOccurrences(of: "TRAIN_SET: train2017", with: "TRAIN_SET: train")
            .replacingOccurrences(of: "TEST_SET: val2017", with: "TEST_SET: val")
            .replacingOccurrences(of: "BATCH_SIZE_PER_GPU: 32", with: "BATCH_SIZE_PER_GPU: 4")
            .replacingOccurrences(of: "  FLIP: true", with: "  FLIP: false")
            .replacingOccurrences(of: "ROT_FACTOR: 40", with: "ROT_FACTOR: 0")
            .replacingOccurrences(of: "SCALE_FACTOR: 0.3", with: "SCALE_FACTOR: 0")
            .replacingOccurrences(of: "FLIP_TEST: true", with: "FLIP_TEST: false")
            .replacingOccurrences(of: "  LR: 0.001", with: "  LR: 0.005")
            .replacingOccurrences(of: "    STAGE_CHANNELS:\n    - 8\n    - 8\n    - 12\n    - 16", with: "    STAGE_CHANNELS:\n    - 16\n    - 16\n    - 32\n    - 32")
            .replacingOccurrences(of: "FEAT_CHANNEL: 8", with: "FEAT_CHANNEL: 16")
        XCTAssertTrue(yaml.contains("- 32\n") && yaml.contains("FLIP_TEST: false"), "the fixture's layout changed")
        let config = try write(yaml, "hourglass.yaml")
        let run = dir.appendingPathComponent("run")
        let r = try HRNetCLI.run(["train", "--config", config, "--data", dir.appendingPathComponent("data").path, "--out", run.path,
                                  "--threads", "2", "--seed", "3", "--epochs", "16", "--eval-every", "4"], timeout: 600)
        XCTAssertEqual(r.status, 0, r.stderr)
        let ap = try metric(run, column: "ap")
        XCTAssertEqual(ap.count, 4, "\(ap)")
        XCTAssertGreaterThan(ap.last!, 0.5, "AP after 16 epochs: \(ap)")
        XCTAssertGreaterThan(ap.last!, ap.first! + 0.3, "AP rises: \(ap)")
        let eval = try HRNetCLI.run(["eval", "--config", config, "--weights", run.appendingPathComponent("best.safetensors").path,
                                     "--data", dir.appendingPathComponent("data").path, "--split", "val", "--json",
                                     "--out-json", dir.appendingPathComponent("results.json").path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let stats = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])?["stats"] as? [Double])
        XCTAssertEqual(stats[0], ap.max()!, accuracy: 1e-9, "eval reads the last stack, as training's evaluation")
        let info = try HRNetCLI.run(["info", "--config", config])
        XCTAssertTrue(info.stdout.contains("2 stacks of 3 levels") && info.stdout.contains("multiples of 32"), info.stdout)
    }

    /// A 4-stage U-Net (16 base channels) on `hrnet synth-seg` data, [0.4, 1] on its aux and main
    /// heads. Measured: mIoU 0.38 after the first epoch, 0.82 after 6.
    func testUNetTrainingRaisesMeanIoU() throws {
        let data = dir.appendingPathComponent("data")
        try SyntheticSegmentation.write(to: data, splits: [("train", 16), ("val", 6)], width: 48, height: 32, classes: 2, seed: 4)
        let base = try String(contentsOf: Fixtures.url("segmentation/tinyseg_train.yaml"), encoding: .utf8)
        let model = base[base.range(of: "MODEL:")!.lowerBound..<base.range(of: "LOSS:")!.lowerBound]
        let yaml = base.replacingOccurrences(of: model, with: """
            MODEL:
              NAME: seg_unet
              ALIGN_CORNERS: false
              EXTRA:
                BASE_CHANNELS: 16
                ENC_NUM_CONVS: [1, 1, 1, 1]
                DEC_NUM_CONVS: [1, 1, 1]
                HEAD_CHANNELS: 16

            """).replacingOccurrences(of: "LOSS:\n", with: "LOSS:\n  BALANCE_WEIGHTS: [0.4, 1]\n")
        let config = try write(yaml, "unet.yaml")
        let run = dir.appendingPathComponent("run")
        let r = try HRNetCLI.run(["train", "--config", config, "--data", data.path, "--out", run.path, "--threads", "2", "--seed", "3",
                                  "--epochs", "6"], timeout: 600)
        XCTAssertEqual(r.status, 0, r.stderr)
        let miou = try metric(run, column: "miou")
        XCTAssertEqual(miou.count, 6)
        XCTAssertGreaterThan(miou.last!, miou.first! + 0.2, "mIoU rises: \(miou)")
        XCTAssertGreaterThan(miou.last!, 0.7, "\(miou)")
        let eval = try HRNetCLI.run(["eval-seg", "--config", config, "--weights", run.appendingPathComponent("final.safetensors").path,
                                     "--data", data.path, "--threads", "2", "--json", dir.appendingPathComponent("m.json").path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let m = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("m.json"))) as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(m["mean_iou"] as? Double), miou.last!, accuracy: 1e-9, "eval-seg reads the decode head")
    }
}
