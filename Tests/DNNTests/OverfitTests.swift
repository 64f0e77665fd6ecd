import XCTest
import DNN
import TestSupport

/// End to end: a small conv net (conv-BN-ReLU stack with a residual add and a nearest
/// upsampling, heatmap head) memorizes four synthetic samples: the JointsMSE loss must fall by
/// 100x within 150 Adam steps. Catches anything that makes training stall (wrong sign, stale
/// packed weights, BN statistics not flowing) that per-op checks could miss.
final class OverfitTests: XCTestCase {
    func testTinyModelOverfitsFewSamples() throws {
        let g = Graph()
        let x = g.input(channels: 3)
        let a = g.relu(g.batchNorm(g.conv(x, key: "conv1", outChannels: 16, kernel: 3), key: "bn1"))
        let b = g.relu(g.batchNorm(g.conv(a, key: "conv2", outChannels: 16, kernel: 3, stride: 2), key: "bn2"))
        let c = g.batchNorm(g.conv(b, key: "conv3", outChannels: 16, kernel: 3), key: "bn3")
        let low = g.relu(g.add(c, b))
        let up = g.relu(g.add(a, g.upsample(low, factor: 2, mode: .nearest)))
        g.outputs = [g.conv(up, key: "final_layer", outChannels: 2, kernel: 1, bias: true)]

        // Four images, two Gaussian "joints" each at random places; one joint marked invisible.
        var rng = SplitMix64(seed: 7)
        let (n, h, w) = (4, 16, 16)
        let images = randomTensor([n, 3, h, w], seed: 3)
        var target = Tensor(zeros: [n, 2, h, w])
        for s in 0..<n { for j in 0..<2 {
            let cy = Float(rng.nextUnitFloat() * Float(h - 1)), cx = Float(rng.nextUnitFloat() * Float(w - 1))
            for i in 0..<h { for k in 0..<w {
                target[s, j, i, k] = exp(-((Float(i) - cy) * (Float(i) - cy) + (Float(k) - cx) * (Float(k) - cx)) / 8)
            }}
        }}
        var weight = Tensor(shape: [n, 2, 1], repeating: 1)
        weight[3, 1, 0] = 0

        let trainer = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 1), input: Shape4(n, 3, h, w), threads: 2)
        let adam = Adam(learningRate: 1e-2)
        let loss = JointsMSELoss()
        var first = 0.0, last = 0.0
        for k in 0..<150 {
            last = try trainer.step(images) { try loss($0, target: target, targetWeight: weight) }
            adam.update(trainer.parameters)
            if k == 0 { first = last }
            if last < first / 100 { break }
        }
        XCTAssertLessThan(last, first / 100, "loss \(first) -> \(last)")
    }
}
