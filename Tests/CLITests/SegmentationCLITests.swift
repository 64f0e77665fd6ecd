import DNN
import Foundation
import Imaging
import Segmentation
import TestSupport
import XCTest

/// `hrnet segment`, `hrnet eval-seg` and `hrnet synth-seg` on the tiny segmentation model and
/// the committed photo, against the official procedure's output (Tests/Fixtures/segmentation,
/// case multiscale_flip: scales 0.75,1,1.25, flip, 32x48 windows, base size 80).
final class SegmentationCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-seg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func temp(_ name: String) -> URL { dir.appendingPathComponent(name) }

    let model = ["--config", Fixtures.url("hrnet/tiny_seg.yaml").path, "--weights", Fixtures.url("hrnet/tiny_seg.safetensors").path,
                 "--threads", "1"]
    let test = ["--scales", "0.75,1,1.25", "--flip", "--crop", "32x48", "--base-size", "80", "--windows", "official"]
    var photo: String { Fixtures.url("segmentation/photo.png").path }

    /// The reference arg-max, with 255 where the top two reference scores are within 1e-3
    /// relative (there the 1e-4 agreement of the scores does not decide the class).
    func referenceLabels() throws -> LabelMap {
        let scores = try NPY.read(Fixtures.url("segmentation/multiscale_flip.npy")).scalars
        var map = SegmentationPrediction.argmax(scores, classes: 4, height: 48, width: 80)
        for p in 0..<(48 * 80) {
            let best = scores[Int(map.labels[p]) * 3840 + p]
            for c in 0..<4 where c != Int(map.labels[p]) && abs(scores[c * 3840 + p] - best) <= 1e-3 * max(1, best) {
                map.labels[p] = LabelMap.ignore
            }
        }
        return map
    }

    func testSegmentWritesLabelsColoursAndOverlays() throws {
        let out = temp("out").path
        let r = try HRNetCLI.run(["segment"] + model + test + [photo, "--out", out, "--overlay"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("scales 0.75,1,1.25, flip on, base size 80, windows 32x48 (official)"), r.stderr)
        let labels = try LabelMap.loadPNG(temp("out/photo.labels.png"))
        let reference = try referenceLabels()
        var compared = 0
        for p in 0..<labels.labels.count where reference.labels[p] != LabelMap.ignore {
            XCTAssertEqual(labels.labels[p], reference.labels[p], "pixel \(p)")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 3800)
        XCTAssertGreaterThan(Set(labels.labels).count, 1)
        let colour = try Image.load(temp("out/photo.color.png"))
        XCTAssertEqual(colour, Palette.forDataset("cityscapes", classes: 4).colorize(labels))
        let overlay = try Image.load(temp("out/photo.overlay.jpg"))
        XCTAssertEqual(overlay.width, 80)
        // No overwrite without --force; with it, fine.
        let again = try HRNetCLI.run(["segment"] + model + test + [photo, "--out", out])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--force"), again.stderr)
        XCTAssertEqual(try HRNetCLI.run(["segment"] + model + ["--crop", "48x80", "--base-size", "80", photo, "--out", out, "--force"]).status, 0)
        // Without --out: class areas on stdout.
        let areas = try HRNetCLI.run(["segment"] + model + ["--crop", "48x80", "--base-size", "80", photo])
        XCTAssertEqual(areas.status, 0, areas.stderr)
        XCTAssertTrue(areas.stdout.contains("photo.png: class "), areas.stdout)
        // Cityscapes label ids need a Cityscapes model; a pose model is refused.
        let ids = try HRNetCLI.run(["segment"] + model + [photo, "--out", temp("ids").path, "--label-ids"])
        XCTAssertNotEqual(ids.status, 0)
        XCTAssertTrue(ids.stderr.contains("19-class Cityscapes"), ids.stderr)
        let pose = try HRNetCLI.run(["segment", "--config", Fixtures.url("hrnet/tiny_pose.yaml").path, "--random-weights", photo])
        XCTAssertTrue(pose.stderr.contains("seg_hrnet"), pose.stderr)
        let badScales = try HRNetCLI.run(["segment"] + model + [photo, "--scales", "1,x"])
        XCTAssertTrue(badScales.stderr.contains("--scales"), badScales.stderr)
    }

    /// A one-image data set whose labels are the official prediction: mIoU, pixel and mean
    /// accuracy must all be 100 (near-tie pixels are labelled ignore).
    func testEvalSegOnTheOfficialPrediction() throws {
        let root = temp("data")
        for sub in ["images/val", "labels/val"] { try FileManager.default.createDirectory(at: root.appendingPathComponent(sub), withIntermediateDirectories: true) }
        try FileManager.default.copyItem(at: Fixtures.url("segmentation/photo.png"), to: root.appendingPathComponent("images/val/photo.png"))
        let reference = try referenceLabels()
        try reference.writePNG(to: root.appendingPathComponent("labels/val/photo.png"))
        try "a\nb\nc\nd\n".write(to: root.appendingPathComponent("classes.txt"), atomically: true, encoding: .utf8)
        let json = temp("metrics.json").path
        let r = try HRNetCLI.run(["eval-seg"] + model + test + ["--data", root.path, "--json", json])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Classes the labels never contain count as IoU 0 in the official mIoU.
        let present = Set(reference.labels.filter { $0 != LabelMap.ignore }).count
        XCTAssertGreaterThanOrEqual(present, 2)
        let miou = String(format: "%.2f", 100 * Double(present) / 4)
        XCTAssertTrue(r.stdout.contains("mIoU \(miou)  pixel accuracy 100.00  mean accuracy \(miou)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("over the \(present) present: 100.00"), r.stdout)
        let metrics = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        XCTAssertEqual(metrics["mean_iou_present_classes"] as? Double, 1)
        XCTAssertEqual(metrics["pixel_accuracy"] as? Double, 1)
        // A class list that disagrees with the model; a label of the wrong size.
        try "a\nb\nc\nd\ne\n".write(to: root.appendingPathComponent("classes.txt"), atomically: true, encoding: .utf8)
        let classes = try HRNetCLI.run(["eval-seg"] + model + ["--data", root.path])
        XCTAssertNotEqual(classes.status, 0)
        XCTAssertTrue(classes.stderr.contains("5 classes") && classes.stderr.contains("NUM_CLASSES 4"), classes.stderr)
        try "a\nb\nc\nd\n".write(to: root.appendingPathComponent("classes.txt"), atomically: true, encoding: .utf8)
        try GrayImage(width: 10, height: 10, fill: 0).writePNG(to: root.appendingPathComponent("labels/val/photo.png"))
        let size = try HRNetCLI.run(["eval-seg"] + model + ["--data", root.path])
        XCTAssertNotEqual(size.status, 0)
        XCTAssertTrue(size.stderr.contains("label is 10 x 10 but its image photo.png is 80 x 48"), size.stderr)
        let missing = try HRNetCLI.run(["eval-seg"] + model + ["--data", temp("nothing").path])
        XCTAssertTrue(missing.stderr.contains("no such directory"), missing.stderr)
    }

    func testSynthSegThenEval() throws {
        let root = temp("synth").path
        let r = try HRNetCLI.run(["synth-seg", "--out", root, "--train", "2", "--val", "2", "--classes", "4", "--size", "64x48", "--seed", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let first = try Data(contentsOf: temp("synth/images/val/00001.png"))
        let again = try HRNetCLI.run(["synth-seg", "--out", root, "--train", "2", "--val", "2", "--classes", "4", "--size", "64x48", "--seed", "5"])
        XCTAssertTrue(again.stderr.contains("--force"), again.stderr)
        XCTAssertEqual(try HRNetCLI.run(["synth-seg", "--out", root, "--train", "2", "--val", "2", "--classes", "4", "--size", "64x48",
                                         "--seed", "5", "--force"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: temp("synth/images/val/00001.png")), first)  // same seed, same bytes
        let eval = try HRNetCLI.run(["eval-seg"] + model + ["--data", root, "--crop", "48x64", "--base-size", "64"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.contains("background") && eval.stdout.contains("mIoU"), eval.stdout)
    }
}
