import XCTest
import DNN
import TestSupport

/// `hrnet quantize` and `--precision int8` as a user runs them.
final class QuantizeCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-quantize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func fixture(_ name: String) -> String { Fixtures.url(name).path }
    func temp(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A calibration folder: three photos and one file that is not an image.
    func calibrationFolder() throws -> String {
        let folder = dir.appendingPathComponent("calib")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["baseline.jpg", "gray.jpg", "odd_422.jpg", "garbage.jpg"] {
            try FileManager.default.copyItem(at: Fixtures.url("imaging/\(name)"), to: folder.appendingPathComponent(name))
        }
        return folder.path
    }

    func testQuantizeThenRunInt8() throws {
        let out = temp("tiny.int8.safetensors")
        let q = try HRNetCLI.run(["quantize", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("hrnet/tiny_pose.safetensors"),
                                  "--calib", try calibrationFolder(), "--out", out, "--threads", "2"])
        XCTAssertEqual(q.status, 0, q.stderr)
        XCTAssertTrue(q.stdout.contains("on 3 images (1 unreadable skipped)"), q.stdout)
        XCTAssertTrue(q.stderr.contains("garbage.jpg"), q.stderr)
        let table = try XCTUnwrap(try QuantizationTable.load(safetensors: URL(fileURLWithPath: out)))
        XCTAssertEqual(table.images, 3)

        // The int8 heatmaps have the fp32 shape and differ from fp32 by rounding, not by garbage
        // (the bound is the library test's: random fixture weights amplify rounding, see Int8HRNetTests).
        let y = temp("y.npy")
        let r = try HRNetCLI.run(["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", out, "--precision", "int8",
                                  "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", y, "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try NPY.read(URL(fileURLWithPath: y)), golden = try NPY.read(Fixtures.url("hrnet/tiny_pose_output.npy"))
        XCTAssertEqual(got.shape, golden.shape)
        let range = golden.scalars.map(abs).max()!
        XCTAssertLessThanOrEqual(got.maxAbsDifference(golden), 0.5 * range)
        XCTAssertGreaterThan(got.maxAbsDifference(golden), 0)

        // The output is an ordinary checkpoint: fp32 runs from it give the golden heatmaps.
        let y32 = temp("y32.npy")
        XCTAssertEqual(try HRNetCLI.run(["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", out,
                                         "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", y32]).status, 0)
        XCTAssertLessThanOrEqual(try NPY.read(URL(fileURLWithPath: y32)).maxAbsDifference(golden), 1e-4)

        // Never overwrite without --force.
        let again = try HRNetCLI.run(["quantize", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("hrnet/tiny_pose.safetensors"),
                                      "--calib", fixture("imaging/baseline.jpg"), "--out", out])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
    }

    func testInt8Errors() throws {
        // No table in the weights.
        var r = try HRNetCLI.run(["run", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("hrnet/tiny_pose.safetensors"),
                                  "--precision", "int8", "--input", fixture("hrnet/tiny_pose_input.npy"), "--output", temp("y.npy")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("hrnet quantize") && r.stderr.contains("has none"), r.stderr)

        // A table calibrated on another model with the same weights (align_corners differs).
        let out = temp("seg.int8.safetensors")
        XCTAssertEqual(try HRNetCLI.run(["quantize", "--config", fixture("hrnet/tiny_seg.yaml"), "--weights", fixture("hrnet/tiny_seg.safetensors"),
                                         "--calib", fixture("imaging/baseline.jpg"), "--out", out]).status, 0)
        r = try HRNetCLI.run(["run", "--config", fixture("hrnet/tiny_seg_ac_false.yaml"), "--weights", out, "--precision", "int8",
                              "--input", fixture("hrnet/tiny_seg_input.npy"), "--output", temp("y.npy")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("seg.int8.safetensors") && r.stderr.contains("another model"), r.stderr)

        // Calibration folders without images, and random weights.
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        r = try HRNetCLI.run(["quantize", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("hrnet/tiny_pose.safetensors"),
                              "--calib", empty.path, "--out", temp("x.safetensors")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("no .jpg"), r.stderr)
        r = try HRNetCLI.run(["quantize", "--config", fixture("hrnet/tiny_pose.yaml"), "--weights", fixture("hrnet/tiny_pose.safetensors"),
                              "--calib", fixture("imaging/garbage.jpg"), "--out", temp("x.safetensors")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("none of the 1 calibration images"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("x.safetensors")))
    }

    /// bench --precision int8 without a table calibrates on random inputs and says so.
    func testBenchInt8CalibratesRandomly() throws {
        let r = try HRNetCLI.run(["bench", "--config", fixture("hrnet/tiny_pose.yaml"), "--precision", "int8", "--runs", "2", "--warmup", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("random inputs"), r.stderr)
        XCTAssertTrue(r.stdout.contains("median"), r.stdout)
    }
}
