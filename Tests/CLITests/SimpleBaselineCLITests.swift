import XCTest
import DNN
import TestSupport

/// SimpleBaseline (`pose_resnet`) through the commands a pose_hrnet user runs: `train` from an
/// ImageNet-style ResNet checkpoint (torchvision's key names, its `fc` dropped, the deconv
/// layers and final layer from the official initial values), `eval`, `pose`, `quantize` + int8,
/// `bench` (inference and training) and `info`, on TrainCLITests' tiny keypoint set.
final class SimpleBaselineCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-resnet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try TrainCLITests.makePoseDataSet(in: dir)
        // The tiny SimpleBaseline with the set's 5 keypoints, its splits and a batch of 4.
        let yaml = try String(contentsOf: Fixtures.url("poseresnet/tiny_pose_resnet.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "NUM_JOINTS: 17", with: "NUM_JOINTS: 5")
            .replacingOccurrences(of: "TRAIN_SET: train2017", with: "TRAIN_SET: train")
            .replacingOccurrences(of: "TEST_SET: val2017", with: "TEST_SET: val")
            .replacingOccurrences(of: "BATCH_SIZE_PER_GPU: 32", with: "BATCH_SIZE_PER_GPU: 4")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var config: URL { dir.appendingPathComponent("resnet.yaml") }
    var data: URL { dir.appendingPathComponent("data") }

    func testTrainFromAnImageNetBackboneThenEvaluatePoseQuantizeAndBench() throws {
        let out = dir.appendingPathComponent("run")
        let backbone = Fixtures.url("poseresnet/torchvision_style_backbone.safetensors")
        let r = try HRNetCLI.run(["train", "--config", config.path, "--data", data.path, "--threads", "2", "--seed", "1",
                                  "--weights", backbone.path, "--out", out.path, "--epochs", "2"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        // 6 deconv-layer tensors x 3 layers (weight, bias, BN's 4) + final_layer's 2 start from initial values.
        XCTAssertTrue(r.stdout.contains("20 keys missing from"), r.stdout)
        let csv = try String(contentsOf: out.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 3, "\(csv)")
        let losses = csv.dropFirst().map { Double($0.split(separator: ",")[1])! }
        XCTAssertLessThan(losses[1], losses[0], "the loss falls: \(losses)")
        let final = out.appendingPathComponent("final.safetensors")
        // The backbone came from the checkpoint: layer1's first conv moved from it by at most 2 epochs of Adam steps.
        let start = try Checkpoint.loadFloat(backbone)["layer1.0.conv1.weight"]!
        let trained = try Checkpoint.loadFloat(final)
        XCTAssertLessThanOrEqual(trained["layer1.0.conv1.weight"]!.maxAbsDifference(start), 6 * 1e-3 + 1e-6)
        XCTAssertNil(trained["fc.weight"])

        let model = ["--config", config.path, "--weights", final.path, "--threads", "2"]
        let eval = try HRNetCLI.run(["eval"] + model + ["--data", data.path, "--split", "val", "--json",
                                                        "--out-json", dir.appendingPathComponent("results.json").path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let stats = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])?["stats"] as? [Double])
        XCTAssertEqual(stats.count, 10)
        XCTAssertTrue((0...1).contains(stats[0]), "AP \(stats[0])")

        let photo = Fixtures.url("imaging/person.jpg").path
        let json = dir.appendingPathComponent("pose.json")
        let pose = try HRNetCLI.run(["pose"] + model + ["--keypoints", try keypointsFile(), "--box", "20,30,90,180", photo, "--out-json", json.path])
        XCTAssertEqual(pose.status, 0, pose.stderr)
        let people = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [[String: Any]])
        XCTAssertEqual(people.count, 1)
        XCTAssertEqual((people[0]["keypoints"] as? [Double])?.count, 15)

        let int8 = dir.appendingPathComponent("int8.safetensors")
        let q = try HRNetCLI.run(["quantize"] + model + ["--calib", photo, "--out", int8.path])
        XCTAssertEqual(q.status, 0, q.stderr)
        let run8 = try HRNetCLI.run(["run", "--config", config.path, "--weights", int8.path, "--precision", "int8",
                                     "--input", Fixtures.url("poseresnet/input.npy").path, "--output", dir.appendingPathComponent("h.npy").path])
        XCTAssertEqual(run8.status, 0, run8.stderr)
        XCTAssertEqual(try NPY.read(dir.appendingPathComponent("h.npy")).shape, [2, 5, 24, 16])

        for extra in [[], ["--train", "--batch", "2"]] {
            let b = try HRNetCLI.run(["bench", "--config", config.path, "--threads", "2", "--runs", "1", "--warmup", "0", "--json"] + extra)
            XCTAssertEqual(b.status, 0, b.stderr)
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any], b.stdout)
        }
        let info = try HRNetCLI.run(["info", "--preset", "pose_resnet_50_256x192"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("(33999697)") && info.stdout.contains("ResNet-50") && info.stdout.contains("B, G, R"), info.stdout)
    }

    /// A checkpoint of another network is refused by name; a NUM_LAYERS the official code lacks names the key.
    func testBadStartingWeightsAndConfigs() throws {
        let r = try HRNetCLI.run(["train", "--config", config.path, "--data", data.path, "--out", dir.appendingPathComponent("x").path,
                                  "--weights", Fixtures.url("hrnet/tiny_pose.safetensors").path, "--epochs", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("tiny_pose.safetensors"), r.stderr)
        let bad = dir.appendingPathComponent("bad.yaml")
        try String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: "NUM_LAYERS: 18", with: "NUM_LAYERS: 26")
            .write(to: bad, atomically: true, encoding: .utf8)
        let info = try HRNetCLI.run(["info", "--config", bad.path])
        XCTAssertNotEqual(info.status, 0)
        XCTAssertTrue(info.stderr.contains("bad.yaml") && info.stderr.contains("MODEL.EXTRA.NUM_LAYERS"), info.stderr)
    }

    func keypointsFile() throws -> String {
        let url = dir.appendingPathComponent("kp.yaml")
        try "keypoints: [a, b_left, b_right, c_left, c_right]\nflip_pairs: [[b_left, b_right], [c_left, c_right]]\n"
            .write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}
