import XCTest
import DNN
import HRNet
import TestSupport

/// The stacked hourglass and U-Net against MMPose's `HourglassNet` + `CPMHead` and MMSegmentation's
/// `UNet` + `FCNHead`s themselves (Tests/Fixtures/baselines/make_baseline_fixtures.py builds the
/// tiny networks from their installed sources, random weights and BN statistics scaled so the
/// outputs are O(1)): every output to 1e-4 of its scale from every checkpoint format, MMLab's
/// own checkpoint layouts included, and a training step each. fp32 sums in another order
/// differ by ~1e-6 here.
final class BaselineGoldenTests: XCTestCase {
    func url(_ name: String) -> URL { Fixtures.url("baselines/\(name)") }

    func assertClose(_ got: Tensor, _ expected: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.shape, expected.shape, what, file: file, line: line)
        let scale = expected.scalars.map(abs).max() ?? 0
        XCTAssertGreaterThan(scale, 0.5, "\(what): the fixture's outputs are O(1)", file: file, line: line)
        XCTAssertLessThanOrEqual(got.maxAbsDifference(expected), 1e-4 * scale, what, file: file, line: line)
    }

    func outputs(_ m: HRNetModel, _ weights: String, _ input: String) throws -> [Tensor] {
        let (params, report) = try m.loadWeights(url(weights))
        XCTAssertTrue(report.missing.isEmpty, "\(report.missing)")
        let x = try NPY.read(url(input))
        return try Plan(graph: m.graph, parameters: params, input: Shape4(x.shape)!, threads: 2).run(x)
    }

    /// Two stacks, three levels: both stacks' heatmaps; MMPose 1.x's checkpoint (`head.` keys,
    /// the data preprocessor's mean and std) loads to the same numbers.
    func testHourglassFromEveryFormat() throws {
        let m = HRNetModel(config: try HRNetConfig.load(url("tiny_hourglass.yaml")))
        XCTAssertEqual(m.config.outputIndex, 1, "the last stack is the prediction")
        let expected = try NPY.read(url("hourglass_outputs.npy"))
        let perStack = expected.count / 2
        for weights in ["tiny_hourglass.safetensors", "tiny_hourglass_zip.pth", "tiny_hourglass_legacy.pth", "tiny_hourglass_mmpose1.pth"] {
            let ys = try outputs(m, weights, "input64.npy")
            XCTAssertEqual(ys.count, 2)
            for s in 0..<2 {
                let e = Tensor(shape: Array(expected.shape.dropFirst()), scalars: Array(expected.scalars[(s * perStack)..<((s + 1) * perStack)]))
                assertClose(ys[s], e, "\(weights) stack \(s)")
            }
        }
    }

    /// One stack: MMPose's ResLayer still builds `inters.0`, which the network never reads; its
    /// keys are dropped on loading, every other key of MMPose's list is ours.
    func testOneStackKeysAreMMPoses() throws {
        let text = try String(contentsOf: url("hourglass1_keys.txt"), encoding: .utf8)
        let theirs = Dictionary(uniqueKeysWithValues: keyList(text).map { ($0.key, $0.shape) })
        let yaml = try String(contentsOf: url("tiny_hourglass.yaml"), encoding: .utf8).replacingOccurrences(of: "NUM_STACKS: 2", with: "NUM_STACKS: 1")
        let m = HRNetModel(config: try HRNetConfig.parse(yaml: yaml, source: "one.yaml"))
        let ours = Dictionary(uniqueKeysWithValues: m.graph.parameters.map { ($0.key, $0.shape) })
        XCTAssertEqual(Set(theirs.keys.filter { !$0.hasPrefix("backbone.inters.") }), Set(ours.keys))
        for (k, s) in ours { XCTAssertEqual(s, theirs[k], k) }
        let kept = HRNetModel.mmposeHourglassKeys(theirs.mapValues { Tensor(zeros: $0) }, stacks: 1)
        XCTAssertEqual(Set(kept.keys), Set(ours.keys))
    }

    /// Four stages (three halvings), [aux at 1/2, main at full size]; an input of 16x40 whose
    /// deepest map is 2x5; MMSegmentation's checkpoint (`state_dict`, `meta`) loads unchanged.
    func testUNetFromEveryFormat() throws {
        let m = HRNetModel(config: try HRNetConfig.load(url("tiny_unet.yaml")))
        for weights in ["tiny_unet.safetensors", "tiny_unet_zip.pth", "tiny_unet_legacy.pth", "tiny_unet_mmseg.pth"] {
            let ys = try outputs(m, weights, "input_unet.npy")
            assertClose(ys[0], try NPY.read(url("unet_aux.npy")), "\(weights) aux")
            assertClose(ys[1], try NPY.read(url("unet_main.npy")), "\(weights) main")
        }
        let odd = try outputs(m, "tiny_unet.safetensors", "input_unet_odd.npy")
        assertClose(odd[0], try NPY.read(url("unet_aux_odd.npy")), "odd aux")
        assertClose(odd[1], try NPY.read(url("unet_main_odd.npy")), "odd main")
    }

    /// MMSegmentation's full-size unet-s5-d16 key list (and shapes) is ours.
    func testUNetS5KeysAreMMSegmentations() throws {
        let text = try String(contentsOf: url("unet_keys_s5.txt"), encoding: .utf8)
        let theirs = Dictionary(uniqueKeysWithValues: keyList(text).map { ($0.key, $0.shape) })
        let m = HRNetModel(config: try HRNetConfig.parse(yaml: "MODEL: {NAME: seg_unet}\nDATASET: {NUM_CLASSES: 2}\n", source: "s5.yaml"))
        XCTAssertEqual(Set(m.graph.parameters.map(\.key)), Set(theirs.keys))
        for p in m.graph.parameters { XCTAssertEqual(p.shape, theirs[p.key], p.key) }
    }

    struct PoseGolden: Decodable { let lr: Float; let loss: Double; let loss_after_step: Double }
    struct SegGolden: Decodable {
        let lr: Float, momentum: Float, weight_decay: Float
        let balance_weights: [Float]
        let loss: Double, loss_after_step: Double
    }

    /// One train-mode Adam step of both stacks' summed JointsMSELoss (intermediate supervision):
    /// the loss, every gradient to 1e-4 of its tensor's largest plus 1e-7 (zero-in-theory terms
    /// come out as rounding noise), the loss after the step to 1e-4 (Adam's near-sign first step
    /// makes the weights themselves ambiguous where a gradient is within rounding of zero: see
    /// SimpleBaselineTests).
    func testHourglassAdamStep() throws {
        let m = HRNetModel(config: try HRNetConfig.load(url("tiny_hourglass.yaml")))
        let (params, _) = try m.loadWeights(url("tiny_hourglass.safetensors"))
        let golden = try JSONDecoder().decode(PoseGolden.self, from: Data(contentsOf: url("hourglass_train.json")))
        let x = try NPY.read(url("input64.npy"))
        let target = try NPY.read(url("hourglass_train_target.npy")), weight = try NPY.read(url("hourglass_train_target_weight.npy"))
        let plan = try TrainingPlan(graph: m.graph, parameters: params, input: Shape4(x.shape)!, threads: 2)
        func step() throws -> Double {
            let values = try plan.forward(x).map { try JointsMSELoss()($0, target: target, targetWeight: weight) }
            try plan.backward(values.map(\.gradient))
            return values.map(\.loss).reduce(0, +)
        }
        XCTAssertEqual(try step(), golden.loss, accuracy: 1e-5 * golden.loss)
        try TrainingGoldenChecks.gradients(of: plan, match: try Checkpoint.loadFloat(url("hourglass_train_gradients.safetensors")),
                                           relative: 1e-4, absolute: 1e-7)
        Adam(learningRate: golden.lr).update(plan.parameters)
        let after = try plan.forward(x).map { try JointsMSELoss()($0, target: target, targetWeight: weight).loss }.reduce(0, +)
        XCTAssertEqual(after, golden.loss_after_step, accuracy: 1e-4 * golden.loss_after_step)
    }

    /// One SGD step (momentum, weight decay) of 0.4 CE(aux) + CE(main), both resized to the labels
    /// (bilinear, align_corners False), 255 ignored, dropout off: the loss, gradients (3e-4 of each
    /// tensor's largest plus 2e-6, as the OCR golden), weights after the step to 1e-4 of their scale.
    func testUNetSGDStep() throws {
        var config = try HRNetConfig.load(url("tiny_unet.yaml"))
        config.architecture.unet?.dropout = 0
        let m = HRNetModel(config: config)
        let (params, _) = try m.loadWeights(url("tiny_unet.safetensors"))
        let golden = try JSONDecoder().decode(SegGolden.self, from: Data(contentsOf: url("unet_train.json")))
        let x = try NPY.read(url("input_unet.npy"))
        let labels = try NPY.read(url("unet_train_labels_f32.npy")).scalars.map { Int32($0) }
        let g = m.graph
        let input = try XCTUnwrap(g.inputValue)
        g.outputs = g.outputs.map { g.resize($0, like: input, mode: .bilinear(alignCorners: false)) }
        let plan = try TrainingPlan(graph: g, parameters: params, input: Shape4(x.shape)!, threads: 2)
        let loss = CrossEntropyLoss(ignoreIndex: 255)
        func step() throws -> Double {
            var total = 0.0, gradients: [Tensor] = []
            for (k, o) in try plan.forward(x).enumerated() {
                let v = try loss(o, labels: labels), w = golden.balance_weights[k]
                total += Double(w) * v.loss
                gradients.append(Tensor(shape: o.shape, scalars: v.gradient.scalars.map { $0 * w }))
            }
            try plan.backward(gradients)
            return total
        }
        XCTAssertEqual(try step(), golden.loss, accuracy: 1e-5 * golden.loss)
        try TrainingGoldenChecks.gradients(of: plan, match: try Checkpoint.loadFloat(url("unet_train_gradients.safetensors")),
                                           relative: 3e-4, absolute: 2e-6)
        SGD(learningRate: golden.lr, momentum: golden.momentum, weightDecay: golden.weight_decay).update(plan.parameters)
        try TrainingGoldenChecks.values(of: plan, match: try Checkpoint.load(url("unet_train_step1.safetensors")), relative: 1e-4)
        XCTAssertEqual(try step(), golden.loss_after_step, accuracy: 1e-4 * golden.loss_after_step)
    }
}
