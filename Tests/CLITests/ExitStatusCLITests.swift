import XCTest
import TestSupport
import DNN

/// How `hrnet` fails: a usage error prints the usage (64); an input that cannot be used prints one
/// line naming it, without the usage (65); an output that cannot be written (74).
final class ExitStatusCLITests: XCTestCase {
    func testStatusAndMessageByKind() throws {
        let usage = try HRNetCLI.run(["run", "--bogus"])
        XCTAssertEqual(usage.status, 64)
        XCTAssertTrue(usage.stderr.contains("Usage: hrnet run"), usage.stderr)

        let missing = try HRNetCLI.run(["run", "--config", "/nonexistent/w32.yaml", "--random-weights", "--random-input", "1", "--output", "/tmp/x.npy"])
        XCTAssertEqual(missing.status, 65)
        let lines = missing.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("w32.yaml") && !missing.stderr.contains("Usage"), missing.stderr)

        if FileManager.default.fileExists(atPath: "/dev/null") {
            let device = try HRNetCLI.run(["run", "--preset", "pose_w18_small_v1_256x192", "--random-weights", "--random-input", "1",
                                           "--output", "/dev/null", "--force"])
            XCTAssertEqual(device.status, 74, device.stderr)
            XCTAssertTrue(device.stderr.contains("/dev/null: cannot be written: it is a device"), device.stderr)
        }
    }
}

/// Help is no error: `--help` on the tool and on a command, and `hrnet help COMMAND`, print the
/// help on stdout and exit 0 (they printed the parser's internal error and exit 65).
final class HelpCLITests: XCTestCase {
    func testHelpExitsCleanly() throws {
        for (arguments, heading) in [(["--help"], "SUBCOMMANDS:"), (["pose", "--help"], "--whole-image"), (["help", "train"], "--resume"),
                                     (["train", "-h"], "--checkpoint-every")] {
            let r = try HRNetCLI.run(arguments)
            XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("USAGE:") && r.stdout.contains(heading), "\(arguments): \(r.stdout)")
            XCTAssertFalse(r.stderr.contains("Error"), r.stderr)
        }
    }

    /// The discussions are wrapped once, by the parser: a source line break inside a paragraph
    /// left a short ragged line after each long one ("...or a\nquoted\nglob").
    func testHelpIsWrappedOnce() throws {
        for command in ["pose", "eval", "detect", "synth", "demo", "run", "train", "classify", "quantize"] {
            let text = try HRNetCLI.run([command, "--help"]).stdout
            let lines = text.components(separatedBy: "USAGE:")[0].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for k in 1..<max(1, lines.count - 1) where lines[k - 1].count > 60 && !lines[k].isEmpty && !lines[k + 1].isEmpty
                && lines[k].count < 25 && !lines[k].hasPrefix(" ") && !lines[k].hasPrefix("-") {
                XCTFail("\(command) --help: '\(lines[k])' after '\(lines[k - 1])'")
            }
        }
    }
}

/// Weights with a NaN or an infinity are refused, naming the tensor (they ran silently to
/// keypoints off the image).
final class NonFiniteWeightsCLITests: XCTestCase {
    func testNaNWeightsAreRefusedByName() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-nan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for bad in [Float.nan, Float.infinity] {
            var weights = try Checkpoint.loadFloat(Fixtures.url("hrnet/tiny_pose.safetensors"))
            weights["final_layer.weight"]!.scalars[3] = bad
            let file = dir.appendingPathComponent("bad.safetensors")
            try SafeTensors.write(weights, to: file)
            let r = try HRNetCLI.run(["run", "--config", Fixtures.url("hrnet/tiny_pose.yaml").path, "--weights", file.path,
                                      "--input", Fixtures.url("hrnet/tiny_pose_input.npy").path, "--output", dir.appendingPathComponent("o.npy").path])
            XCTAssertEqual(r.status, 65)
            XCTAssertTrue(r.stderr.contains("final_layer.weight holds \(bad) at element 3"), r.stderr)
        }
    }
}

