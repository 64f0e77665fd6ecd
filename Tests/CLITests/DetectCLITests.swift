import XCTest
import DNN
import Detection
import Imaging
import TestSupport

/// `hrnet detect`, `hrnet pose` with a person detector, and `hrnet bench` of a detector, on the
/// tiny mmdetection models and the committed photos, as a user runs them.
final class DetectCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-detect-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func temp(_ name: String) -> URL { dir.appendingPathComponent(name) }
    let photo = Fixtures.url("imaging/person.jpg").path
    let fcos = Fixtures.url("detection/tiny_fcos.pth").path

    func json(_ url: URL) throws -> [[String: Any]] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]])
    }

    /// The checkpoint's own config is enough; the results JSON equals mmdet's `results2json`
    /// (same category ids, boxes within 1e-3 px, scores within 1e-4), and a drawing is written.
    func testDetectWritesMMDetectionsResults() throws {
        let out = temp("det.json")
        let r = try HRNetCLI.run(["detect", "--weights", fcos, photo, "--out-json", out.path, "--draw", temp("drawn").path, "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try json(out)
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("detection/fcos_person.json"))) as? [String: Any])
        let expected = try XCTUnwrap(fixture["coco_results"] as? [[String: Any]])
        XCTAssertEqual(got.count, expected.count)
        for (g, e) in zip(got, expected) {
            XCTAssertEqual(g["category_id"] as? Int, e["category_id"] as? Int)
            XCTAssertEqual(g["image_id"] as? Int, 1, "the first image on the command line")
            XCTAssertEqual(g["file_name"] as? String, "person.jpg")
            XCTAssertEqual(try XCTUnwrap(g["score"] as? Double), try XCTUnwrap(e["score"] as? Double), accuracy: 1e-4)
            for (a, b) in zip(try XCTUnwrap(g["bbox"] as? [Double]), try XCTUnwrap(e["bbox"] as? [Double])) { XCTAssertEqual(a, b, accuracy: 1e-3) }
        }
        let drawn = try Image.load(temp("drawn/person.det.jpg"))
        XCTAssertEqual(drawn.width, 320)
        XCTAssertNotEqual(drawn, try Image.load(URL(fileURLWithPath: photo)), "boxes were drawn")

        // Not overwritten without --force.
        let again = try HRNetCLI.run(["detect", "--weights", fcos, photo, "--out-json", out.path])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
    }

    /// The tiny FCOS's weights with classes 0 (person) and 49 swapped: its random head finds no
    /// person but many "oranges" (label 49) in person.jpg, and these become people.
    func personDetector() throws -> String {
        var w = try Checkpoint.loadFloat(URL(fileURLWithPath: fcos))
        for key in ["bbox_head.conv_cls.weight", "bbox_head.conv_cls.bias"] {
            var t = try XCTUnwrap(w[key])
            let per = t.count / 80
            let a = Array(t.scalars[0..<per]), b = Array(t.scalars[(49 * per)..<(50 * per)])
            t.scalars.replaceSubrange(0..<per, with: b)
            t.scalars.replaceSubrange((49 * per)..<(50 * per), with: a)
            w[key] = t
        }
        let url = temp("person_fcos.safetensors")
        try SafeTensors.write(w, to: url)
        return url.path
    }

    /// --classes keeps those classes; the file feeds `hrnet pose --boxes` unchanged; and
    /// `hrnet pose --detector-weights` finds the same people itself.
    func testPeopleForPose() throws {
        let people = temp("people.json"), fcos = try personDetector()
        var r = try HRNetCLI.run(["detect", "--config", Fixtures.url("detection/tiny_fcos_hrnet.py").path, "--weights", fcos, photo,
                                  "--classes", "person", "--score-threshold", "0.2", "--out-json", people.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let boxes = try json(people)
        XCTAssertFalse(boxes.isEmpty, "the fixture's random detector finds people above 0.2 in person.jpg")
        XCTAssertTrue(boxes.allSatisfy { $0["category_id"] as? Int == 1 && ($0["score"] as? Double ?? 0) >= 0.2 })

        r = try HRNetCLI.run(["pose", photo, "--boxes", people.path, "--no-flip-test", "--out-json", temp("pose_boxes.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let fromFile = try json(temp("pose_boxes.json"))
        XCTAssertEqual(fromFile.count, boxes.count > 0 ? fromFile.count : 0)
        XCTAssertGreaterThan(fromFile.count, 0)

        r = try HRNetCLI.run(["pose", photo, "--detector", Fixtures.url("detection/tiny_fcos_hrnet.py").path,
                              "--detector-weights", fcos, "--person-threshold", "0.2", "--person-nms", "1",
                              "--no-flip-test", "--out-json", temp("pose_detector.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let fromDetector = try json(temp("pose_detector.json"))
        XCTAssertEqual(fromDetector.count, fromFile.count, "the same boxes give the same people")
        for (a, b) in zip(fromDetector, fromFile) {
            for (x, y) in zip(try XCTUnwrap(a["keypoints"] as? [Double]), try XCTUnwrap(b["keypoints"] as? [Double])) {
                XCTAssertEqual(x, y, accuracy: 1e-2)
            }
        }
    }

    /// Faster R-CNN from its checkpoint alone, and the bench of a detector with random weights.
    func testFasterRCNNAndBench() throws {
        var r = try HRNetCLI.run(["detect", "--weights", Fixtures.url("detection/tiny_faster_rcnn.pth").path,
                                  Fixtures.url("segmentation/photo.png").path, "--out-json", temp("frcnn.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("detection/faster_rcnn_photo.json"))) as? [String: Any])
        XCTAssertEqual(try json(temp("frcnn.json")).count, fixture["num_detections"] as? Int)

        r = try HRNetCLI.run(["bench", "--detector", Fixtures.url("detection/tiny_fcos_hrnet.py").path, "--width", "200",
                              "--height", "120", "--runs", "2", "--warmup", "0", "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let bench = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(bench["input"] as? String, "1x3x96x160", "150x90 scale: 200x120 -> 150x90, padded to 160x96")
        XCTAssertGreaterThan(try XCTUnwrap(bench["gflop"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(bench["backbone_ms"] as? Double), 0)
    }

    /// Bad input: a config with code in it, a checkpoint without config, a broken image, a
    /// detector of another shape; each a clear error, nothing written.
    func testBadInput() throws {
        let evil = temp("evil.py")
        try "import os\nmodel = dict(type='FCOS')\n".write(to: evil, atomically: true, encoding: .utf8)
        var r = try HRNetCLI.run(["detect", "--config", evil.path, "--weights", fcos, photo])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("evil.py:1") && r.stderr.contains("import"), r.stderr)

        r = try HRNetCLI.run(["detect", "--weights", Fixtures.url("detection/tiny_fcos_nometa.pth").path, photo])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("carries no config"), r.stderr)

        r = try HRNetCLI.run(["detect", "--weights", fcos, Fixtures.url("imaging/truncated.png").path, "--out-json", temp("x.json").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("truncated.png"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("x.json").path))

        r = try HRNetCLI.run(["detect", "--preset", "fcos_hrnetv2p_w18", "--weights", fcos, photo])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("mis-shaped") || r.stderr.contains("missing"), r.stderr)

        r = try HRNetCLI.run(["detect", "--weights", fcos, photo, "--max-pixels", "10000"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("person.jpg"), r.stderr)

        r = try HRNetCLI.run(["detect", "--weights", fcos, photo, "--classes", "unicorn"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unicorn"), r.stderr)
    }
}

extension DetectCLITests {
    /// A COCO split of the three fixture photos whose ground truth is mmdet's own detections
    /// (score >= 0.2) of the tiny FCOS, optionally shifted right by `shift` x each box's width.
    func makeSplit(shift: Double) throws -> URL {
        let root = temp("coco\(shift)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("images/val"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("annotations"), withIntermediateDirectories: true)
        var images: [[String: Any]] = [], annotations: [[String: Any]] = []
        for (k, name) in ["person", "photo", "odd"].enumerated() {
            let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("detection/fcos_\(name).json"))) as? [String: Any])
            let source = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(try XCTUnwrap(fixture["image"] as? String))
            let file = "\(name).\(source.pathExtension)"
            try FileManager.default.copyItem(at: source, to: root.appendingPathComponent("images/val/\(file)"))
            let shape = try XCTUnwrap(fixture["ori_shape"] as? [Int])
            images.append(["id": 10 * (k + 1), "file_name": file, "height": shape[0], "width": shape[1]])
            for r in try XCTUnwrap(fixture["coco_results"] as? [[String: Any]]) where (r["score"] as? Double ?? 0) >= 0.2 {
                var b = try XCTUnwrap(r["bbox"] as? [Double])
                b[0] += shift * b[2]
                annotations.append(["id": annotations.count + 1, "image_id": 10 * (k + 1), "category_id": r["category_id"]!,
                                    "bbox": b, "area": b[2] * b[3], "iscrowd": 0])
            }
        }
        let categories = zip(COCOClasses.categoryIDs, COCOClasses.names).map { ["id": $0, "name": $1] as [String: Any] }
        let json = try JSONSerialization.data(withJSONObject: ["images": images, "annotations": annotations, "categories": categories])
        try json.write(to: root.appendingPathComponent("annotations/instances_val.json"))
        return root
    }

    /// `hrnet eval-det` scores the detector's own boxes as perfect (AP 1: every ground-truth box is
    /// found at IoU ~1 above every lower-scored false positive), and boxes shifted by 60% of
    /// their width (IoU 0.25 < 0.5 with their own box) as missed (AP near 0: a few still meet
    /// a neighbour's box).
    func testEvalDet() throws {
        let model = ["--config", Fixtures.url("detection/tiny_fcos_hrnet.py").path, "--weights", fcos, "--threads", "2"]
        var r = try HRNetCLI.run(["eval-det"] + model + ["--data", try makeSplit(shift: 0).path, "--split", "val",
                                                         "--out-json", temp("r0.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000"), r.stdout)
        let orange = r.stdout.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("orange ") }
        XCTAssertEqual(orange?.split(separator: " ").last, "1.000", r.stdout)
        XCTAssertEqual(try json(temp("r0.json")).count, 58 + 45 + 62, "every detection of the three photos")

        r = try HRNetCLI.run(["eval-det"] + model + ["--data", try makeSplit(shift: 0.6).path, "--split", "val", "--out-json", temp("r1.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("(AP) @[ IoU=0.50:0.95 | area=   all") })
        XCTAssertLessThan(try XCTUnwrap(Double(line.split(separator: "=").last!.trimmingCharacters(in: .whitespaces))), 0.1, String(line))

        r = try HRNetCLI.run(["eval-det"] + model + ["--data", temp("nowhere").path, "--split", "val"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("instances_val.json"), r.stderr)
    }
}

extension DetectCLITests {
    /// `hrnet eval --detector` scores the same as `hrnet eval --boxes` given that detector's
    /// people from `hrnet detect --classes person` (same threshold, no extra NMS).
    func testPoseEvalWithDetector() throws {
        let root = temp("kp")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("annotations"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("images/val"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: URL(fileURLWithPath: photo), to: root.appendingPathComponent("images/val/000000000007.jpg"))
        let gt = """
            {"images": [{"id": 7, "file_name": "000000000007.jpg", "width": 320, "height": 240}],
             "categories": [{"id": 1, "name": "person", "keypoints": ["a", "b_left", "b_right", "c_left", "c_right"], "skeleton": [[1, 2]]}],
             "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [100, 40, 80, 160], "area": 7000, "iscrowd": 0,
                              "num_keypoints": 5, "keypoints": [140, 60, 2, 130, 90, 2, 150, 90, 2, 125, 150, 2, 155, 150, 2]}]}
            """
        try gt.write(to: root.appendingPathComponent("annotations/person_keypoints_val.json"), atomically: true, encoding: .utf8)
        let fcos = try personDetector(), config = Fixtures.url("detection/tiny_fcos_hrnet.py").path
        let pose = ["--config", Fixtures.url("hrnet/tiny_pose.yaml").path, "--weights", Fixtures.url("hrnet/tiny_pose.safetensors").path,
                    "--data", root.path, "--split", "val", "--no-flip-test", "--json", "--threads", "2"]
        var r = try HRNetCLI.run(["detect", "--config", config, "--weights", fcos, root.appendingPathComponent("images/val/000000000007.jpg").path,
                                  "--classes", "person", "--score-threshold", "0.25", "--out-json", temp("people.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertGreaterThan(try json(temp("people.json")).count, 1)
        r = try HRNetCLI.run(["eval"] + pose + ["--boxes", temp("people.json").path, "--out-json", temp("a.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let fromFile = r.stdout
        r = try HRNetCLI.run(["eval"] + pose + ["--detector", config, "--detector-weights", fcos, "--person-threshold", "0.25",
                                                "--person-nms", "1", "--out-json", temp("b.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, fromFile)
        XCTAssertEqual(try json(temp("a.json")).count, try json(temp("b.json")).count)

        // With no person options, AP is taken as the official test takes a detector's people:
        // every one it reports (TEST.IMAGE_THRE 0.0), no NMS beyond the detector's own.
        r = try HRNetCLI.run(["detect", "--config", config, "--weights", fcos, root.appendingPathComponent("images/val/000000000007.jpg").path,
                              "--classes", "person", "--out-json", temp("everyone.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertGreaterThan(try json(temp("everyone.json")).count, try json(temp("people.json")).count)
        r = try HRNetCLI.run(["eval"] + pose + ["--boxes", temp("everyone.json").path, "--out-json", temp("c.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let everyone = r.stdout
        r = try HRNetCLI.run(["eval"] + pose + ["--detector", config, "--detector-weights", fcos, "--out-json", temp("d.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, everyone)
        XCTAssertEqual(try json(temp("c.json")).count, try json(temp("d.json")).count)

        // A box that cannot be cropped is refused with its image file named.
        try Data(#"[{"image_id": 7, "category_id": 1, "bbox": [400, 10, 20, 20], "score": 0.9}]"#.utf8).write(to: temp("bad.json"))
        r = try HRNetCLI.run(["eval"] + pose + ["--boxes", temp("bad.json").path, "--out-json", temp("e.json").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("000000000007.jpg: box 0 lies entirely outside the 320x240 image"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("e.json").path))
    }
}
