import XCTest
import DNN
import TestSupport

/// The training engine's fast paths against its reference path (`TrainingPlan.Options.reference`:
/// direct convolutions, add and ReLU as separate ops) on the same weights and data: Winograd
/// convolutions, the fused add -> ReLU, and small ops run on one thread.
final class TrainingFastPathTests: XCTestCase {
    /// Two residual blocks at 16x16 (256 pixels, 32 channels: Winograd's domain), a fuse-style
    /// sum of two branches, and a head, as HRNet's basic blocks and fuse layers are built.
    func residualGraph(channels c: Int = 32) -> Graph {
        let g = Graph()
        let x0 = g.input(channels: 3)
        var x = g.relu(g.batchNorm(g.conv(x0, key: "stem", outChannels: c, kernel: 3), key: "stem_bn"))
        for b in 0..<2 {
            var y = g.relu(g.batchNorm(g.conv(x, key: "b\(b).conv1", outChannels: c, kernel: 3), key: "b\(b).bn1"))
            y = g.batchNorm(g.conv(y, key: "b\(b).conv2", outChannels: c, kernel: 3), key: "b\(b).bn2")
            x = g.relu(g.add(y, x))
        }
        // A second branch at half resolution summed back (HRNet's fuse: conv, BN, upsample, add, ReLU).
        let low = g.relu(g.batchNorm(g.conv(x, key: "down", outChannels: 2 * c, kernel: 3, stride: 2), key: "down_bn"))
        let up = g.resize(g.batchNorm(g.conv(low, key: "up", outChannels: c, kernel: 1), key: "up_bn"), like: x, mode: .nearest)
        let fused = g.relu(g.add(x, up))
        g.outputs = [g.conv(fused, key: "head", outChannels: 5, kernel: 1, bias: true)]
        return g
    }

    struct Run {
        let outputs: [Tensor]
        let gradients: [String: Tensor]
        let inputGradient: Tensor
        let plan: TrainingPlan
    }

    /// One forward (train mode) and backward of `g` with `options`, seeded identically.
    func run(_ g: Graph, input: [Int], options: TrainingPlan.Options, threads: Int = 2) throws -> Run {
        let params = g.randomParameters(seed: 3)
        let plan = try TrainingPlan(graph: g, parameters: params, input: Shape4(input)!, threads: threads, inputGradient: true,
                                    options: options)
        plan.profile = [:]
        let outputs = try plan.forward(randomTensor(input, seed: 11))
        try plan.backward(outputs.enumerated().map { randomTensor($0.element.shape, seed: 20 + UInt64($0.offset)) })
        var grads: [String: Tensor] = [:]
        for e in plan.parameters.entries { grads[e.key] = plan.parameters.gradient(e.key)! }
        return Run(outputs: outputs, gradients: grads, inputGradient: plan.inputGradient!, plan: plan)
    }

