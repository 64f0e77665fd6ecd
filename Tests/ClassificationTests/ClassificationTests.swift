import Foundation
import XCTest
import Classification
import HRNet
import TestSupport

final class ClassificationTests: XCTestCase {
    func testImageNetLabels() {
        let l = ClassLabels.imageNet
        XCTAssertEqual(l.count, 1000)
        XCTAssertEqual(Set(l.names).count, 1000)
        XCTAssertEqual(l.names[0], "tench")
        XCTAssertEqual(l.names[1], "goldfish")
        XCTAssertEqual(l.names[999], "toilet tissue")
        XCTAssertEqual(ClassLabels.imageNetWordNetIDs.count, 1000)
        XCTAssertEqual(ClassLabels.imageNetWordNetIDs[0], "n01440764")
        XCTAssertNoThrow(try l.check(classes: 1000))
    }

    /// Softmax against values worked out by hand; exact to float rounding (1e-7), stable for huge logits.
    func testSoftmaxAndTop() throws {
        let p = Scores.softmax([Float(0), 0, Float(log(2.0))])
        XCTAssertEqual(p[0], 0.25, accuracy: 1e-7)
        XCTAssertEqual(p[2], 0.5, accuracy: 1e-7)
        let big = Scores.softmax([Float(1000), 1000])
        XCTAssertEqual(big, [0.5, 0.5])
        XCTAssertEqual(Scores.topIndices([1, 3, 2, 3, .nan, -1] as [Float], k: 4), [1, 3, 2, 0])
        XCTAssertEqual(Scores.topIndices([1, 2] as [Float], k: 5), [1, 0])

        let logits = Tensor(shape: [2, 3, 1, 1], scalars: [0, 0, Float(log(2.0)), 5, 1, 2])
        let labels = ClassLabels(names: ["a", "b", "c"], source: "test")
        let top = try Scores.top(logits, k: 2, labels: labels)
        XCTAssertEqual(top[0].map(\.index), [2, 0])
        XCTAssertEqual(top[0].map(\.label), ["c", "a"])
        XCTAssertEqual(top[0][0].probability, 0.5, accuracy: 1e-7)
        XCTAssertEqual(top[1].map(\.label), ["a", "c"])
        XCTAssertThrowsError(try Scores.top(Tensor(zeros: [2, 3, 2, 2]), k: 1)) { XCTAssertTrue("\($0)".contains("(N, C)"), "\($0)") }
        XCTAssertThrowsError(try Scores.top(logits, k: 1, labels: ClassLabels(names: ["a"], source: "one.txt"))) {
            XCTAssertEqual("\($0)", "one.txt has 1 class names but the classifier has 3 outputs")
        }
    }

    func write(_ text: String, _ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("labels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func testLabelsFile() throws {
        let ok = try ClassLabels(contentsOf: try write("cat\r\n dog \nbird\n\n", "animals.txt"))
        XCTAssertEqual(ok.names, ["cat", "dog", "bird"])
        XCTAssertEqual(ok.source, "animals.txt")
        XCTAssertThrowsError(try ok.check(classes: 1000)) {
            XCTAssertEqual("\($0)", "animals.txt has 3 class names but the classifier has 1000 outputs")
        }
        let cases: [(String, String)] = [("", "no class names"), ("\n\n", "no class names"), ("a\n\nb\n", "line 2 is empty")]
        for (text, needle) in cases {
            XCTAssertThrowsError(try ClassLabels(contentsOf: try write(text, "bad.txt"))) {
                XCTAssertTrue("\($0)".contains("bad.txt") && "\($0)".contains(needle), "\($0)")
            }
        }
        let latin1 = FileManager.default.temporaryDirectory.appendingPathComponent("latin1-\(UUID().uuidString).txt")
        try Data([0x63, 0x61, 0x66, 0xE9, 0x0A]).write(to: latin1)
        XCTAssertThrowsError(try ClassLabels(contentsOf: latin1)) { XCTAssertTrue("\($0)".contains("not UTF-8"), "\($0)") }
        XCTAssertThrowsError(try ClassLabels(contentsOf: URL(fileURLWithPath: "/nonexistent/labels.txt"))) {
            XCTAssertEqual("\($0)", "labels.txt: no such file")
        }
    }

    /// The classifier on the tiny timm model (Tests/Fixtures/classify): its logits match timm's
    /// to 1e-4 (see ClsHRNetTests), and its ranking is the ranking of those logits.
    func testClassifierOnTinyModel() throws {
        var config = try HRNetConfig.load(Fixtures.url("classify/tiny_cls.yaml"))
        config.architecture.head = .classification(ClassifierSpec(classes: 10, increPlanes: [2, 3, 4, 5], features: 24))
        let names = (0..<10).map { "class \($0)" }
        let classifier = try Classifier(config: config, weights: Fixtures.url("classify/tiny_cls.safetensors"),
                                        labels: ClassLabels(names: names, source: "ten.txt"), threads: 2)
        let x = try NPY.read(Fixtures.url("classify/tiny_cls_input.npy"))
        let expected = try NPY.read(Fixtures.url("classify/tiny_cls_logits.npy"))
        let logits = try classifier.logits(x)
        XCTAssertEqual(logits.shape, [2, 10])
        XCTAssertLessThanOrEqual(logits.maxAbsDifference(expected), 1e-4)
        let top = try classifier.classify(x, top: 3)
        for (n, row) in top.enumerated() {
            let e = Array(expected.scalars[(n * 10)..<((n + 1) * 10)])
            XCTAssertEqual(row.map(\.index), Scores.topIndices(e, k: 3))
            XCTAssertEqual(row[0].label, names[row[0].index])
            XCTAssertGreaterThan(row[0].probability, row[1].probability)
        }
        // Wrong label count, and a model that is not a classifier: clear errors.
        XCTAssertThrowsError(try Classifier(config: config, weights: Fixtures.url("classify/tiny_cls.safetensors"),
                                            labels: .imageNet)) {
            XCTAssertEqual("\($0)", "ImageNet-1k has 1000 class names but the classifier has 10 outputs")
        }
        XCTAssertThrowsError(try Classifier(config: try Presets.config(named: "pose_w32_256x192"), parameters: [:])) {
            XCTAssertTrue("\($0)".contains("not a classifier"), "\($0)")
        }
        // A 1000-class model gets the ImageNet names by default, others none.
        XCTAssertNil(try classifierWithRandomWeights(config).labels)
        config.architecture.head = .classification(ClassifierSpec(classes: 1000, increPlanes: [2, 3, 4, 5], features: 24))
        XCTAssertEqual(try classifierWithRandomWeights(config).labels, .imageNet)
    }

    func classifierWithRandomWeights(_ config: HRNetConfig) throws -> Classifier {
        try Classifier(config: config, parameters: HRNetModel(config: config).graph.randomParameters())
    }
}
