import Foundation
import XCTest
import HRNet
import TestSupport

/// cls_hrnet against timm's HRNet (Tests/Fixtures/classify/make_classify_fixtures.py; timm's keys
/// and outputs equal the official cls_hrnet.py's). Logits (magnitude <= 2): 1e-4 absolute; measured
/// 3e-6 (tiny) and 3e-7 (W18-small). Stage-4 streams (magnitude <= 15): 2e-4, because timm's fp32
/// streams are themselves up to 3.7e-5 from an fp64 run of the same model and ours ~4e-5 from
/// timm's; two fp32 orders of summation may differ by twice that. Any wrong weight, wiring or key
/// moves these outputs by far more.
final class ClsHRNetTests: XCTestCase {
    let tolerance: Float = 1e-4
    let streamTolerance: Float = 2e-4

    func fixture(_ name: String) -> URL { Fixtures.url("classify/\(name)") }

    /// The tiny model: its stages from the official-format YAML, its head narrowed as the
    /// fixture script narrows timm's (incre planes 2, 3, 4, 5; 24 features).
    func tinyConfig() throws -> HRNetConfig {
        var c = try HRNetConfig.load(fixture("tiny_cls.yaml"))
        XCTAssertEqual(c.task, .classification)
        XCTAssertEqual(c.numClasses, 10)
        XCTAssertEqual(c.imageSize.width, 32)
        XCTAssertEqual(c.imageSize.height, 64)
        c.architecture.head = .classification(ClassifierSpec(classes: 10, increPlanes: [2, 3, 4, 5], features: 24))
        return c
    }

    func assertClose(_ got: Tensor, _ expected: Tensor, _ what: String, tolerance: Float? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        let tolerance = tolerance ?? self.tolerance
        XCTAssertEqual(got.count, expected.count, what, file: file, line: line)
        guard got.count == expected.count else { return }
        let err = zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(err, tolerance, "\(what): max abs error \(err)", file: file, line: line)
    }

    func testTinyLogitsFromSafetensorsAndPth() throws {
        let model = HRNetModel(config: try tinyConfig())
        let x = try NPY.read(fixture("tiny_cls_input.npy"))
        let expected = try NPY.read(fixture("tiny_cls_logits.npy"))
        XCTAssertEqual(expected.shape, [2, 10])
        var outputs: [Tensor] = []
        for file in ["tiny_cls.safetensors", "tiny_cls_zip.pth"] {
            let (parameters, report) = try model.loadWeights(fixture(file))
            XCTAssertEqual(report.matched.count, model.graph.parameters.count, file)
            let plan = try model.compile(parameters: parameters, batch: 2, threads: 2)
            let y = try plan.run(x)[0]
            XCTAssertEqual(y.shape, [2, 10, 1, 1], file)  // the Plan returns linear outputs as (N, C, 1, 1)
            assertClose(y, expected, file)
            outputs.append(y)
        }
        XCTAssertEqual(outputs[0], outputs[1], "both formats give bit-identical weights")
        // Direct convolutions only, and one thread: the same logits within the tolerance.
        let parameters = try model.loadWeights(fixture("tiny_cls.safetensors")).parameters
        assertClose(try model.compile(parameters: parameters, batch: 2, threads: 1, options: .direct).run(x)[0], expected, "direct, 1 thread")
    }

