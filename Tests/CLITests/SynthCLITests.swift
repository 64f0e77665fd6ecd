import XCTest
import TestSupport

/// `hrnet synth` as a user runs it, and its ground truth through `hrnet coco-eval`.
final class SynthCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-synth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testSynthThenCOCOEvalOfItsTruthGivesAP1() throws {
        let out = dir.appendingPathComponent("synth").path
        let r = try HRNetCLI.run(["synth", "--out", out, "--images", "6", "--size", "160x120", "--seed", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("6 images (train 5, val 1)"), r.stderr)
        for split in ["train", "val"] {
            let gt = "\(out)/annotations/person_keypoints_\(split).json"
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: gt))) as? [String: Any])
            let anns = try XCTUnwrap(json["annotations"] as? [[String: Any]])
            XCTAssertFalse(anns.isEmpty)
            let results = anns.map { ["image_id": $0["image_id"]!, "category_id": 1, "keypoints": $0["keypoints"]!, "score": 1.0] }
            let resultsURL = dir.appendingPathComponent("results_\(split).json")
            try JSONSerialization.data(withJSONObject: results).write(to: resultsURL)
            let e = try HRNetCLI.run(["coco-eval", "--gt", gt, "--results", resultsURL.path, "--json"])
            XCTAssertEqual(e.status, 0, e.stderr)
            let stats = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])?["stats"] as? [Double])
            XCTAssertEqual(stats[0], 1, accuracy: 1e-12, "AP of the truth against itself")
            XCTAssertEqual(stats[5], 1, accuracy: 1e-12, "AR of the truth against itself")
        }
        // A non-empty folder is refused without --force.
        let again = try HRNetCLI.run(["synth", "--out", out, "--images", "2"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("not empty") && again.stderr.contains("--force"), again.stderr)
        XCTAssertEqual(try HRNetCLI.run(["synth", "--out", out, "--images", "2", "--size", "64x48", "--force"]).status, 0)
    }

    func testBadArguments() throws {
        let file = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        for (args, needle) in [(["--out", file.path + "/sub", "--images", "2"], "cannot create the folder"),
                               (["--out", dir.path + "/a", "--images", "0"], "--images"),
                               (["--out", dir.path + "/b", "--images", "2", "--size", "320"], "--size"),
                               (["--out", dir.path + "/c", "--images", "2", "--val-fraction", "1.5"], "--val-fraction")] {
            let r = try HRNetCLI.run(["synth"] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        }
    }
}
