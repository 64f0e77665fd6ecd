import XCTest
import Imaging
import TestSupport

/// `hrnet pose` and `hrnet eval` on the tiny pose model and the committed photo, against the
/// official pipeline's keypoints (Tests/Fixtures/pose/pipeline_cases.json, flip test on).
final class PoseCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-pose-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func temp(_ name: String) -> URL { dir.appendingPathComponent(name) }
    func write(_ text: String, _ name: String) throws -> String {
        try text.write(to: temp(name), atomically: true, encoding: .utf8)
        return temp(name).path
    }

    struct Reference: Decodable {
        struct Case: Decodable { let flip: Bool; let keypoints: [[[Double]]]; let centers: [[Double]] }
        let boxes: [[Double]]
        let cases: [Case]
    }
    func reference() throws -> (boxes: [[Double]], flipped: Reference.Case) {
        let r = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.url("pose/pipeline_cases.json")))
        return (r.boxes, r.cases.first { $0.flip }!)
    }

    let keypointFile = """
        keypoints: [a, b_left, b_right, c_left, c_right]
        flip_pairs: [[b_left, b_right], [c_left, c_right]]
        skeleton: [[a, b_left], [a, b_right], [b_left, c_left], [b_right, c_right]]
        """
    var model: [String] {
        ["--config", Fixtures.url("hrnet/tiny_pose.yaml").path, "--weights", Fixtures.url("hrnet/tiny_pose.safetensors").path, "--threads", "2"]
    }

    func json(_ path: URL) throws -> [[String: Any]] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: path)) as? [[String: Any]])
    }

    /// Keypoints of the written results equal the official pipeline's (0.01 px; see PosePipelineTests).
    func assertMatchesReference(_ results: [[String: Any]], file: StaticString = #filePath, line: UInt = #line) throws {
        let (boxes, ref) = try reference()
        XCTAssertEqual(results.count, boxes.count, file: file, line: line)
        for r in results {
            let center = try XCTUnwrap(r["center"] as? [Double])
            let k = try XCTUnwrap(ref.centers.firstIndex { abs($0[0] - center[0]) < 1e-6 && abs($0[1] - center[1]) < 1e-6 })
            let kp = try XCTUnwrap(r["keypoints"] as? [Double])
            XCTAssertEqual(kp.count, 15)
            for j in 0..<5 {
                XCTAssertEqual(kp[3 * j], ref.keypoints[k][j][0], accuracy: 0.01, file: file, line: line)
                XCTAssertEqual(kp[3 * j + 1], ref.keypoints[k][j][1], accuracy: 0.01, file: file, line: line)
            }
        }
    }

    func testPoseWritesOfficialKeypointsAndRefusesToOverwrite() throws {
        let (boxes, _) = try reference()
        let detections = boxes.map { "{\"file_name\": \"person.jpg\", \"category_id\": 1, \"bbox\": \($0), \"score\": 1}" }
        let det = try write("[" + detections.joined(separator: ",") + "]", "det.json")
        let kp = try write(keypointFile, "kp.yaml")
        let out = temp("results.json")
        let args = ["pose"] + model + ["--keypoints", kp, "--boxes", det, "--flip-test", "--oks-threshold", "1",
                                       "--out-json", out.path, "--draw", temp("drawn").path, Fixtures.url("imaging/person.jpg").path]
        let r = try HRNetCLI.run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("images/s"), r.stdout)
        let results = try json(out)
        try assertMatchesReference(results)
        XCTAssertEqual(results.first?["file_name"] as? String, "person.jpg")
        XCTAssertEqual(results.first?["category_id"] as? Int, 1)
        // Joints are drawn as white discs (radius 2 px here) where the score reaches 0.3.
        let drawn = try Image.load(temp("drawn/person.pose.jpg"))
        let photo = try Image.load(Fixtures.url("imaging/person.jpg"))
        XCTAssertEqual(drawn.width, photo.width)
        var checked = 0
        for r in results {
            let kp = try XCTUnwrap(r["keypoints"] as? [Double])
            for j in 0..<5 where kp[3 * j + 2] >= 0.3 {
                guard let p = drawn.pixel(x: Int(kp[3 * j].rounded()), y: Int(kp[3 * j + 1].rounded())) else { continue }
                XCTAssertGreaterThan(Int(p.0) + Int(p.1) + Int(p.2), 3 * 200, "joint \(j) at \(kp[3 * j]), \(kp[3 * j + 1]) not drawn")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 3)

        // A second run without --force changes nothing.
        let before = try Data(contentsOf: out)
        let again = try HRNetCLI.run(args)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: out), before)
    }

    func testPoseBadInput() throws {
        let photo = Fixtures.url("imaging/person.jpg").path
        let kp = try write(keypointFile, "kp.yaml")
        func fails(_ args: [String], _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try HRNetCLI.run(["pose"] + model + args)
            XCTAssertNotEqual(r.status, 0, "\(args) should fail", file: file, line: line)
            XCTAssertTrue(r.stderr.contains(words), "stderr '\(r.stderr)' lacks '\(words)'", file: file, line: line)
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
        }
        try fails(["--keypoints", kp, Fixtures.url("imaging/garbage.jpg").path], "garbage.jpg")
        try fails(["--keypoints", kp, Fixtures.url("imaging/huge.png").path], "huge.png")
        try fails(["--keypoints", kp, temp("missing.jpg").path], "missing.jpg")
        try fails(["--keypoints", kp, "--box", "1,2,0,5", photo], "positive width and height")
        try fails(["--keypoints", kp, "--box", "1000,2,10,5", photo], "outside")
        try fails(["--keypoints", kp, "--boxes", try write("[{\"image_id\": 1}]", "bad.json"), photo], "bbox")
        // Boxes for other images: a warning (the image then has no people), not silence.
        let other = try write("[{\"image_id\": 4242, \"category_id\": 1, \"bbox\": [10, 10, 50, 90], \"score\": 0.9}]", "other.json")
        let stray = try HRNetCLI.run(["pose"] + model + ["--keypoints", kp, "--boxes", other, photo])
        XCTAssertTrue(stray.stderr.contains("1 of the 1 boxes in") && stray.stderr.contains("belong to none of the 1 images"), stray.stderr)
        // The tiny model has 5 joints: COCO's 17 do not fit it.
        try fails([photo], "predicts 5 keypoints")
        try fails(["--keypoints", kp, dir.path], "no .jpg")
    }

    /// GT keypoints set to the official pipeline's predictions for the same boxes: `hrnet eval`
    /// must find every person (AP 1 within the 1e-3 a 0.01 px difference can cost in OKS).
    func testEvalScoresPredictionsEqualToTheTruthAsPerfect() throws {
        let (boxes, ref) = try reference()
        let root = temp("coco")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("annotations"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("images/val"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("imaging/person.jpg"), to: root.appendingPathComponent("images/val/000000000007.jpg"))
        var anns: [String] = []
        for (k, b) in boxes.enumerated() {
            let kp = ref.keypoints[k].flatMap { p -> [Double] in [p[0], p[1], 2] }
            anns.append("{\"id\": \(k + 1), \"image_id\": 7, \"category_id\": 1, \"bbox\": \(b), \"area\": \(b[2] * b[3] * 0.6), "
                        + "\"iscrowd\": 0, \"num_keypoints\": 5, \"keypoints\": \(kp)}")
        }
        let gt = """
            {"images": [{"id": 7, "file_name": "000000000007.jpg", "width": 320, "height": 240}],
             "categories": [{"id": 1, "name": "person", "keypoints": ["a", "b_left", "b_right", "c_left", "c_right"], "skeleton": [[1, 2]]}],
             "annotations": [\(anns.joined(separator: ","))]}
            """
        try gt.write(to: root.appendingPathComponent("annotations/person_keypoints_val.json"), atomically: true, encoding: .utf8)
        let det = try write("[" + boxes.map { "{\"image_id\": 7, \"category_id\": 1, \"bbox\": \($0), \"score\": 1}" }.joined(separator: ",") + "]", "det.json")
        let out = temp("eval.json")
        let r = try HRNetCLI.run(["eval"] + model + ["--data", root.path, "--split", "val", "--boxes", det, "--flip-test",
                                                     "--out-json", out.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let stats = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["stats"] as? [Double])
        XCTAssertEqual(stats.count, 10)
        XCTAssertEqual(stats[0], 1, accuracy: 1e-3, "AP")
        XCTAssertEqual(stats[5], 1, accuracy: 1e-3, "AR")
        try assertMatchesReference(try json(out))

        // The written results give the same numbers through coco-eval.
        let again = try HRNetCLI.run(["coco-eval", "--gt", root.appendingPathComponent("annotations/person_keypoints_val.json").path,
                                      "--results", out.path, "--json"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, r.stdout)

        // A missing image is an error naming it, not a skip.
        try FileManager.default.removeItem(at: root.appendingPathComponent("images/val/000000000007.jpg"))
        let missing = try HRNetCLI.run(["eval"] + model + ["--data", root.path, "--split", "val", "--out-json", temp("e2.json").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("000000000007.jpg"), missing.stderr)
        let noSplit = try HRNetCLI.run(["eval"] + model + ["--data", root.path, "--split", "train"])
        XCTAssertTrue(noSplit.stderr.contains("person_keypoints_train.json"), noSplit.stderr)
    }
}

/// `hrnet demo` end to end with the embedded default model.
final class DemoCLITests: XCTestCase {
    /// `hrnet demo` with no model runs the embedded default model: the skeletons it finds on
    /// the synthetic figures score a real AP.
    func testDemoWritesPicturesKeypointsAndAP() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let args = ["demo", "--out", out.path, "--images", "30", "--threads", "2"]
        let r = try HRNetCLI.run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.contains("random weights"), r.stdout)
        let ap = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("COCO AP") }.flatMap {
            Double($0.split(separator: " ").drop { $0 != "AP" }.dropFirst().first ?? "") }, r.stdout)
        // Observed 0.72 on these 6 val images (12 people; the model's AP on its 600-image val
        // split: 0.808); random weights score ~0. The floor allows for the few people.
        XCTAssertGreaterThan(ap, 0.4, r.stdout)
        // The whole pipeline, people found by the built-in detector: "...; 0.730 with the people the built-in detector found (10 scoring above 0.3)".
        let detectedAP = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("built-in detector") }.flatMap { line in
            line.split(separator: ";").last.flatMap { Double($0.split(separator: " ").first ?? "") } }, r.stdout)
        XCTAssertGreaterThan(detectedAP, 0.3, r.stdout)
        let info = try HRNetCLI.run(["info"])
        XCTAssertTrue(info.stdout.contains("pose_default.yaml (embedded)") && info.stdout.contains("1.28 M"), info.stdout)
        let pictures = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("pictures").path)
        XCTAssertFalse(pictures.isEmpty)
        XCTAssertTrue(pictures.allSatisfy { $0.hasSuffix(".pose.jpg") })
        let results = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("keypoints.json"))) as? [[String: Any]])
        XCTAssertFalse(results.isEmpty)
        XCTAssertEqual((results[0]["keypoints"] as? [Double])?.count, 51)
        let again = try HRNetCLI.run(args)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--force"), again.stderr)
        let tiny = try HRNetCLI.run(["demo", "--config", Fixtures.url("hrnet/tiny_pose.yaml").path, "--random-weights", "--out", out.path, "--force"])
        XCTAssertTrue(tiny.stderr.contains("17 keypoints"), tiny.stderr)
    }
}
