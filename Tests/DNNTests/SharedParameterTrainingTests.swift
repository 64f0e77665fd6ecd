import XCTest
import DNN
import TestSupport

/// A head shared by pyramid levels (FCOS: the same convolutions, group norms and per-level
/// scales applied to maps of several sizes): the gradient of a shared parameter is the sum of
/// what each reader contributes. Checked against the same graph with every reader's parameters
/// under keys of their own (equal values): the shared gradient must equal the sum of theirs.
final class SharedParameterTrainingTests: XCTestCase {
    /// Two levels (16x16: Winograd-sized, and 8x8) through one head: conv 3x3 (32 -> 32), GN +
    /// ReLU, conv 1x1 with bias, a scale, exp; `shared` false gives each level its own keys.
    func graph(shared: Bool) -> Graph {
        let g = Graph()
        let x = g.input(channels: 3)
        let p3 = g.relu(g.conv(x, key: "stem", outChannels: 32, kernel: 3))
        let p4 = g.relu(g.conv(p3, key: "down", outChannels: 32, kernel: 3, stride: 2))
        var outputs: [Graph.Value] = []
        for (level, feature) in [p3, p4].enumerated() {
            let k = shared ? "" : "\(level)."
            let t = g.relu(g.groupNorm(g.conv(feature, key: "\(k)tower", outChannels: 32, kernel: 3), key: "\(k)tower_gn", groups: 8))
            outputs.append(g.exp(g.scale(g.conv(t, key: "\(k)reg", outChannels: 4, kernel: 1, bias: true), key: "\(k)scale")))
        }
        g.outputs = outputs
        return g
    }

    func testSharedGradientIsTheSumOfTheReaders() throws {
        let sharedGraph = graph(shared: true), separateGraph = graph(shared: false)
        XCTAssertEqual(sharedGraph.sharedKeys, ["tower.weight", "tower_gn.weight", "tower_gn.bias", "reg.weight", "reg.bias", "scale.scale"])
        var parameters = sharedGraph.randomParameters(seed: 4)
        parameters["scale.scale"] = Tensor(shape: [], scalars: [0.7])
        var separate: [String: Tensor] = [:]
        for (key, value) in parameters {
            if sharedGraph.sharedKeys.contains(key) { for level in 0..<2 { separate["\(level).\(key)"] = value } } else { separate[key] = value }
        }
        let input = Shape4(2, 3, 16, 16)
        let x = randomTensor(input.dims, seed: 9)
        func run(_ g: Graph, _ p: [String: Tensor]) throws -> (outputs: [Tensor], plan: TrainingPlan) {
            let plan = try TrainingPlan(graph: g, parameters: p, input: input, threads: 2)
            let outputs = try plan.forward(x)
            try plan.backward(outputs.enumerated().map { randomTensor($0.element.shape, seed: 40 + UInt64($0.offset)) })
            return (outputs, plan)
        }
        let a = try run(sharedGraph, parameters), b = try run(separateGraph, separate)
        for (u, v) in zip(a.outputs, b.outputs) { XCTAssertEqual(u.scalars, v.scalars, "the same forward") }
        for key in parameters.keys.sorted() {
            let got = try XCTUnwrap(a.plan.parameters.gradient(key), key)
            let want: [Float]
            if sharedGraph.sharedKeys.contains(key) {
                let g0 = try XCTUnwrap(b.plan.parameters.gradient("0.\(key)")), g1 = try XCTUnwrap(b.plan.parameters.gradient("1.\(key)"))
                want = zip(g0.scalars, g1.scalars).map { $0 + $1 }
            } else {
                want = try XCTUnwrap(b.plan.parameters.gradient(key)).scalars
            }
            let scale = max(want.map(abs).max() ?? 0, 1e-12)
            // One float addition of the two parts: within a few roundings of the parts' sum.
            let error = zip(got.scalars, want).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(error / scale, 1e-5, key)
        }
        // A second step accumulates afresh (the parts are overwritten, not added to).
        _ = try a.plan.forward(x)
        try a.plan.backward(a.outputs.enumerated().map { randomTensor($0.element.shape, seed: 40 + UInt64($0.offset)) })
        let again = try XCTUnwrap(a.plan.parameters.gradient("tower.weight"))
        let g0 = try XCTUnwrap(b.plan.parameters.gradient("0.tower.weight")), g1 = try XCTUnwrap(b.plan.parameters.gradient("1.tower.weight"))
        let want = zip(g0.scalars, g1.scalars).map { $0 + $1 }
        XCTAssertLessThanOrEqual(zip(again.scalars, want).map { abs($0 - $1) }.max()! / want.map(abs).max()!, 1e-5)
    }
}
