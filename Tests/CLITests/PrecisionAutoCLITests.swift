import DNN
import Foundation
import TestSupport
import XCTest

/// `--precision auto`: bf16 where this CPU runs it natively and at least 1.25x fp32 (measured),
/// else fp32; it says which on stderr and the output is that precision's.
final class PrecisionAutoCLITests: XCTestCase {
    func testAutoPicksAndSays() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-auto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ precision: String) throws -> (Tensor, String) {
            let out = dir.appendingPathComponent("\(precision).npy")
            let r = try HRNetCLI.run(["run", "--random-input", "2", "--output", out.path, "--precision", precision, "--threads", "2"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return (try NPY.read(out), r.stderr)
        }
        let (auto, said) = try run("auto")
        XCTAssertTrue(said.contains("precision auto: bf16") || said.contains("precision auto: fp32"), said)
        let chosen = said.contains("precision auto: bf16") ? "bf16" : "fp32"
        if !hasNativeBF16 { XCTAssertEqual(chosen, "fp32", "no native bf16: auto must be fp32") }
        let (same, _) = try run(chosen)
        XCTAssertEqual(auto.scalars, same.scalars, "auto gives the chosen precision's numbers")
        // The measurement agrees with the choice.
        if let speedup = try Arithmetic.bf16Speedup(threads: 2) {
            print("bf16 / fp32 convolution throughput here: \(speedup)")
        }
    }
}
