import XCTest
import TestSupport

/// `hrnet bench --train` runs real training steps on the tiny pose and segmentation configs
/// and reports the documented JSON keys.
final class BenchTrainCLITests: XCTestCase {
    func testBenchTrainJSON() throws {
        for config in ["hrnet/tiny_pose.yaml", "hrnet/tiny_seg.yaml"] {
            let r = try HRNetCLI.run(["bench", "--train", "--config", Fixtures.url(config).path, "--batch", "2",
                                      "--threads", "2", "--runs", "1", "--warmup", "0", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            XCTAssertEqual(object?["mode"] as? String, "train", r.stdout)
            for key in ["images_per_s", "peak_rss_mb", "median_ms", "arena_mb"] {
                let v = (object?[key] as? NSNumber)?.doubleValue ?? -1
                XCTAssertGreaterThan(v, 0, "\(config): \(key) in \(r.stdout)")
            }
        }
    }
}
