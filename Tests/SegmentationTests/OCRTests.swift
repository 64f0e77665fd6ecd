import DNN
import Foundation
import HRNet
import Imaging
import Segmentation
import TestSupport
import XCTest

/// HRNet-OCR (seg_hrnet_ocr) against Tests/Fixtures/ocr/make_ocr_fixtures.py: an independent
/// PyTorch model with the official key names, checked there against the official
/// seg_hrnet_ocr.py (max |diff| 7e-7 eval, 3e-6 train).
final class OCRTests: XCTestCase {
    static func url(_ name: String) -> URL { Fixtures.url("ocr/" + name) }
    func url(_ name: String) -> URL { Self.url(name) }

    static func model() throws -> HRNetModel { HRNetModel(config: try HRNetConfig.load(url("tiny_ocr.yaml"))) }

    /// Largest |a - b| over the largest |b|: the outputs are O(1) logits (std 1), so 1e-4 of the
    /// scale is the fp32 test of DESIGN.md; the sums differ from PyTorch's only in order (~1e-6).
    func relativeError(_ got: Tensor, _ expected: Tensor) -> Float {
        XCTAssertEqual(got.shape, expected.shape)
        let scale = expected.scalars.map(abs).max() ?? 1
        return zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max()! / scale
    }

    func testConfigReadsTheOfficialOCRKeys() throws {
        let config = try HRNetConfig.load(url("tiny_ocr.yaml"))
        XCTAssertEqual(config.modelName, "seg_hrnet_ocr")
        XCTAssertEqual(config.architecture.head, .segmentation(classes: 5, finalKernel: 1, alignCorners: true,
                                                               ocr: OCRSpec(midChannels: 12, keyChannels: 6, dropout: 0.05)))
        XCTAssertEqual(config.outputIndex, 1, "TEST.OUTPUT_INDEX -1 (default) is the main head")
        let model = HRNetModel(config: config)
        XCTAssertEqual(model.graph.outputs.count, 2)
        let training = try TrainingConfig.load(url("tiny_ocr.yaml"))
        XCTAssertEqual(training.segmentation.balanceWeights, [0.4, 1])
    }

    func testBothHeadsMatchPyTorchFromEveryFormat() throws {
        let model = try Self.model()
        for file in ["tiny_ocr.safetensors", "tiny_ocr_zip.pth", "tiny_ocr_legacy.pth", "tiny_ocr_model_prefix.pth"] {
            let (parameters, report) = try model.loadWeights(url(file))
            XCTAssertTrue(report.missing.isEmpty && report.unexpected.isEmpty, file)
            for suffix in ["", "_odd"] {
                let x = try NPY.read(url("input\(suffix).npy"))
                let plan = try Plan(graph: model.graph, parameters: parameters, input: Shape4(x.shape)!, threads: 2)
                let out = try plan.run(x)
                XCTAssertLessThan(relativeError(out[0], try NPY.read(url("aux\(suffix).npy"))), 1e-4, "\(file) aux\(suffix)")
                XCTAssertLessThan(relativeError(out[1], try NPY.read(url("main\(suffix).npy"))), 1e-4, "\(file) main\(suffix)")
            }
        }
    }

    func testReferenceKernelsAgreeWithThePlan() throws {
        // The engine's plain reference ops (the gather and attention written as loops) against the
        // oneDNN matmul plan, and against PyTorch: two independent checks of the same numbers.
        let model = try Self.model()
        let (parameters, _) = try model.loadWeights(url("tiny_ocr.safetensors"))
        let x = try NPY.read(url("input_odd.npy"))
        let reference = try model.graph.referenceForward(parameters: parameters, input: x)
        XCTAssertLessThan(relativeError(reference[1], try NPY.read(url("main_odd.npy"))), 1e-4)
    }

    func testBF16PlanCoversTheHead() throws {
        guard hasNativeBF16 else { throw XCTSkip("bf16 needs AVX512-BF16") }
        let model = try Self.model()
        let (parameters, _) = try model.loadWeights(url("tiny_ocr.safetensors"))
        let x = try NPY.read(url("input.npy"))
        let plan = try Plan(graph: model.graph, parameters: parameters, input: Shape4(x.shape)!, threads: 2, options: .init(bf16: true))
        let out = try plan.run(x)
        // bf16 keeps 8 bits of mantissa (~4e-3 relative per value) through ~20 layers of O(1)
        // activations: a few percent of the output scale; a wrong head would be off by ~100%.
        XCTAssertLessThan(relativeError(out[1], try NPY.read(url("main.npy"))), 0.08)
    }

    struct Golden: Decodable {
        let balance_weights: [Float]
        let lr: Float
        let momentum: Float
        let weight_decay: Float
        let losses: [Double]
    }