    /// Largest |a - b| over the largest |b|.
    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = max(b.scalars.map(abs).max() ?? 0, 1e-20)
        return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! / scale
    }

    func compare(_ fast: Run, _ reference: Run, tolerance: Float, file: StaticString = #filePath, line: UInt = #line) {
        let worst = ([relativeError(fast.inputGradient, reference.inputGradient)]
            + reference.gradients.map { relativeError(fast.gradients[$0.key]!, $0.value) }).max()!
        print("worst relative difference: \(worst) (tolerance \(tolerance))")
        for (k, (a, b)) in zip(fast.outputs, reference.outputs).enumerated() {
            XCTAssertLessThanOrEqual(relativeError(a, b), tolerance, "output \(k)", file: file, line: line)
        }
        XCTAssertEqual(Set(fast.gradients.keys), Set(reference.gradients.keys), file: file, line: line)
        for (key, b) in reference.gradients {
            XCTAssertLessThanOrEqual(relativeError(fast.gradients[key]!, b), tolerance, "gradient of \(key)", file: file, line: line)
        }
        XCTAssertLessThanOrEqual(relativeError(fast.inputGradient, reference.inputGradient), tolerance, "input gradient",
                                 file: file, line: line)
    }

    /// The segmentation trainer's graph reads the image twice: the stem convolution, and the
    /// resize of the logits to the labels' size (`resize(like: image)`, no pixel of it). The image
    /// must stay NCHW for the stem: a channel-padded blocked copy sends oneDNN's stride-2 stem to
    /// its reference kernel (forward and backward weights: 94% of a training step, 12 instead of
    /// 148 images/s on the segmentation baseline). Inference plans keep it NCHW too (no reorder
    /// in besides the output's).
    func testAnImageThatOnlySizesAResizeStaysNCHW() throws {
        let g = Graph()
        let image = g.input(channels: 3)
        let stem = g.relu(g.batchNorm(g.conv(image, key: "stem", outChannels: 64, kernel: 3, stride: 2), key: "stem_bn"))
        let logits = g.conv(stem, key: "head", outChannels: 5, kernel: 1, bias: true)
        g.outputs = [g.resize(logits, like: image, mode: .bilinear(alignCorners: false))]
        let params = g.randomParameters(seed: 1)
        let plan = try TrainingPlan(graph: g, parameters: params, input: Shape4(4, 3, 32, 32), threads: 2)
        XCTAssertFalse(plan.implementations.isEmpty)
        for (step, implementation) in plan.implementations {
            XCTAssertFalse(implementation.hasPrefix("ref"), "\(step) runs oneDNN's reference kernel")
        }
        let inference = try Plan(graph: g, parameters: params, input: Shape4(4, 3, 32, 32), threads: 2)
        XCTAssertEqual(inference.stepLabels.filter { $0.hasPrefix("reorder") }.count, 1, "\(inference.stepLabels)")
        let x = randomTensor([4, 3, 32, 32], seed: 2)
        XCTAssertLessThanOrEqual(try inference.run(x)[0].maxAbsDifference(try g.referenceForward(parameters: params, input: x)[0]), 1e-4)
    }

    func testWinogradMatchesDirect() throws {
        let g = residualGraph()
        let input = [2, 3, 16, 16]
        let wino = try run(g, input: input, options: TrainingPlan.Options(fuseAddReLU: false))
        let winograd = wino.plan.implementations.filter { $0.implementation.contains("wino") }
        guard !winograd.isEmpty else { throw XCTSkip("oneDNN has no Winograd kernel on this CPU (needs AVX-512)") }
        // Every pass of the four 3x3 stride-1 32 -> 32 convolutions at 16x16 (forward, backward
        // data and weights); the 3-channel stem stays direct.
        XCTAssertEqual(winograd.count, 4 * 3, "\(winograd.map(\.step))")
        let reference = try run(g, input: input, options: .reference)
        XCTAssertTrue(reference.plan.implementations.allSatisfy { !$0.implementation.contains("wino") })
        // Winograd F(4x4, 3x3) rounds differently from the direct sum (fp32 transforms of sums over
        // 32 x 9 products, then BN's 1/sigma): observed 2.2e-6 of a tensor's largest value; 2e-5
        // leaves 10x margin, while a wrong transform or layout is off by O(1).
        compare(wino, reference, tolerance: 2e-5)
    }

    func testWinogradRespectsTheSizeRules() throws {
        // 16 channels, or maps under 192 pixels: direct, as measured faster there.
        let g = residualGraph(channels: 16)
        let r = try run(g, input: [2, 3, 16, 16], options: TrainingPlan.Options())
        XCTAssertTrue(r.plan.implementations.allSatisfy { !$0.implementation.contains("wino") })
        let small = try run(residualGraph(), input: [2, 3, 12, 12], options: TrainingPlan.Options())
        XCTAssertTrue(small.plan.implementations.allSatisfy { !$0.implementation.contains("wino") })
    }

    func testFusedAddReLUMatchesSeparateOps() throws {
        let g = residualGraph()
        let input = [2, 3, 16, 16]
        let fused = try run(g, input: input, options: .direct)
        let reference = try run(g, input: input, options: .reference)
        // The fusion is really taken (three add -> ReLU pairs), and not in the reference.
        XCTAssertNotNil(fused.plan.profile?["forward add + relu [swift]"])
        XCTAssertNotNil(fused.plan.profile?["backward add + relu [swift]"])
        XCTAssertNil(reference.plan.profile?["forward add + relu [swift]"])
        // Same arithmetic in the same order (a + b, max(., 0); the mask applied before the
        // gradient is written or added): equal up to fp32 rounding of the accumulations.
        compare(fused, reference, tolerance: 1e-6)
    }

    func testFusedPathsTrainLikeTheReference() throws {
        // Three Adam steps with every fast path on stay with the reference path's losses.
        let g = residualGraph()
        let input = [4, 3, 16, 16]
        var losses: [[Double]] = []
        for options in [TrainingPlan.Options(), .reference] {
            let plan = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 5), input: Shape4(input)!, threads: 2,
                                        options: options)
            let adam = Adam(learningRate: 1e-3)
            let x = randomTensor(input, seed: 9)
            let target = randomTensor([4, 5, 16, 16], seed: 10)
            var l: [Double] = []
            for _ in 0..<3 {
                l.append(try plan.step(x) { out in try MSELossForTest.loss(out, target) })
                adam.update(plan.parameters)
            }
            losses.append(l)
        }
        for (a, b) in zip(losses[0], losses[1]) {
            // Adam's first steps are lr x sign(g); tiny gradient differences can flip the sign of
            // near-zero elements, so losses agree to ~1e-4 relative, not to rounding.
            XCTAssertEqual(a, b, accuracy: 1e-3 * abs(b), "losses \(losses)")
        }
    }

    func testOneThreadMatchesTwoWithSerialSmallOps() throws {
        // Small BN and weight reorders run on one thread inside a two-thread plan; a one-thread
        // plan must give the same numbers (up to the summation order of oneDNN's reductions).
        let g = residualGraph()
        let two = try run(g, input: [2, 3, 16, 16], options: TrainingPlan.Options(), threads: 2)
        let one = try run(g, input: [2, 3, 16, 16], options: TrainingPlan.Options(), threads: 1)
        compare(two, one, tolerance: 1e-5)
    }
}

/// Mean squared error, d/d(output) = 2 (output - target) / count.
enum MSELossForTest {
    static func loss(_ outputs: [Tensor], _ target: Tensor) throws -> (loss: Double, gradients: [Tensor]) {
        let o = outputs[0]
        let n = Double(o.count)
        var total = 0.0
        var grad = [Float](repeating: 0, count: o.count)
        for i in 0..<o.count {
            let d = Double(o.scalars[i] - target.scalars[i])
            total += d * d
            grad[i] = Float(2 * d / n)
        }
        return (total / n, [Tensor(shape: o.shape, scalars: grad)])
    }
}
