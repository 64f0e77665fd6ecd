import XCTest
import DNN
import Collectives
import TestSupport

/// Synchronized batch norm computes its own statistics and the statistics' gradient (oneDNN
/// gets them as given statistics); in one process it must equal oneDNN's batch norm with
/// batch statistics. (Two processes against one: `MPITrainCLITests`.)
final class SynchronizedBatchNormTests: XCTestCase {
    /// 20 channels (a padded last channel block): a BN + ReLU, a BN read by an add and a
    /// convolution (its gradient summed from two consumers), a strided BN.
    /// No near-zero ReLU inputs hang on rounding here: a 1e-7 change of the input moves the
    /// gradients by 1e-7 (a deeper graph with a low-resolution branch moved them by 2e-3).
    func graph() -> Graph {
        let g = Graph()
        let x0 = g.input(channels: 3)
        let a = g.relu(g.batchNorm(g.conv(x0, key: "stem", outChannels: 20, kernel: 3), key: "stem_bn"))
        let b = g.batchNorm(g.conv(a, key: "conv", outChannels: 20, kernel: 3), key: "bn")
        let c = g.relu(g.add(b, a))
        let d = g.batchNorm(g.conv(c, key: "down", outChannels: 40, kernel: 3, stride: 2), key: "down_bn")
        g.outputs = [g.conv(c, key: "head", outChannels: 4, kernel: 1, bias: true), g.conv(b, key: "side", outChannels: 2, kernel: 1, bias: true),
                     g.conv(d, key: "low", outChannels: 2, kernel: 1, bias: true)]
        return g
    }

    func run(sync: Bool, noise: Float = 0) throws -> (outputs: [Tensor], gradients: [String: Tensor], input: Tensor, state: [String: Tensor]) {
        let g = graph()
        let plan = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 5), input: Shape4(4, 3, 12, 10), threads: 2,
                                    inputGradient: true, synchronizeBatchNorm: sync ? SingleProcess() : nil)
        XCTAssertEqual(plan.synchronizesBatchNorm, sync)
        // Inputs away from zero mean, so the statistics' gradient terms matter.
        let x = randomTensor([4, 3, 12, 10], seed: 7)
        let outputs = try plan.forward(Tensor(shape: x.shape, scalars: x.scalars.map { ($0 * 2 + 0.5) * (1 + noise) }))
        try plan.backward(outputs.enumerated().map { randomTensor($0.element.shape, seed: 30 + UInt64($0.offset)) })
        var grads: [String: Tensor] = [:]
        for e in plan.parameters.entries { grads[e.key] = plan.parameters.gradient(e.key)! }
        return (outputs, grads, plan.inputGradient!, plan.parameters.state())
    }

    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = max(b.scalars.map(abs).max() ?? 0, 1e-20)
        return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! / scale
    }

    func testOneProcessEqualsBatchStatistics() throws {
        let plain = try run(sync: false), synced = try run(sync: true)
        // The graph is well conditioned: a 1e-7 change of the input stays near 1e-7.
        let nudged = try run(sync: false, noise: 1e-7)
        XCTAssertLessThan(plain.gradients.map { relativeError(nudged.gradients[$0.key]!, $0.value) }.max()!, 1e-5)
        // Statistics summed in double vs oneDNN's float passes: a few float roundings apart.
        let tolerance: Float = 1e-5
        for (k, (a, b)) in zip(synced.outputs, plain.outputs).enumerated() {
            XCTAssertLessThanOrEqual(relativeError(a, b), tolerance, "output \(k)")
        }
        for (key, b) in plain.gradients {
            XCTAssertLessThanOrEqual(relativeError(synced.gradients[key]!, b), tolerance, "gradient of \(key)")
        }
        XCTAssertLessThanOrEqual(relativeError(synced.input, plain.input), tolerance, "input gradient")
        for (key, b) in plain.state where key.contains("running") {
            XCTAssertLessThanOrEqual(relativeError(synced.state[key]!, b), tolerance, key)
        }
    }
}
