import XCTest
import TestSupport

/// `mpirun -np N hrnet eval | eval-seg | eval-cls`: each process takes its share of the data set
/// and the first gathers; the numbers equal one process's exactly (AP and its results file,
/// the confusion matrix, top-1/top-5 counts).
final class MPIEvalCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        guard HRNetCLI.mpirunPath != nil else { throw XCTSkip("Open MPI's mpirun is not installed (make deps installs it)") }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-mpi-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func one(_ arguments: [String]) throws -> CommandResult {
        let r = try HRNetCLI.run(arguments, timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r
    }

    func processes(_ n: Int, _ arguments: [String]) throws -> CommandResult {
        let r = try HRNetCLI.mpirun(processes: n, arguments)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        return r
    }

    /// The default model on `hrnet synth` people (AP well above 0, so the gathered people matter).
    func testPoseAPAndResultsEqualOneProcess() throws {
        _ = try one(["synth", "--out", path("synth"), "--images", "12", "--val-fraction", "0.5", "--size", "160x120", "--seed", "4"])
        let eval = ["eval", "--data", path("synth"), "--split", "val", "--json", "--force"]
        let a = try one(eval + ["--threads", "2", "--out-json", path("one.json")])
        for n in [2, 3] {
            let b = try processes(n, eval + ["--threads", "1", "--out-json", path("n\(n).json")])
            XCTAssertEqual(a.stdout, b.stdout, "\(n) processes: the same COCOeval numbers to the last digit")
            XCTAssertEqual(try String(contentsOfFile: path("one.json"), encoding: .utf8), try String(contentsOfFile: path("n\(n).json"), encoding: .utf8),
                           "\(n) processes: the same people in the same order")
        }
        let ap = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as? [String: Any])?["stats"] as? [Double]).first
        XCTAssertGreaterThan(try XCTUnwrap(ap), 0.3, a.stdout)
    }

    func testSegmentationMatrixEqualsOneProcess() throws {
        _ = try one(["synth-seg", "--out", path("seg"), "--train", "2", "--val", "5", "--classes", "4", "--size", "64x48", "--seed", "5"])
        let model = ["--config", Fixtures.url("hrnet/tiny_seg.yaml").path, "--weights", Fixtures.url("hrnet/tiny_seg.safetensors").path]
        let eval = ["eval-seg"] + model + ["--data", path("seg"), "--force"]
        _ = try one(eval + ["--threads", "1", "--json", path("one.json")])
        _ = try processes(2, eval + ["--threads", "1", "--json", path("two.json")])
        let a = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("one.json")))) as? [String: Any])
        let b = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("two.json")))) as? [String: Any])
        XCTAssertEqual(a["confusion"] as? [[Int]], b["confusion"] as? [[Int]])
        XCTAssertEqual(a["mean_iou"] as? Double, b["mean_iou"] as? Double)
        XCTAssertEqual(b["images"] as? Int, 5)
    }

    func testClassificationCountsEqualOneProcess() throws {
        let data = path("shapes"), out = path("run")
        _ = try one(["synth-cls", "--out", data, "--classes", "3", "--images", "4", "--val", "7", "--size", "40", "--seed", "2"])
        _ = try one(["train", "--config", Fixtures.url("classify/shapes_tiny.yaml").path, "--data", data, "--out", out, "--epochs", "1",
                     "--batch", "4", "--threads", "2", "--eval-every", "0"])
        let eval = ["eval-cls", "--config", Fixtures.url("classify/shapes_tiny.yaml").path, "--weights", out + "/final.safetensors",
                    "--data", data, "--split", "val", "--batch", "4", "--json"]
        let a = try one(eval + ["--threads", "1"])
        let b = try processes(2, eval + ["--threads", "1"])
        func counts(_ r: CommandResult) throws -> [Double] {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return [o["images"], o["top1"], o["top5"]].map { ($0 as? Double) ?? Double(($0 as? Int) ?? -1) }
        }
        XCTAssertEqual(try counts(a), try counts(b))
        XCTAssertEqual(try counts(b).first, 21, "3 classes x 7 images, each once")
    }
}
