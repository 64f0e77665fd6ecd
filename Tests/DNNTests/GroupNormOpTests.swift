import XCTest
import DNN
import TestSupport

/// The detection heads' ops (group norm, the learned scalar, exp), compiled against the plain
/// reference kernels, at the tolerance of `OpTests` (1e-4 on O(1) values).
extension OpTests {
    /// Group norm alone and fused with ReLU, where groups split channel blocks (4 or 6 channels
    /// a group against blocks of 16), cover several blocks, or hold one channel; inputs with a
    /// large mean (the variance must not come from E[x^2] - mean^2).
    func testGroupNorm() throws {
        // (channels, groups, H, W, shift of the input)
        let cases: [(Int, Int, Int, Int, Float)] = [(24, 6, 5, 7, 0), (32, 8, 3, 3, 3), (48, 3, 9, 1, 0), (20, 5, 4, 6, 0),
                                                    (7, 7, 2, 3, 0), (16, 1, 6, 5, 50)]
        for (i, c) in cases.enumerated() {
            for relu in [false, true] {
                let g = Graph()
                var x = g.input(channels: c.0)
                if c.4 != 0 { x = g.conv(x, key: "shift", outChannels: c.0, kernel: 1, bias: true) }
                let y = g.groupNorm(x, key: "gn\(i)", groups: c.1)
                g.outputs = [relu ? g.relu(y) : y]
                var params = g.randomParameters(seed: UInt64(i))
                if c.4 != 0 { params["shift.bias"] = Tensor(shape: [c.0], repeating: c.4) }
                let input = randomTensor([2, c.0, c.2, c.3], seed: UInt64(i) &+ 3)
                let expected = try g.referenceForward(parameters: params, input: input)[0]
                let plan = try Plan(graph: g, parameters: params, input: Shape4(2, c.0, c.2, c.3), threads: 2)
                let got = try plan.run(input)[0]
                XCTAssertLessThanOrEqual(got.maxAbsDifference(expected), 1e-4, "case \(i) relu \(relu)")
                if relu { XCTAssertEqual(plan.stepLabels.filter { $0.hasPrefix("group norm+relu") }.count, 1) }
            }
        }
    }

    /// Group norm normalizes: with weight 1 and bias 0 each group of the output has mean 0 and
    /// variance 1 (to 1e-4; the group's variance eps 1e-5 shrinks it by a relative ~1e-5).
    func testGroupNormStatistics() throws {
        let g = Graph()
        g.outputs = [g.groupNorm(g.input(channels: 12), key: "gn", groups: 3)]
        let params = ["gn.weight": Tensor(shape: [12], repeating: 1), "gn.bias": Tensor(zeros: [12])]
        let input = randomTensor([1, 12, 5, 5], seed: 9)
        let y = try Plan(graph: g, parameters: params, input: Shape4(1, 12, 5, 5), threads: 1).run(input)[0]
        for group in 0..<3 {
            let v = y.scalars[(group * 100)..<((group + 1) * 100)].map(Double.init)
            let mean = v.reduce(0, +) / 100
            let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 100
            XCTAssertEqual(mean, 0, accuracy: 1e-4)
            XCTAssertEqual(variance, 1, accuracy: 1e-4)
        }
    }

    /// FCOS's box branch: conv, learned scale, exp fused as oneDNN post-ops, and the same ops
    /// unfused (after a concat) on a value whose channels do not fill a block (exp keeps the
    /// padding at zero, which the concat and the next convolution read).
    func testScaleAndExp() throws {
        let g = Graph()
        let x = g.input(channels: 8)
        let fused = g.exp(g.scale(g.conv(x, key: "reg", outChannels: 4, kernel: 3, bias: true), key: "scales.0"))
        let alone = g.exp(g.scale(g.concat([g.conv(x, key: "a", outChannels: 3, kernel: 1), g.conv(x, key: "b", outChannels: 2, kernel: 1)]),
                                  key: "scales.1"))
        g.outputs = [fused, g.conv(alone, key: "after", outChannels: 5, kernel: 3, bias: true)]
        try assertPlanMatchesReference(g, input: [2, 8, 7, 5])
        let plan = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 8, 7, 5), threads: 1)
        // Only the unfused branch has scale and exp steps of its own.
        XCTAssertEqual(plan.stepLabels.filter { $0.hasPrefix("scale") }.count, 1, "\(plan.stepLabels)")
        XCTAssertEqual(plan.stepLabels.filter { $0.hasPrefix("exp") }.count, 1, "\(plan.stepLabels)")
    }

    /// A head shared by pyramid levels reads one set of weights at every level.
    func testSharedParameters() throws {
        let g = Graph()
        let x = g.input(channels: 6)
        let levels = [x, g.avgPool(x, kernel: 2, stride: 2)]
        g.outputs = levels.map { level in
            g.conv(g.relu(g.groupNorm(g.conv(level, key: "tower", outChannels: 8, kernel: 3), key: "tower.gn", groups: 2)),
                   key: "cls", outChannels: 3, kernel: 3, bias: true)
        }
        XCTAssertEqual(g.parameters.map(\.key), ["tower.weight", "tower.gn.weight", "tower.gn.bias", "cls.weight", "cls.bias"])
        XCTAssertEqual(g.sharedKeys.count, 5)
        try assertPlanMatchesReference(g, input: [1, 6, 8, 10])
    }
}

extension OpTests {
    /// Group norm on bf16 activations (8 significant bits: 2% of the output range) and the
    /// refusal of int8 plans.
    func testGroupNormBF16AndInt8() throws {
        let g = Graph()
        g.outputs = [g.relu(g.groupNorm(g.conv(g.input(channels: 3), key: "c", outChannels: 24, kernel: 3), key: "gn", groups: 6))]
        if hasNativeBF16 { try assertPlanMatchesReference(g, input: [2, 3, 9, 7], options: Plan.Options(bf16: true), relativeTolerance: 0.02) }
        let table = try Calibrator(graph: g, parameters: g.randomParameters(), input: Shape4(1, 3, 9, 7), threads: 1)
        try table.observe(randomTensor([1, 3, 9, 7], seed: 2))
        XCTAssertThrowsError(try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 3, 9, 7),
                                      options: Plan.Options(int8: try table.table()))) { error in
            XCTAssertTrue("\(error)".contains("group norm"), "\(error)")
        }
    }
}