    /// Two train-mode SGD steps against PyTorch: batch-statistics BN everywhere (also over the
    /// (N, C, K, 1) class centres), the gather's and the attention's matmul and softmax backward,
    /// both heads upsampled to the labels with 0.4 CE(aux) + 1 CE(main). Dropout is off in both
    /// (the engine draws its own masks; `testChannelDropout` covers it).
    func testTrainingStepsMatchPyTorch() throws {
        var config = try HRNetConfig.load(url("tiny_ocr.yaml"))
        config.architecture.head = .segmentation(classes: 5, finalKernel: 1, alignCorners: true,
                                                 ocr: OCRSpec(midChannels: 12, keyChannels: 6, dropout: 0))
        let model = HRNetModel(config: config)
        let (parameters, _) = try model.loadWeights(url("tiny_ocr.safetensors"))
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url("train.json")))
        let x = try NPY.read(url("input.npy"))
        let labels = try NPY.read(url("train_labels.npy")).scalars.map { Int32($0) }
        let g = model.graph
        let input = try XCTUnwrap(g.inputValue)
        g.outputs = g.outputs.map { g.resize($0, like: input, mode: .bilinear(alignCorners: true)) }
        let plan = try TrainingPlan(graph: g, parameters: parameters, input: Shape4(x.shape)!, threads: 2)
        let loss = CrossEntropyLoss(ignoreIndex: 255)
        let sgd = SGD(learningRate: golden.lr, momentum: golden.momentum, weightDecay: golden.weight_decay)
        func step() throws -> Double {
            let outputs = try plan.forward(x)
            var total = 0.0, gradients: [Tensor] = []
            for (k, o) in outputs.enumerated() {
                let v = try loss(o, labels: labels)
                total += Double(golden.balance_weights[k]) * v.loss
                gradients.append(Tensor(shape: o.shape, scalars: v.gradient.scalars.map { $0 * golden.balance_weights[k] }))
            }
            try plan.backward(gradients)
            return total
        }
        XCTAssertEqual(try step(), golden.losses[0], accuracy: 1e-5 * golden.losses[0])
        // Every gradient to 3e-4 of its tensor's largest, plus 2e-6 absolute for the terms that are
        // zero in theory (a conv bias before train-mode BN), as ClsTrainingGoldenTests. Against a
        // float64 PyTorch run of this step, the engine's fp32 gradients are off by up to 2e-4 of a
        // tensor's largest (the attention's value BN, statistics over N x K = 10 numbers; 8e-5 in
        // the backbone's), PyTorch's fp32 ones by 4e-5: rounding, not a wrong term (one would be
        // off by O(1)).
        let worst = try TrainingGoldenChecks.gradients(of: plan, match: try Checkpoint.loadFloat(url("train_gradients.safetensors")),
                                                       relative: 3e-4, absolute: 2e-6)
        print("worst gradient: \(worst.key), \(worst.error) of its largest")
        sgd.update(plan.parameters)
        try TrainingGoldenChecks.values(of: plan, match: try Checkpoint.load(url("train_step1.safetensors")), relative: 1e-4)
        XCTAssertEqual(try step(), golden.losses[1], accuracy: 1e-4 * golden.losses[1])
    }

    func testSegmentMatchesTheOfficialTest() throws {
        let model = try Self.model()
        let (parameters, _) = try model.loadWeights(url("tiny_ocr.safetensors"))
        let image = try Image.load(Fixtures.url("segmentation/photo.png"))
        let cases: [(String, [Double], Bool, (Int, Int))] = [("single", [1], false, (48, 80)), ("multiscale_flip", [0.75, 1, 1.25], true, (32, 48))]
        for (name, scales, flip, crop) in cases {
            let options = Segmenter.Options(scales: scales, flip: flip, baseSize: 80, crop: crop, policy: .official)
            let segmenter = try Segmenter(model: model, parameters: parameters, options: options, threads: 1)
            let prediction = try segmenter.segment(image)
            let expected = try NPY.read(url(name + ".npy"))
            XCTAssertEqual(expected.shape, [5, 48, 80])
            // As PipelineTests: exp(logits) summed over scales, 1e-4 relative.
            XCTAssertLessThan(maxRelativeError(prediction.scores, expected.scalars), 1e-4, name)
        }
    }

    func testAuxiliaryOutputByIndex() throws {
        // TEST.OUTPUT_INDEX 0 makes the test read the soft object regions (the aux head).
        var config = try HRNetConfig.load(url("tiny_ocr.yaml"))
        config.outputIndex = 0
        let model = HRNetModel(config: config)
        let (parameters, _) = try model.loadWeights(url("tiny_ocr.safetensors"))
        let segmenter = try Segmenter(model: model, parameters: parameters, threads: 1)
        let x = try NPY.read(url("input_odd.npy"))
        let logits = try segmenter.logits(normalized: x.scalars, height: 50, width: 70, flip: false)
        // The aux logits upsampled (align_corners) to 50x70: check one pixel that maps onto the
        // 13x18 grid exactly (corners) against the fixture.
        let aux = try NPY.read(url("aux_odd.npy"))
        for c in 0..<5 {
            XCTAssertEqual(logits[c * 3500], aux.scalars[c * 13 * 18], accuracy: 1e-4)
            XCTAssertEqual(logits[c * 3500 + 3499], aux.scalars[c * 13 * 18 + 13 * 18 - 1], accuracy: 1e-4)
        }
    }

    func testStartingFromAnHRNetV2Checkpoint() throws {
        // A seg_hrnet checkpoint: the backbone and `last_layer` (the official OCR init renames it
        // `aux_head`); the OCR head's other modules start from PyTorch's initial values.
        let all = try Checkpoint.loadFloat(url("tiny_ocr.safetensors"))
        var hrnetV2: [String: Tensor] = [:]
        for (k, t) in all where !HRNetModel.isHeadKey(k, ocr: true) { hrnetV2[k] = t }
        for (k, t) in all where k.hasPrefix("aux_head.") { hrnetV2[k.replacingOccurrences(of: "aux_head", with: "last_layer")] = t }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ocr-start-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        try SafeTensors.write(hrnetV2, to: file)
        let config = try HRNetConfig.load(url("tiny_ocr.yaml"))
        let (parameters, report) = try SegmentationTrainer.startingParameters(from: file, config: config)
        XCTAssertEqual(parameters["aux_head.3.weight"]?.scalars, all["aux_head.3.weight"]?.scalars)
        XCTAssertEqual(parameters["stage4.0.branches.3.0.conv2.weight"]?.scalars, all["stage4.0.branches.3.0.conv2.weight"]?.scalars)
        XCTAssertTrue(report.missing.contains("cls_head.weight") && report.missing.contains("conv3x3_ocr.0.weight"))
        XCTAssertFalse(report.missing.contains { $0.hasPrefix("aux_head") })
        XCTAssertEqual(Set(parameters.keys), Set(HRNetModel(config: config).graph.parameters.map(\.key)))
        // A head for other classes needs --reset-head (both class layers then start afresh).
        var other = config
        other.architecture.head = .segmentation(classes: 7, finalKernel: 1, alignCorners: true, ocr: OCRSpec(midChannels: 12, keyChannels: 6))
        XCTAssertThrowsError(try SegmentationTrainer.startingParameters(from: file, config: other)) {
            XCTAssertTrue("\($0)".contains("--reset-head"), "\($0)")
        }
        XCTAssertNoThrow(try SegmentationTrainer.startingParameters(from: file, config: other, resetHead: true))
    }

    func testBadConfigsNameTheKey() throws {
        let text = try String(contentsOf: url("tiny_ocr.yaml"), encoding: .utf8)
        func error(_ edit: (String) -> String) -> String {
            do { _ = try HRNetConfig.parse(yaml: edit(text), source: "bad.yaml"); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(error { $0.replacingOccurrences(of: "NUM_OUTPUTS: 2", with: "NUM_OUTPUTS: 3") }.contains("MODEL.NUM_OUTPUTS"))
        XCTAssertTrue(error { $0.replacingOccurrences(of: "SCALE: 1", with: "SCALE: 2") }.contains("MODEL.OCR.SCALE"))
        XCTAssertTrue(error { $0.replacingOccurrences(of: "DROPOUT: 0.05", with: "DROPOUT: 1.5") }.contains("MODEL.OCR.DROPOUT"))
        XCTAssertTrue(error { $0.replacingOccurrences(of: "  FLIP_TEST: false", with: "  FLIP_TEST: false\n  OUTPUT_INDEX: 2") }.contains("TEST.OUTPUT_INDEX"))
        do {
            _ = try TrainingConfig.parse(yaml: text.replacingOccurrences(of: "- 0.4\n", with: ""), source: "bad.yaml")
            XCTFail("one balance weight for two outputs")
        } catch { XCTAssertTrue("\(error)".contains("LOSS.BALANCE_WEIGHTS"), "\(error)") }

        // A checkpoint whose OCR sizes disagree with the config: each key and both shapes named.
        var config = try HRNetConfig.load(url("tiny_ocr.yaml"))
        config.architecture.head = .segmentation(classes: 5, finalKernel: 1, alignCorners: true, ocr: OCRSpec(midChannels: 16, keyChannels: 6))
        do {
            _ = try HRNetModel(config: config).loadWeights(url("tiny_ocr.safetensors"))
            XCTFail("mid channels 16 against a checkpoint of 12")
        } catch {
            XCTAssertTrue("\(error)".contains("conv3x3_ocr.0.weight: tiny_ocr.safetensors [12, 34, 3, 3] vs model [16, 34, 3, 3]"), "\(error)")
        }
    }
}