/// Hours of evaluation are not lost to a final write that fails: the results go to the
/// temporary folder and the error says where (exit 74).
final class KeptResultsCLITests: XCTestCase {
    func testResultsAreKeptWhenTheirFileCannotBeWritten() throws {
        let photo = Fixtures.url("detection/person_scene.jpg").path
        let r = try HRNetCLI.run(["pose", photo, "--box", "100,35,50,100", "--threads", "2", "--out-json", "/nonexistent-folder-\(UUID().uuidString)/r.json"])
        XCTAssertEqual(r.status, 74, r.stderr)
        let line = try XCTUnwrap(r.stderr.split(separator: "\n").first { $0.contains("the results are kept in ") }, r.stderr)
        let kept = String(try XCTUnwrap(line.components(separatedBy: "the results are kept in ").last))
        defer { try? FileManager.default.removeItem(atPath: kept) }
        let results = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: kept))) as? [[String: Any]])
        XCTAssertEqual(results.count, 1)
    }
}

/// One bad image in a folder: stops the run (naming it), or with --skip-bad is reported and skipped.
final class SkipBadCLITests: XCTestCase {
    func testSkipBadReportsAndGoesOn() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-skip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Fixtures.url("detection/person_scene.jpg"), to: dir.appendingPathComponent("a.jpg"))
        try FileManager.default.copyItem(at: Fixtures.url("imaging/garbage.jpg"), to: dir.appendingPathComponent("b.jpg"))
        let out = dir.appendingPathComponent("r.json")
        let strict = try HRNetCLI.run(["pose", dir.path, "--whole-image", "--threads", "2", "--out-json", out.path])
        XCTAssertEqual(strict.status, 65)
        XCTAssertTrue(strict.stderr.contains("b.jpg"), strict.stderr)
        let lenient = try HRNetCLI.run(["pose", dir.path, "--whole-image", "--threads", "2", "--skip-bad", "--out-json", out.path])
        XCTAssertEqual(lenient.status, 0, lenient.stderr)
        XCTAssertTrue(lenient.stderr.contains("skipped 1 of 2 images") && lenient.stderr.contains("b.jpg"), lenient.stderr)
        let results = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [[String: Any]])
        XCTAssertEqual(results.count, 1)
        XCTAssertEqual(results[0]["file_name"] as? String, "a.jpg")

        // segment and classify the same way (tiny random models: only the reading is under test).
        let seg = ["segment", "--config", Fixtures.url("hrnet/tiny_seg.yaml").path, "--random-weights", "--threads", "2", dir.path]
        let segStrict = try HRNetCLI.run(seg)
        XCTAssertEqual(segStrict.status, 65, segStrict.stderr)
        XCTAssertTrue(segStrict.stderr.contains("b.jpg"), segStrict.stderr)
        let segLenient = try HRNetCLI.run(seg + ["--skip-bad"])
        XCTAssertEqual(segLenient.status, 0, segLenient.stderr)
        XCTAssertTrue(segLenient.stderr.contains("skipped 1 of 2 images") && segLenient.stdout.contains("a.jpg:"), segLenient.stderr + segLenient.stdout)
        XCTAssertFalse(segLenient.stdout.contains("b.jpg:"), segLenient.stdout)
        let cls = ["classify", "--config", Fixtures.url("classify/tiny_cls.yaml").path, "--random-weights", "--threads", "2", "--top", "1", dir.path]
        XCTAssertEqual(try HRNetCLI.run(cls).status, 65)
        let clsLenient = try HRNetCLI.run(cls + ["--skip-bad"])
        XCTAssertEqual(clsLenient.status, 0, clsLenient.stderr)
        XCTAssertTrue(clsLenient.stderr.contains("skipped 1 of 2 images") && clsLenient.stdout.contains("a.jpg:"), clsLenient.stderr + clsLenient.stdout)
        XCTAssertFalse(clsLenient.stdout.contains("b.jpg:"), clsLenient.stdout)
    }
}

