import XCTest
import DNN
import TestSupport

/// `hrnet` as a user runs it: real files in, real files out, clear errors for bad input.
final class CLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func fixture(_ name: String) -> String { Fixtures.url(name).path }
    func temp(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func assertFails(_ args: [String], mentioning needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try HRNetCLI.run(args)
        XCTAssertNotEqual(r.status, 0, "hrnet \(args) should fail", file: file, line: line)
        for n in needles { XCTAssertTrue(r.stderr.contains(n), "stderr '\(r.stderr)' lacks '\(n)'", file: file, line: line) }
        XCTAssertFalse(r.stderr.contains("Fatal error"), "crashed: \(r.stderr)", file: file, line: line)
    }

    func testRunMatchesGoldenAndConvertRoundTrips() throws {
        let out = temp("heatmaps.npy")
        let r = try HRNetCLI.run(["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("hrnet/tiny_pose_legacy.pth"),
                                  "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", out, "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("GFLOP/s"), r.stdout)
        let golden = try NPY.read(Fixtures.url("hrnet/tiny_pose_output.npy"))
        XCTAssertLessThanOrEqual(try NPY.read(URL(fileURLWithPath: out)).maxAbsDifference(golden), 1e-4)

        // convert .pth -> .safetensors, then the converted weights give the same heatmaps.
        let st = temp("tiny.safetensors")
        let c = try HRNetCLI.run(["convert", fixture("hrnet/tiny_pose_wrapped.pth"), st])
        XCTAssertEqual(c.status, 0, c.stderr)
        let out2 = temp("heatmaps2.npy")
        XCTAssertEqual(try HRNetCLI.run(["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", st,
                                         "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", out2]).status, 0)
        XCTAssertEqual(try NPY.read(URL(fileURLWithPath: out2)), try NPY.read(URL(fileURLWithPath: out)))

        // Nothing is overwritten without --force.
        let before = try Data(contentsOf: URL(fileURLWithPath: st))
        try assertFails(["convert", fixture("hrnet/tiny_pose_zip.pth"), st], mentioning: ["exists", "--force"])
        try assertFails(["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", st,
                         "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", out], mentioning: ["exists"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: st)), before)
    }

    func testSegmentationRunOddSize() throws {
        let out = temp("logits.npy")
        let r = try HRNetCLI.run(["run", "--config", fixture("hrnet/tiny_seg.yaml"), "--weights", fixture("hrnet/tiny_seg_zip.pth"),
                                  "--input", fixture("hrnet/tiny_seg_input_odd.npy"), "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let golden = try NPY.read(Fixtures.url("hrnet/tiny_seg_output_odd.npy"))
        XCTAssertLessThanOrEqual(try NPY.read(URL(fileURLWithPath: out)).maxAbsDifference(golden), 1e-4)
    }

    func testInfo() throws {
        let r = try HRNetCLI.run(["info", "--preset", "pose_w32_256x192"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("28.54 M"), r.stdout)
        XCTAssertTrue(r.stdout.contains("15.29"), r.stdout)
        let w = try HRNetCLI.run(["info", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("hrnet/tiny_pose_zip.pth")])
        XCTAssertEqual(w.status, 0, w.stderr)
        XCTAssertTrue(w.stdout.contains("keys matched"), w.stdout)
        let list = try HRNetCLI.run(["info", "--list-presets"])
        XCTAssertTrue(list.stdout.contains("seg_w48_cityscapes"), list.stdout)
    }

    func testBadInputs() throws {
        let pose = ["--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("hrnet/tiny_pose.safetensors")]
        let out = temp("o.npy")
        try assertFails(["run"] + pose + ["--input", fixture("checkpoint/float64.npy"), "--output", out], mentioning: ["float64.npy", "<f8"])
        try assertFails(["run"] + pose + ["--input", fixture("checkpoint/rank2.npy"), "--output", out], mentioning: ["rank 4"])
        try assertFails(["run"] + pose + ["--input", fixture("hrnet/tiny_seg_input_odd.npy"), "--output", out], mentioning: ["multiple of 32"])
        let fourChannels = temp("four.npy")
        try NPY.write(Tensor(zeros: [1, 4, 96, 64]), to: URL(fileURLWithPath: fourChannels))
        try assertFails(["run"] + pose + ["--input", fourChannels, "--output", out], mentioning: ["4 channels", "3"])
        try assertFails(["run", "--config", fixture("hrnet/broken/bad_yaml.yaml"), "--random-weights", "--random-input", "1", "--output", out],
                        mentioning: ["bad_yaml.yaml", "YAML"])
        try assertFails(["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("checkpoint/hostile_zip.pth"),
                         "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", out], mentioning: ["hostile_zip.pth", "posix.system"])
        try assertFails(["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("checkpoint/truncated_zip.pth"),
                         "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", out], mentioning: ["truncated_zip.pth"])
        try assertFails(["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("hrnet/tiny_seg.safetensors"),
                         "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", out], mentioning: ["tiny_seg.safetensors", "missing keys", "unexpected keys"])
        try assertFails(["run"] + pose + ["--output", out], mentioning: ["--input"])
        try assertFails(["run"] + pose + ["--input", fixture("hrnet/tiny_pose_input.npy"), "--output", out, "--threads", "0"], mentioning: ["threads"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output after a failure")
    }

    func testMissingAndMisshapedKeys() throws {
        var weights = try Checkpoint.loadFloat(Fixtures.url("hrnet/tiny_pose.safetensors"))
        weights["stage3.1.fuse_layers.2.0.1.1.running_var"] = nil
        weights["final_layer.weight"] = Tensor(zeros: [5, 4, 3, 3])
        let broken = temp("broken.safetensors")
        try SafeTensors.write(weights, to: URL(fileURLWithPath: broken))
        let args = ["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", broken,
                    "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", temp("o.npy")]
        try assertFails(args, mentioning: ["broken.safetensors", "stage3.1.fuse_layers.2.0.1.1.running_var",
                                           "final_layer.weight: broken.safetensors [5, 4, 3, 3] vs model [5, 2, 1, 1]"])
        weights["final_layer.weight"] = Tensor(zeros: [5, 2, 1, 1])
        try SafeTensors.write(weights, to: URL(fileURLWithPath: broken))
        try assertFails(args, mentioning: ["--allow-partial"])
        let r = try HRNetCLI.run(args + ["--allow-partial"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("1 keys missing"), r.stderr)
    }
}

extension CLITests {
    func testCOCOEval() throws {
        let r = try HRNetCLI.run(["coco-eval", "--gt", fixture("coco/gt.json"), "--results", fixture("coco/dt_keypoints.json"),
                                  "--iou-type", "keypoints", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let stats = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: [Double]])["stats"]!
        let want = (try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("coco/expected_stats.json"))) as! [String: [Double]])["keypoints"]!
        for (a, b) in zip(stats, want) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        let table = try HRNetCLI.run(["coco-eval", "--gt", fixture("coco/gt.json"), "--results", fixture("coco/dt_bbox.json"), "--iou-type", "bbox"])
        XCTAssertTrue(table.stdout.contains("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]"), table.stdout)
        try assertFails(["coco-eval", "--gt", fixture("coco/gt.json"), "--results", fixture("hrnet/tiny_pose.yaml")], mentioning: ["tiny_pose.yaml", "JSON"])
    }
}
