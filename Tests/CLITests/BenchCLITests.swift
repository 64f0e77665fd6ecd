import XCTest
import TestSupport

/// `hrnet bench` on the tiny pose config: the documented JSON keys, and `--profile`'s table of
/// time per op type, whose convolution FLOPs add up to the model's.
final class BenchCLITests: XCTestCase {
    func testBenchProfileJSON() throws {
        let r = try HRNetCLI.run(["bench", "--config", Fixtures.url("hrnet/tiny_pose.yaml").path, "--threads", "2",
                                  "--runs", "2", "--warmup", "0", "--profile", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        for key in ["gflop", "median_ms", "min_ms", "max_ms", "images_per_s", "gflops", "peak_gflops", "first_call_ms", "peak_rss_mb"] {
            XCTAssertGreaterThan((object[key] as? NSNumber)?.doubleValue ?? -1, 0, "\(key) in \(r.stdout)")
        }
        let rows = try XCTUnwrap(object["profile"] as? [[String: Any]], r.stdout)
        let ops = rows.compactMap { $0["op"] as? String }
        XCTAssertTrue(ops.contains { $0.hasPrefix("convolution 3x3") }, "\(ops)")
        XCTAssertTrue(ops.contains { $0.hasPrefix("resize+add") }, "the fuse layers' upsampling: \(ops)")
        XCTAssertTrue(rows.allSatisfy { (($0["ms"] as? NSNumber)?.doubleValue ?? -1) >= 0 && (($0["steps"] as? NSNumber)?.intValue ?? 0) > 0 })
        // Every FLOP of the model is a convolution's (the tiny pose net has no linear layer); 1e-3 relative for the printing.
        let gflop = rows.compactMap { ($0["gflop"] as? NSNumber)?.doubleValue }.reduce(0, +)
        let model = (object["gflop"] as? NSNumber)?.doubleValue ?? 0
        XCTAssertEqual(gflop, model, accuracy: max(1e-3 * model, 2e-4), r.stdout)
    }

    /// `--steps`: every step in order with its layer (convolutions by checkpoint key), its time and
    /// FLOPs adding up to the per-op table's; without --profile, a usage error.
    func testBenchSteps() throws {
        let r = try HRNetCLI.run(["bench", "--config", Fixtures.url("hrnet/tiny_pose.yaml").path, "--threads", "2",
                                  "--runs", "2", "--warmup", "0", "--profile", "--steps", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let steps = try XCTUnwrap(object["steps"] as? [[String: Any]], r.stdout)
        XCTAssertEqual(steps.compactMap { ($0["step"] as? NSNumber)?.intValue }, Array(0..<steps.count))
        let names = steps.compactMap { $0["name"] as? String }
        XCTAssertEqual(names.count, steps.count)
        XCTAssertTrue(names.contains("convolution final_layer"), "\(names)")
        XCTAssertTrue(names.contains { $0.hasPrefix("convolution stage2.0.branches.1.") }, "\(names)")
        let ops = try XCTUnwrap(object["profile"] as? [[String: Any]], r.stdout)
        func total(_ rows: [[String: Any]], _ key: String) -> Double { rows.compactMap { ($0[key] as? NSNumber)?.doubleValue }.reduce(0, +) }
        XCTAssertEqual(total(steps, "gflop"), total(ops, "gflop"), accuracy: 1e-3 * total(ops, "gflop") + 1e-4)
        XCTAssertEqual(total(steps, "ms"), total(ops, "ms"), accuracy: 0.01 * total(ops, "ms") + 0.01)
        let bad = try HRNetCLI.run(["bench", "--config", Fixtures.url("hrnet/tiny_pose.yaml").path, "--runs", "1", "--steps"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--profile"), bad.stderr)
    }
}
