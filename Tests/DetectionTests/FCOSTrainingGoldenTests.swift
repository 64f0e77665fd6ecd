import XCTest
import DNN
@testable import Detection
import TestSupport

/// FCOS training against mmdetection 3.3.0's own code (Tests/Fixtures/detection/training,
/// made by its make_fcos_training_fixtures.py): the targets, the three losses and their
/// gradients for given head outputs; then the tiny FCOS-HRNetV2p itself on the same batch
/// (backbone batch norm frozen, as mmdet's norm_eval): its head outputs, parameter gradients
/// and the weights after two SGD steps with mmdet's parameter groups and clipping.
final class FCOSTrainingGoldenTests: XCTestCase {
    let folder = "detection/training"
    let strides = [8, 16, 32, 64, 128]

    func groundTruth() throws -> [[GroundTruthBox]] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("\(folder)/gt.json"))) as! [String: Any]
        return (json["images"] as! [[String: Any]]).map { image in
            let gt = image["gt_instances"] as! [String: Any]
            let boxes = gt["bboxes"] as! [[Double]], labels = gt["labels"] as! [Int]
            return zip(boxes, labels).map { b, l in
                GroundTruthBox(box: BoundingBox(x1: Float(b[0]), y1: Float(b[1]), x2: Float(b[2]), y2: Float(b[3])), label: l)
            }
        }
    }

    /// The head outputs in the graph's order (per level: classes, distances, centerness).
    func headTensors(_ file: String) throws -> [Tensor] {
        let t = try Checkpoint.loadFloat(Fixtures.url("\(folder)/\(file)"))
        return try (0..<5).flatMap { l in try ["cls_scores", "bbox_preds", "centernesses"].map { try XCTUnwrap(t["\($0).\(l)"], "\($0).\(l)") } }
    }

    func relative(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max()! / max(b.map(abs).max()!, 1e-12)
    }

    func testTargetsLossesAndOutputGradients() throws {
        let outputs = try headTensors("head_outputs.safetensors"), expected = try headTensors("head_output_grads.safetensors")
        let sizes = stride(from: 0, to: 15, by: 3).map { (h: outputs[$0].shape[2], w: outputs[$0].shape[3]) }
        let targets = try FCOSTargets(boxes: try groundTruth(), sizes: sizes, strides: strides)
        // mmdet's flattened order: level, image, row, column.
        var labels: [Int?] = [], distances: [SIMD4<Float>] = []
        for l in 0..<5 { for n in 0..<2 { labels += targets.labels[l][n]; distances += targets.distances[l][n] } }
        let reference = try Checkpoint.load(Fixtures.url("\(folder)/targets.safetensors")).mapValues { $0.floatTensor() }
        let refLabels = try XCTUnwrap(reference["labels"]).scalars.map { Int($0) }, refTargets = try XCTUnwrap(reference["bbox_targets"]).scalars
        XCTAssertEqual(labels.map { $0 ?? 80 }, refLabels, "labels at all 388 points (80: background), ties and the crowd box included")
        XCTAssertEqual(targets.positives, 91)
        for (i, label) in labels.enumerated() where label != nil {
            for k in 0..<4 { XCTAssertEqual(distances[i][k], refTargets[4 * i + k], accuracy: 1e-5, "point \(i)") }
        }
        var centered = FCOSTargets.Options()
        centered.centerSampling = true
        let sampled = try FCOSTargets(boxes: try groundTruth(), sizes: sizes, strides: strides, options: centered)
        var sampledLabels: [Int] = []
        for l in 0..<5 { for n in 0..<2 { sampledLabels += sampled.labels[l][n].map { $0 ?? 80 } } }
        XCTAssertEqual(sampledLabels, try XCTUnwrap(reference["center_sampling.labels"]).scalars.map { Int($0) }, "centre sampling")

        let value = try FCOSLoss()(outputs, targets: targets, strides: strides)
        // Sums of 388 x 80 float terms in double here, float in PyTorch: 1e-6 relative.
        XCTAssertEqual(value.classification, 3.679370641708374, accuracy: 1e-6 * 3.68)
        XCTAssertEqual(value.box, 1.9656633138656616, accuracy: 1e-6 * 1.97)
        XCTAssertEqual(value.centerness, 0.8015654683113098, accuracy: 1e-6)
        // PyTorch's focal gradient is float32 throughout (p^2, log terms of logits near -5): levels
        // with only background points differ by up to 6e-5 of their largest gradient; 1e-4.
        for (k, (got, want)) in zip(value.gradients, expected).enumerated() {
            XCTAssertEqual(got.shape, want.shape)
            XCTAssertLessThan(relative(got.scalars, want.scalars), 1e-4, "gradient of output \(k) (level \(k / 3))")
        }
    }

    /// The network, loss, backward and two SGD steps (clip max_norm 35: not reached, and 10: both steps clipped).
    func testTwoStepsOfTheTinyFCOS() throws {
        let spec = try DetectorConfig.load(Fixtures.url("detection/tiny_fcos_hrnet.py"))
        let model = DetectorModel(spec: spec, output: .head)
        let weights = try model.bind(try Checkpoint.loadFloat(Fixtures.url("detection/tiny_fcos.pth")), source: "tiny_fcos.pth")
        let input = try NPY.read(Fixtures.url("\(folder)/batch_input.npy"))
        let boxes = try groundTruth()
        let expectedOutputs = try headTensors("head_outputs.safetensors")
        let paramGradients = try Checkpoint.loadFloat(Fixtures.url("\(folder)/param_grads.safetensors"))
        for (clip, file, losses) in [(Float(35), "sgd_steps.safetensors", [6.44659948348999, 5.337026596069336]),
                                     (Float(10), "sgd_steps_clip10.safetensors", [6.44659948348999, 5.5764665603637695])] {
            let plan = try TrainingPlan(graph: model.graph, parameters: weights, input: Shape4(2, 3, 96, 96), threads: 2)
            plan.mode = .eval  // norm_eval: the backbone's BN uses (and keeps) its running statistics
            var recipe = DetectionRecipe()
            recipe.clipNorm = clip
            let sgd = DetectionTrainer.optimizer(recipe, graph: model.graph)
            let after = try Checkpoint.loadFloat(Fixtures.url("\(folder)/\(file)"))
            for step in 0..<2 {
                let outputs = try plan.forward(input)
                if step == 0 {
                    for (k, (got, want)) in zip(outputs, expectedOutputs).enumerated() {
                        XCTAssertLessThan(relative(got.scalars, want.scalars), 1e-4, "head output \(k)")
                    }
                }
                let sizes = stride(from: 0, to: 15, by: 3).map { (h: outputs[$0].shape[2], w: outputs[$0].shape[3]) }
                let value = try FCOSLoss()(outputs, targets: try FCOSTargets(boxes: boxes, sizes: sizes, strides: strides), strides: strides)
                XCTAssertEqual(value.total, losses[step], accuracy: 1e-4 * losses[step], "loss at step \(step + 1)")
                try plan.backward(value.gradients)
                if step == 0 && clip == 35 {
                    for (key, want) in paramGradients {
                        let got = try XCTUnwrap(plan.parameters.gradient(key), key)
                        XCTAssertLessThan(relative(got.scalars, want.scalars), 1e-3, "gradient of \(key)")
                    }
                }
                clipGradientNorm(plan.parameters, maxNorm: clip)
                sgd.update(plan.parameters)
                for (name, want) in after where name.hasPrefix("step\(step + 1).") {
                    let key = String(name.dropFirst("stepN.".count))
                    let got = try XCTUnwrap(plan.parameters.value(key), key)
                    let moved = zip(want.scalars, weights[key]!.scalars).map { abs($0 - $1) }.max()!
                    let error = zip(got.scalars, want.scalars).map { abs($0 - $1) }.max()!
                    // Within 1e-3 of how far the weights moved (gradients of a float network, summed in another order).
                    XCTAssertLessThanOrEqual(error, 1e-3 * max(moved, 1e-6) + 1e-7, "\(key) after step \(step + 1), clip \(clip)")
                }
            }
        }
    }
}