    /// The features API returns timm's four stage-4 streams; a whole-model checkpoint loads into
    /// it (the head's keys are left out, nothing is reported missing or unexpected).
    func testFeatureExtractorStreams() throws {
        let config = try tinyConfig()
        let features = HRNetModel(config: config, output: .features)
        XCTAssertFalse(features.graph.parameters.contains { $0.key.hasPrefix("incre_modules") || $0.key.hasPrefix("classifier") })
        let (_, report) = try features.loadWeights(fixture("tiny_cls_zip.pth"))
        XCTAssertTrue(report.missing.isEmpty && report.unexpected.isEmpty)

        let extractor = try FeatureExtractor(config: config, weights: fixture("tiny_cls.safetensors"), threads: 2)
        let x = try NPY.read(fixture("tiny_cls_input.npy"))
        let streams = try extractor.features(x)
        XCTAssertEqual(streams.map(\.shape), [[2, 2, 16, 8], [2, 4, 8, 4], [2, 6, 4, 2], [2, 8, 2, 1]])
        for (i, s) in streams.enumerated() {
            let expected = try NPY.read(fixture("tiny_cls_stream\(i).npy"))
            XCTAssertEqual(s.shape, expected.shape)
            assertClose(s, expected, "stream \(i)", tolerance: streamTolerance)
        }
        // Another input shape compiles another plan: the first image alone gives its own streams.
        let first = Tensor(shape: [1, 3, 64, 32], scalars: Array(x.scalars[0..<(3 * 64 * 32)]))
        let alone = try extractor.features(first)
        XCTAssertEqual(alone[3].shape, [1, 8, 2, 1])
        assertClose(alone[0], Tensor(shape: [1, 2, 16, 8], scalars: Array(streams[0].scalars[0..<(2 * 16 * 8)])), "batch of one")
        XCTAssertThrowsError(try extractor.features(Tensor(zeros: [3, 64, 32]))) { XCTAssertTrue("\($0)".contains("rank 4"), "\($0)") }
    }

    /// The real timm `hrnet_w18_small` (W18-small v1, 13.2M weights, official head) with weights the
    /// test regenerates from their keys (TestSupport.keyedTensor), on a (2, 3, 32, 32) batch.
    func testFullSizeW18SmallV1() throws {
        let model = HRNetModel(config: try Presets.config(named: "cls_w18_small_v1"))
        var parameters: [String: Tensor] = [:]
        for spec in model.graph.parameters { parameters[spec.key] = keyedTensor(spec.key, spec.shape) }
        let x = try NPY.read(fixture("w18_small_input.npy"))
        let plan = try model.compile(parameters: parameters, batch: 2, height: 32, width: 32, threads: 2)
        let y = try plan.run(x)[0]
        // The head's `incre + ReLU(downsamp)` must not reach oneDNN's reference convolution (it has no
        // JIT kernel for ReLU-then-sum post-ops; the add runs as its own step): 1000x slower.
        let slow = plan.implementations.filter { $0.implementation.hasPrefix("ref") }
        XCTAssertTrue(slow.isEmpty, "reference kernels: \(slow)")
        XCTAssertEqual(y.shape, [2, 1000, 1, 1])
        assertClose(y, try NPY.read(fixture("w18_small_logits.npy")), "hrnet_w18_small logits")
    }

