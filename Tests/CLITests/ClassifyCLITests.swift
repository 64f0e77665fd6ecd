import XCTest
import Classification
import DNN
import HRNet
import TestSupport

/// `hrnet synth-cls`, `train` (classification), `classify` and `eval-cls` as a user runs them,
/// on the synthetic shapes and the tiny shapes config.
final class ClassifyCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-classify-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func temp(_ name: String) -> String { dir.appendingPathComponent(name).path }
    var yaml: String { Fixtures.url("classify/shapes_tiny.yaml").path }

    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CommandResult {
        let r = try HRNetCLI.run(args, timeout: 300)
        XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)", file: file, line: line)
        return r
    }

    func fails(_ args: [String], _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try HRNetCLI.run(args)
        XCTAssertNotEqual(r.status, 0, "\(args)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(words), "stderr '\(r.stderr)' lacks '\(words)'", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
    }

    /// synth-cls -> train 2 epochs -> classify --json and eval-cls on the val folder. eval-cls's
    /// top-1 must equal the share of classify's first guesses that name the image's folder (same
    /// pre-processing and weights, computed independently by the two commands).
    func testTrainClassifyEvaluate() throws {
        let data = temp("shapes"), out = temp("run")
        _ = try run(["synth-cls", "--out", data, "--classes", "3", "--images", "4", "--val", "3", "--size", "40", "--seed", "2"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: data + "/train").sorted(), ["circle", "square", "triangle"])
        try fails(["synth-cls", "--out", data, "--classes", "3"], "not empty")

        let trained = try run(["train", "--config", yaml, "--data", data, "--out", out, "--epochs", "2", "--batch", "4", "--threads", "2"])
        XCTAssertTrue(trained.stdout.contains("trained to epoch 2"), trained.stdout)
        let csv = try String(contentsOfFile: out + "/log.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "epoch,loss,lr,images_per_s,seconds,top1,top5,best_top1")
        XCTAssertEqual(csv.count, 3, "\(csv)")
        let top1 = csv.dropFirst().map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[5]) }
        XCTAssertTrue(top1.allSatisfy { $0 != nil && (0...1).contains($0!) }, "\(csv)")
        XCTAssertEqual(try String(contentsOfFile: out + "/classes.txt", encoding: .utf8), "circle\nsquare\ntriangle\n")
        for file in ["final.safetensors", "best.safetensors", "checkpoint.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }

        // The same run through the library alone (trainer + EpochRunner, no CLI): the same weights
        // and the same log metrics (seeded data order, augmentation and initial weights).
        let library = URL(fileURLWithPath: temp("library"), isDirectory: true)
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        let model = try HRNetConfig.load(URL(fileURLWithPath: yaml))
        var training = try TrainingConfig.load(URL(fileURLWithPath: yaml))
        (training.endEpoch, training.batchSize) = (2, 4)
        let train = try ImageFolder(root: URL(fileURLWithPath: data + "/train")), val = try ImageFolder(root: URL(fileURLWithPath: data + "/val"))
        let trainer = try ClassificationTrainer(config: model, training: training, data: train,
                                                parameters: HRNetModel(config: model).initialParameters(seed: 0), threads: 2, seed: 0)
        let runner = EpochRunner(folder: library, metrics: ["top1", "top5"], endEpoch: 2, evalEvery: 1)
        let outcome = try runner.run(trainer) { _ in
            let a = try trainer.evaluate(val, batchSize: 32, threads: 2)
            return [a.top1, a.top5]
        }
        guard case .finished = outcome else { return XCTFail("\(outcome)") }
        let fromCLI = try Checkpoint.loadFloat(URL(fileURLWithPath: out + "/final.safetensors"))
        let fromLibrary = try Checkpoint.loadFloat(library.appendingPathComponent("final.safetensors"))
        XCTAssertEqual(Set(fromCLI.keys), Set(fromLibrary.keys))
        for (key, t) in fromCLI { XCTAssertEqual(fromLibrary[key], t, key) }
        func metricColumns(_ csv: String) -> [String] {
            csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }.map { [$0[0], $0[1], $0[5], $0[6]].joined(separator: ",") }
        }
        XCTAssertEqual(metricColumns(try String(contentsOf: library.appendingPathComponent("log.csv"), encoding: .utf8)),
                       metricColumns(try String(contentsOfFile: out + "/log.csv", encoding: .utf8)))

        let weights = ["--config", yaml, "--weights", out + "/final.safetensors"]
        let classified = try run(["classify"] + weights + ["--labels", out + "/classes.txt", data + "/val/*/*.png", "--json", "--top", "2"])
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(classified.stdout.utf8)) as? [[String: Any]], classified.stdout)
        XCTAssertEqual(list.count, 9)
        var correct = 0
        for entry in list {
            let file = try XCTUnwrap(entry["file"] as? String)
            let top = try XCTUnwrap(entry["top"] as? [[String: Any]])
            XCTAssertEqual(top.count, 2)
            let probabilities = top.compactMap { ($0["probability"] as? NSNumber)?.doubleValue }
            XCTAssertGreaterThanOrEqual(probabilities[0], probabilities[1])
            let truth = URL(fileURLWithPath: file).deletingLastPathComponent().lastPathComponent
            if top[0]["label"] as? String == truth { correct += 1 }
        }
        let evaluated = try run(["eval-cls"] + weights + ["--data", data, "--json"])
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any], evaluated.stdout)
        XCTAssertEqual(result["images"] as? Int, 9)
        XCTAssertEqual((result["top1"] as? NSNumber)?.doubleValue ?? -1, Double(correct) / 9, accuracy: 1e-9)
        XCTAssertEqual((result["top5"] as? NSNumber)?.doubleValue, 1, "3 classes: always in the top 5")

        // Text output: one line per image with class names.
        let text = try run(["classify"] + weights + ["--labels", out + "/classes.txt", data + "/val/circle"])
        XCTAssertEqual(text.stdout.split(separator: "\n").count, 3, text.stdout)
        XCTAssertTrue(text.stdout.contains("circle_00000.png: "), text.stdout)

        // Fine-tuning these weights on a 2-class set: the head must be reset, and is with --reset-head.
        let two = temp("two"), twoYAML = temp("two.yaml")
        _ = try run(["synth-cls", "--out", two, "--classes", "2", "--images", "4", "--val", "2", "--size", "40"])
        try String(contentsOfFile: yaml, encoding: .utf8).replacingOccurrences(of: "NUM_CLASSES: 3", with: "NUM_CLASSES: 2")
            .write(toFile: twoYAML, atomically: true, encoding: .utf8)
        let fine = ["train", "--config", twoYAML, "--data", two, "--epochs", "1", "--batch", "4", "--weights", out + "/final.safetensors"]
        try fails(fine + ["--out", temp("fine1")], "pass --reset-head")
        let reset = try run(fine + ["--out", temp("fine2"), "--reset-head"])
        XCTAssertTrue(reset.stderr.contains("--reset-head: classifier.weight and classifier.bias start from initial values"), reset.stderr)
        try fails(["train", "--config", yaml, "--data", two, "--out", temp("fine3"), "--epochs", "1"], "has 2 class folders but")
    }

    /// Bad folders and labels are clear errors naming what is wrong.
    func testBadInputs() throws {
        let data = temp("bad")
        _ = try run(["synth-cls", "--out", data, "--classes", "3", "--images", "2", "--val", "2", "--size", "32"])
        let model = ["--config", yaml, "--random-weights"]

        // A labels file of the wrong length.
        let labels = temp("two.txt")
        try "a\nb\n".write(toFile: labels, atomically: true, encoding: .utf8)
        try fails(["classify"] + model + ["--labels", labels, data + "/val/circle"], "two.txt has 2 class names but the classifier has 3 outputs")
        try fails(["eval-cls"] + model + ["--labels", labels, "--data", data], "two.txt has 2 class names but the classifier has 3 outputs")

        // A non-image among the images.
        let note = data + "/val/square/notes.txt"
        try "not a picture".write(toFile: note, atomically: true, encoding: .utf8)
        try fails(["eval-cls"] + model + ["--data", data], "notes.txt: not an image")
        try fails(["classify"] + model + [note], "notes.txt: cannot be read as an image")
        try FileManager.default.removeItem(atPath: note)
        // A broken image (named).
        try Data("\u{FF}\u{D8}garbage".utf8).write(to: URL(fileURLWithPath: data + "/val/square/broken.png"))
        try fails(["eval-cls"] + model + ["--data", data], "broken.png")
        try FileManager.default.removeItem(atPath: data + "/val/square/broken.png")

        // An empty class folder.
        try FileManager.default.createDirectory(atPath: data + "/val/zigzag", withIntermediateDirectories: true)
        try fails(["eval-cls"] + model + ["--data", data], "the class folder 'zigzag' has no images")
        // Four class folders for a 3-class model (names that no labels file maps).
        try FileManager.default.copyItem(atPath: data + "/val/circle/circle_00000.png", toPath: data + "/val/zigzag/z.png")
        try fails(["eval-cls"] + model + ["--data", data], "has 4 class folders but the model has 3 classes")
        // With labels naming the folders, a subset of the classes is fine: folders map by name.
        try FileManager.default.removeItem(atPath: data + "/val/zigzag")
        try FileManager.default.removeItem(atPath: data + "/val/square")
        let names = temp("names.txt")
        try "triangle\ncircle\nsquare\n".write(toFile: names, atomically: true, encoding: .utf8)
        let subset = try run(["eval-cls"] + model + ["--labels", names, "--data", data, "--json"])
        XCTAssertTrue(subset.stdout.contains("\"images\":4"), subset.stdout)

        // Not a data set, not a classifier.
        try fails(["eval-cls"] + model + ["--data", temp("nothing")], "no such directory")
        try fails(["classify", "--preset", "pose_w32_256x192", "--random-weights", data + "/val/circle"], "is not a classifier")
    }
}
