import XCTest
import Classification
import DNN
import TestSupport

/// `hrnet run` and `hrnet info` with classification models.
final class ClassificationCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-cls-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func fixture(_ name: String) -> String { Fixtures.url("classify/\(name)").path }
    func temp(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The full-size W18-small v1 preset with timm's keyed weights written to a .safetensors: the
    /// logits match timm's to 1e-4 (see ClsHRNetTests) and --top 5 prints timm's ranking with
    /// ImageNet names.
    func testRunPresetWithTopFive() throws {
        let keys = keyList(try String(contentsOfFile: fixture("keys/cls_w18_small_v1_keys.txt"), encoding: .utf8))
        var tensors: [String: Tensor] = [:]
        for (key, shape) in keys { tensors[key] = keyedTensor(key, shape) }
        let weights = temp("hrnet_w18_small.safetensors")
        try SafeTensors.write(tensors, to: URL(fileURLWithPath: weights))
        let out = temp("logits.npy")
        let r = try HRNetCLI.run(["run", "--preset", "cls_w18_small_v1", "--weights", weights, "--input", fixture("w18_small_input.npy"),
                                  "--output", out, "--top", "5", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let y = try NPY.read(URL(fileURLWithPath: out))
        XCTAssertEqual(y.shape, [2, 1000, 1, 1])
        let golden = try NPY.read(Fixtures.url("classify/w18_small_logits.npy"))
        XCTAssertLessThanOrEqual(zip(y.scalars, golden.scalars).map { abs($0 - $1) }.max()!, 1e-4)
        // The printed ranking is timm's: the k-th printed class has timm's k-th largest logit, to
        // twice the tolerance (image 1's top two differ by only 5e-5, so either order is right).
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("image ") }
        XCTAssertEqual(lines.count, 2, r.stdout)
        for (n, line) in lines.enumerated() {
            let row = Array(golden.scalars[(n * 1000)..<((n + 1) * 1000)])
            let sorted = row.sorted(by: >)
            let ranked = line.split(separator: ":")[1].split(separator: ",")
            XCTAssertEqual(ranked.count, 5, String(line))
            for (k, entry) in ranked.enumerated() {
                let words = entry.split(separator: " ")
                let index = try XCTUnwrap(Int(words[0]), String(line))
                XCTAssertEqual(row[index], sorted[k], accuracy: 2e-4, "\(line): rank \(k)")
                XCTAssertEqual(words.dropFirst().dropLast().joined(separator: " "), ClassLabels.imageNet.names[index])
                let probability = try XCTUnwrap(Float(words.last!))
                XCTAssertEqual(probability, Scores.softmax(row)[index], accuracy: 1e-4)
            }
        }
    }

    func testClassificationErrorsAndInfo() throws {
        let labels = temp("three.txt")
        try Data("a\nb\nc\n".utf8).write(to: URL(fileURLWithPath: labels))
        let common = ["run", "--random-weights", "--input", fixture("w18_small_input.npy"), "--output", temp("y.npy")]
        for (args, needle) in [
            (common + ["--preset", "cls_w18_small_v1", "--top", "5", "--labels", labels], "three.txt has 3 class names but the classifier has 1000 outputs"),
            (common + ["--preset", "cls_w18_small_v1", "--top", "5", "--labels", temp("none.txt")], "none.txt: no such file"),
            (common + ["--preset", "pose_w32_256x192", "--top", "5"], "--top needs a classification model"),
            (common + ["--preset", "cls_w18_small_v1", "--top", "0"], "--top must be at least 1"),
        ] {
            let r = try HRNetCLI.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(needle), "stderr '\(r.stderr)' lacks '\(needle)'")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("y.npy")), "no output after an error")

        let info = try HRNetCLI.run(["info", "--preset", "cls_w48"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("classification, 1000 classes"), info.stdout)
        XCTAssertTrue(info.stdout.contains("(77469864)"), info.stdout)
        let list = try HRNetCLI.run(["info", "--list-presets"])
        for name in ["cls_w18_small_v1", "cls_w18_small_v2", "cls_w64", "cls_w18_ssld"] { XCTAssertTrue(list.stdout.contains(name), name) }
    }
}