    /// Every preset has timm's parameter count, and the exact key names and shapes of its state dict.
    func testPresetsMatchTimmKeysAndCounts() throws {
        let data = try Data(contentsOf: fixture("param_counts.json"))
        let counts = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Int])
        XCTAssertEqual(counts.count, 11)
        for (preset, count) in counts.sorted(by: { $0.key < $1.key }) {
            let model = HRNetModel(config: try Presets.config(named: preset))
            XCTAssertEqual(model.parameterCount, count, preset)
            XCTAssertTrue(Presets.names.contains(preset), preset)
            // The ssld models are hrnet_w18/w48 without the head convs' biases (the script asserts it).
            let base = preset.replacingOccurrences(of: "_ssld", with: "")
            var timm = try keyList(base)
            if preset != base {
                timm.removeAll { ["downsamp_modules.0.0.bias", "downsamp_modules.1.0.bias", "downsamp_modules.2.0.bias",
                                  "final_layer.0.bias"].contains($0.key) }
            }
            let ours = model.graph.parameters.map { ($0.key, $0.shape) }
            XCTAssertEqual(Set(ours.map(\.0)), Set(timm.map(\.key)), preset)
            let shapes = Dictionary(uniqueKeysWithValues: timm.map { ($0.key, $0.shape) })
            for (key, shape) in ours { XCTAssertEqual(shape, shapes[key], "\(preset) \(key)") }
        }
    }

    func keyList(_ preset: String) throws -> [(key: String, shape: [Int])] {
        TestSupport.keyList(try String(contentsOf: fixture("keys/\(preset)_keys.txt"), encoding: .utf8))
    }

    /// The official experiment file (HRNet-Image-Classification
    /// experiments/cls_hrnet_w18_small_v1_sgd_lr5e-2_wd1e-4_bs32_x100.yaml, its MODEL part,
    /// including STAGE1's NUM_RANCHES spelling) gives the preset's network.
    func testOfficialYAML() throws {
        let yaml = """
        MODEL:
          NAME: cls_hrnet
          IMAGE_SIZE:
            - 224
            - 224
          EXTRA:
            WITH_HEAD: true
            STAGE1:
              NUM_MODULES: 1
              NUM_RANCHES: 1
              BLOCK: BOTTLENECK
              NUM_BLOCKS:
              - 1
              NUM_CHANNELS:
              - 32
              FUSE_METHOD: SUM
            STAGE2:
              NUM_MODULES: 1
              NUM_BRANCHES: 2
              BLOCK: BASIC
              NUM_BLOCKS: [2, 2]
              NUM_CHANNELS: [16, 32]
              FUSE_METHOD: SUM
            STAGE3:
              NUM_MODULES: 1
              NUM_BRANCHES: 3
              BLOCK: BASIC
              NUM_BLOCKS: [2, 2, 2]
              NUM_CHANNELS: [16, 32, 64]
              FUSE_METHOD: SUM
            STAGE4:
              NUM_MODULES: 1
              NUM_BRANCHES: 4
              BLOCK: BASIC
              NUM_BLOCKS: [2, 2, 2, 2]
              NUM_CHANNELS: [16, 32, 64, 128]
              FUSE_METHOD: SUM
        DATASET:
          DATASET: 'imagenet'
        """
        let c = try HRNetConfig.parse(yaml: yaml, source: "cls_hrnet_w18_small_v1.yaml")
        XCTAssertEqual(c.modelName, "cls_hrnet")
        XCTAssertEqual(c.numClasses, 1000)
        XCTAssertEqual(c.architecture, try Presets.config(named: "cls_w18_small_v1").architecture)
        XCTAssertEqual(HRNetModel(config: c).parameterCount, 13_187_464)

        let bad = yaml.replacingOccurrences(of: "  NAME: cls_hrnet", with: "  NAME: cls_hrnet\n  NUM_CLASSES: 0")
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: bad, source: "bad.yaml")) {
            XCTAssertTrue("\($0)".contains("bad.yaml") && "\($0)".contains("MODEL.NUM_CLASSES"), "\($0)")
        }
    }

    func testBadPresetsAndCheckpoints() throws {
        XCTAssertThrowsError(try Presets.config(named: "cls_w32_ssld")) { XCTAssertTrue("\($0)".contains("ssld"), "\($0)") }
        XCTAssertThrowsError(try Presets.config(named: "cls_w33")) { XCTAssertTrue("\($0)".contains("unknown width"), "\($0)") }
        // A checkpoint for 10 classes does not fit a 1000-class model: the classifier is named.
        var config = try tinyConfig()
        config.architecture.head = .classification(ClassifierSpec(classes: 1000, increPlanes: [2, 3, 4, 5], features: 24))
        XCTAssertThrowsError(try HRNetModel(config: config).loadWeights(fixture("tiny_cls.safetensors"))) { error in
            let s = "\(error)"
            XCTAssertTrue(s.contains("tiny_cls.safetensors") && s.contains("2 mis-shaped keys") && s.contains("classifier.weight: tiny_cls.safetensors [10, 24] vs model [1000, 24]"), s)
        }
        // A checkpoint that is not a cls_hrnet (the W18-small's head on the tiny stages) names every difference.
        XCTAssertThrowsError(try HRNetModel(config: try Presets.config(named: "cls_w18_small_v1")).loadWeights(fixture("tiny_cls_zip.pth"))) {
            XCTAssertTrue("\($0)".contains("missing keys") && "\($0)".contains("unexpected keys"), "\($0)")
        }
    }
}
