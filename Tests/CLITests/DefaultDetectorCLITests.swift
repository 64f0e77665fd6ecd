import XCTest
import TestSupport

/// The built-in person detector: `hrnet detect` with no model finds each person of a synthetic
/// photo it was not trained on, and `hrnet pose` on that photo with no boxes detects the people
/// and returns their keypoints (the whole top-down pipeline with no file but the photo).
final class DefaultDetectorCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-defdet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The annotated people of the fixture photo, as (x1, y1, x2, y2).
    func people() throws -> [[Double]] {
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("detection/person_scene.json"))) as? [String: Any])
        return (json["people"] as! [[String: Any]]).map { p in let b = p["bbox"] as! [Double]; return [b[0], b[1], b[0] + b[2], b[1] + b[3]] }
    }

    static func iou(_ a: [Double], _ b: [Double]) -> Double {
        let w = max(0, min(a[2], b[2]) - max(a[0], b[0])), h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
        let inter = w * h
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
    }

    /// Each annotated person has a result box of IoU >= 0.7 (COCO results: [x, y, w, h]).
    func assertFindsEveryone(_ results: [[String: Any]], _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let boxes = results.compactMap { $0["bbox"] as? [Double] }.map { [$0[0], $0[1], $0[0] + $0[2], $0[1] + $0[3]] }
        for person in try people() {
            let best = boxes.map { Self.iou($0, person) }.max() ?? 0
            XCTAssertGreaterThanOrEqual(best, 0.7, "\(what): the person at \(person) (best IoU \(best))", file: file, line: line)
        }
    }

    func testDetectWithNoModelFindsEachPerson() throws {
        let out = dir.appendingPathComponent("det.json")
        let r = try HRNetCLI.run(["detect", Fixtures.url("detection/person_scene.jpg").path, "--threads", "2", "--out-json", out.path,
                                  "--score-threshold", "0.3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let results = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [[String: Any]])
        try assertFindsEveryone(results.filter { ($0["score"] as? Double ?? 0) >= 0.3 }, "hrnet detect")
    }

    func testPoseOnAPhotoWithNoBoxes() throws {
        let out = dir.appendingPathComponent("pose.json")
        let r = try HRNetCLI.run(["pose", Fixtures.url("detection/person_scene.jpg").path, "--threads", "2", "--out-json", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let results = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [[String: Any]])
        // Every person found, each with 17 keypoints inside (or near) their box.
        XCTAssertGreaterThanOrEqual(results.count, 2, "\(results.count) people")
        for person in try people() {
            let near = results.filter { result in
                let k = result["keypoints"] as! [Double]
                XCTAssertEqual(k.count, 51)
                let xs = stride(from: 0, to: 51, by: 3).map { k[$0] }, ys = stride(from: 1, to: 51, by: 3).map { k[$0] }
                let center = (xs.reduce(0, +) / 17, ys.reduce(0, +) / 17)
                return center.0 > person[0] && center.0 < person[2] && center.1 > person[1] && center.1 < person[3]
            }
            XCTAssertFalse(near.isEmpty, "a skeleton centred in the person at \(person)")
        }
        // --whole-image: the photo is one box, one person.
        let whole = try HRNetCLI.run(["pose", Fixtures.url("detection/person_scene.jpg").path, "--threads", "2", "--whole-image",
                                      "--out-json", dir.appendingPathComponent("whole.json").path])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let one = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("whole.json"))) as? [[String: Any]])
        XCTAssertEqual(one.count, 1)
    }

    /// `hrnet eval --detect`: COCO keypoint AP of the whole pipeline (people detected, then posed)
    /// on a COCO-format set, beside the ground-truth boxes' AP.
    func testEvalWithDetectedPeople() throws {
        let data = dir.appendingPathComponent("synth").path
        XCTAssertEqual(try HRNetCLI.run(["synth", "--out", data, "--images", "12", "--val-fraction", "0.5", "--size", "320x240", "--seed", "6"]).status, 0)
        func ap(_ extra: [String]) throws -> Double {
            let r = try HRNetCLI.run(["eval", "--data", data, "--split", "val", "--json", "--force", "--threads", "2",
                                      "--out-json", dir.appendingPathComponent("r.json").path] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let stats = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["stats"] as? [Double])
            return stats[0]
        }
        let detected = try ap(["--detect"]), truth = try ap([])
        print("pose AP with detected people \(detected), with ground-truth boxes \(truth)")
        XCTAssertGreaterThan(detected, 0.3)
        XCTAssertGreaterThan(truth, detected - 0.05, "ground-truth boxes are the upper bound")
        let both = try HRNetCLI.run(["eval", "--data", data, "--split", "val", "--detect", "--gt-boxes"])
        XCTAssertEqual(both.status, 64)
    }

    /// `hrnet eval-det` with no model scores the embedded detector on a held-out synthetic set
    /// with its variety (crowds, small people, empty images; boxes of what is seen), with and
    /// without its box refiner; a config with no weights is refused before anything runs.
    func testEvalDetWithNoModelScoresTheEmbeddedDetector() throws {
        let data = dir.appendingPathComponent("held")
        XCTAssertEqual(try HRNetCLI.run(["synth", "--out", data.path, "--images", "10", "--val-fraction", "1", "--size", "320x240",
                                         "--seed", "31", "--empty-fraction", "0.08", "--smallest-height", "0.1", "--extra-people", "3",
                                         "--visible-boxes"]).status, 0)
        // The split has only person_keypoints_val.json: its people are the instances.
        func ap(_ extra: [String]) throws -> Double {
            let r = try HRNetCLI.run(["eval-det", "--data", data.path, "--split", "val", "--threads", "2", "--force",
                                      "--out-json", dir.appendingPathComponent("boxes.json").path] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("(AP) @[ IoU=0.50:0.95 | area=   all") }, r.stdout)
            return try XCTUnwrap(Double(line.split(separator: "=").last!.trimmingCharacters(in: .whitespaces)))
        }
        // With its box refiner (the default) and without it: the refined boxes sit closer.
        let refined = try ap([]), unrefined = try ap(["--no-refiner"])
        print("embedded detector on 9 held-out images: box AP \(refined), \(unrefined) without its box refiner")
        XCTAssertGreaterThan(unrefined, 0.4)
        XCTAssertGreaterThan(refined, unrefined + 0.03)
        let refused = try HRNetCLI.run(["eval-det", "--config", "x.py", "--data", data.path, "--split", "val"])
        XCTAssertEqual(refused.status, 64)
        XCTAssertTrue(refused.stderr.contains("--weights is needed with --config;"), refused.stderr)
        let preset = try HRNetCLI.run(["eval-det", "--preset", "fcos_hrnetv2p_w18", "--data", data.path, "--split", "val"])
        XCTAssertEqual(preset.status, 64)
        XCTAssertTrue(preset.stderr.contains("--weights is needed with --preset fcos_hrnetv2p_w18;"), preset.stderr)
    }
}
