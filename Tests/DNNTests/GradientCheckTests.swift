import XCTest
import DNN
import TestSupport

/// Finite-difference gradient checks of the training engine, op by op, on small shapes.
///
/// The loss is L = sum_k <output_k, R_k> for fixed random R_k, so dL/d(output_k) = R_k. The
/// engine's gradients (fp32, oneDNN) are compared with central differences of L computed by a
/// double-precision reference forward (`DoubleReference`), step h = 1e-4: truncation error
/// ~h^2 and rounding ~1e-16/h, both far below the tolerance. Tolerance: 1e-3 of the largest
/// gradient of the tensor checked (plus 1e-6): fp32 sums over at most a few thousand O(1)
/// products carry relative errors ~1e-5, while a wrong formula is off by O(1) of the scale.
/// Random inputs keep ReLU and max-pool kinks farther than h from every sampled point.
final class GradientCheckTests: XCTestCase {
    typealias T = DoubleReference.T

    func doubleTensor(_ t: Tensor) -> T { T(t.shape[0], t.shape[1], t.shape[2], t.shape[3], t.scalars.map(Double.init)) }

    @discardableResult
    func checkGradients(_ g: Graph, input shape: [Int], seed: UInt64 = 1, mode: TrainingPlan.Mode = .train,
                        samples: Int = 10, threads: Int = 2, file: StaticString = #filePath, line: UInt = #line) throws -> TrainingPlan {
        let params = g.randomParameters(seed: seed)
        let x = randomTensor(shape, seed: seed &+ 7)
        let plan = try TrainingPlan(graph: g, parameters: params, input: Shape4(shape)!, threads: threads, inputGradient: true)
        plan.mode = mode
        let outputs = try plan.forward(x)
        let dp = params.mapValues { $0.scalars.map(Double.init) }
        var reference = DoubleReference(graph: g, train: mode == .train)
        let expected = try reference.forward(dp, input: doubleTensor(x))
        for (k, (o, e)) in zip(outputs, expected).enumerated() {
            let err = zip(o.scalars, e.v).map { abs(Double($0) - $1) }.max() ?? 0
            // Forward: fp32 against double, O(1) values: 1e-4 absolute.
            XCTAssertLessThanOrEqual(err, 1e-4, "output \(k) forward error", file: file, line: line)
        }
        let r = outputs.enumerated().map { randomTensor($0.element.shape, seed: seed &+ 100 &+ UInt64($0.offset)) }
        try plan.backward(r)

        let rd = r.map { $0.scalars.map(Double.init) }
        func loss(_ p: [String: [Double]], _ input: T) throws -> Double {
            var ref = DoubleReference(graph: g, train: mode == .train)
            let outs = try ref.forward(p, input: input)
            var total = 0.0
            for (o, w) in zip(outs, rd) { for i in o.v.indices { total += o.v[i] * w[i] } }
            return total
        }
        let h = 1e-4
        var keys = g.parameters.map(\.key).filter { !$0.hasSuffix("running_mean") && !$0.hasSuffix("running_var") }
        keys.append("<input>")
        for key in keys {
            let analytic = key == "<input>" ? plan.inputGradient! : plan.parameters.gradient(key)!
            let count = analytic.count
            let largest = analytic.scalars.indices.max { abs(analytic.scalars[$0]) < abs(analytic.scalars[$1]) } ?? 0
            let picks = Set((0..<min(samples, count)).map { $0 * count / min(samples, count) } + [largest, count - 1])
            let scale = Double(analytic.scalars.map(abs).max() ?? 0)
            for i in picks.sorted() {
                var plus = dp, minus = dp
                var xp = doubleTensor(x), xm = doubleTensor(x)
                if key == "<input>" { xp.v[i] += h; xm.v[i] -= h } else { plus[key]![i] += h; minus[key]![i] -= h }
                let fd = (try loss(plus, xp) - loss(minus, xm)) / (2 * h)
                let a = Double(analytic.scalars[i])
                XCTAssertLessThanOrEqual(abs(a - fd), 1e-3 * scale + 1e-6,
                                         "d/d \(key)[\(i)]: engine \(a), finite difference \(fd)", file: file, line: line)
            }
        }
        return plan
    }

    func testOCRGatherAndAttentionGradients() throws {
        // OCR's head in small: soft regions (K = 3 maps) gather centres of the pixel features,
        // BN over the (N, C, K, 1) centres, then pixels attend over them; 5 feature channels and
        // 4 key channels (not multiples of the block), odd map sizes.
        let g = Graph()
        let x = g.input(channels: 3)
        let pixels = g.relu(g.conv(x, key: "pixels", outChannels: 5, kernel: 3, bias: true))
        let regions = g.conv(x, key: "regions", outChannels: 3, kernel: 1, bias: true)
        let centres = g.spatialGather(pixels, probs: regions)
        let query = g.conv(pixels, key: "q", outChannels: 4, kernel: 1)
        let key = g.relu(g.batchNorm(g.conv(centres, key: "k", outChannels: 4, kernel: 1), key: "kbn"))
        let value = g.conv(centres, key: "v", outChannels: 6, kernel: 1)
        let attended = g.objectAttention(query: query, key: key, value: value, scale: 0.5)
        g.outputs = [attended, regions]
        try checkGradients(g, input: [2, 3, 5, 7], mode: .train)
    }

    func testConvolutionGradients() throws {
        // (in, out, kernel, stride, padding, dilation, groups, bias, H, W)
        let cases: [(Int, Int, Int, Int, Int?, Int, Int, Bool, Int, Int)] = [
            (3, 8, 3, 2, 1, 1, 1, false, 9, 7),     // stem-like: 3 channels, stride 2, odd sizes
            (16, 16, 3, 1, 1, 1, 1, true, 6, 5),
            (5, 7, 1, 1, 0, 1, 1, true, 4, 6),      // 1x1, channels not a multiple of the block
            (8, 8, 3, 1, nil, 2, 1, false, 7, 7),   // dilation 2
            (8, 12, 3, 1, 1, 1, 2, false, 5, 4),    // groups
            (4, 6, 3, 2, 1, 1, 1, false, 8, 8),     // stride 2, even sizes (right padding 0)
        ]
        for (i, c) in cases.enumerated() {
            let g = Graph()
            let x = g.input(channels: c.0)
            g.outputs = [g.conv(x, key: "c\(i)", outChannels: c.1, kernel: c.2, stride: c.3, padding: c.4, dilation: c.5,
                                groups: c.6, bias: c.7)]
            try checkGradients(g, input: [2, c.0, c.8, c.9], seed: UInt64(i))
        }
    }

    func testTransposedConvolutionGradients() throws {
        // SimpleBaseline's three geometries (kernel, padding, output padding), with and without
        // bias, the second followed by BN + ReLU as its deconv layers are; odd map sizes and
        // channel counts that are not multiples of the block.
        for (i, (k, p, op)) in [(4, 1, 0), (3, 1, 1), (2, 0, 0)].enumerated() {
            let g = Graph()
            let x = g.input(channels: 5)
            let d = g.transposedConv(x, key: "d\(i)", outChannels: 6, kernel: k, stride: 2, padding: p, outputPadding: op, bias: i != 1)
            let e = g.relu(g.batchNorm(g.transposedConv(d, key: "e\(i)", outChannels: 3, kernel: k, stride: 2, padding: p,
                                                        outputPadding: op), key: "bn\(i)"))
            g.outputs = [e]
            try checkGradients(g, input: [2, 5, 3, 4], seed: UInt64(20 + i))
        }
    }

    func testBatchNormTrainingGradientsAndRunningStatistics() throws {
        // conv -> BN -> ReLU (fused in one primitive), and a BN whose output is an output and read twice.
        let g = Graph()
        let x = g.input(channels: 3)
        let a = g.relu(g.batchNorm(g.conv(x, key: "conv1", outChannels: 5, kernel: 3), key: "bn1"))
        let b = g.batchNorm(g.conv(a, key: "conv2", outChannels: 5, kernel: 3, stride: 2), key: "bn2")
        g.outputs = [b, g.relu(g.add(b, b))]
        let params = g.randomParameters(seed: 3)
        let plan = try checkGradients(g, input: [3, 3, 7, 6], seed: 3)
        // Running statistics after one training forward: PyTorch's momentum 0.1, unbiased variance.
        var reference = DoubleReference(graph: g, train: true)
        _ = try reference.forward(params.mapValues { $0.scalars.map(Double.init) },
                                  input: doubleTensor(randomTensor([3, 3, 7, 6], seed: 3 &+ 7)))
        for key in ["bn1", "bn2"] {
            let s = reference.statistics[key]!
            let mean = plan.parameters.value("\(key).running_mean")!.scalars
            let variance = plan.parameters.value("\(key).running_var")!.scalars
            for c in 0..<mean.count {
                let m0 = Double(params["\(key).running_mean"]!.scalars[c]), v0 = Double(params["\(key).running_var"]!.scalars[c])
                let em = 0.9 * m0 + 0.1 * s.mean[c]
                let ev = 0.9 * v0 + 0.1 * s.variance[c] * Double(s.count) / Double(s.count - 1)
                // fp32 statistics of ~100 O(1) values: 1e-5.
                XCTAssertEqual(Double(mean[c]), em, accuracy: 1e-5, "\(key).running_mean[\(c)]")
                XCTAssertEqual(Double(variance[c]), ev, accuracy: 1e-5, "\(key).running_var[\(c)]")
            }
        }
        XCTAssertEqual(plan.parameters.batchesTracked, 1)
    }

    func testBatchNormEvalModeGradients() throws {
        let g = Graph()
        let x = g.input(channels: 4)
        g.outputs = [g.relu(g.batchNorm(g.conv(x, key: "conv", outChannels: 6, kernel: 3), key: "bn"))]
        let plan = try checkGradients(g, input: [2, 4, 5, 5], seed: 4, mode: .eval)
        // Eval mode leaves the running statistics alone.
        XCTAssertEqual(plan.parameters.value("bn.running_mean"), g.randomParameters(seed: 4)["bn.running_mean"])
        XCTAssertEqual(plan.parameters.batchesTracked, 0)
    }

    func testResidualBlockAccumulatesSharedGradients() throws {
        // x feeds conv1 and the shortcut; y = relu(bn2(conv2(relu(bn1(conv1 x)))) + x).
        let g = Graph()
        let x0 = g.input(channels: 3)
        let x = g.relu(g.batchNorm(g.conv(x0, key: "stem", outChannels: 8, kernel: 3), key: "stem_bn"))
        var y = g.relu(g.batchNorm(g.conv(x, key: "conv1", outChannels: 8, kernel: 3), key: "bn1"))
        y = g.batchNorm(g.conv(y, key: "conv2", outChannels: 8, kernel: 3), key: "bn2")
        let out = g.relu(g.add(y, x))
        // A second consumer of x through a pooled branch, and x itself as an output too.
        g.outputs = [out, g.conv(g.maxPool(x, kernel: 3, stride: 2, padding: 1), key: "side", outChannels: 4, kernel: 1, bias: true), x]
        try checkGradients(g, input: [2, 3, 6, 7], seed: 5, samples: 6)
    }

    func testResizeGradients() throws {
        // Nearest by 2 and 4 (pose fusion), bilinear to a reference size with both corner rules (odd sizes).
        for (i, mode) in [ResizeMode.nearest, .bilinear(alignCorners: true), .bilinear(alignCorners: false)].enumerated() {
            let g = Graph()
            let x = g.input(channels: 3)
            let high = g.conv(x, key: "high", outChannels: 6, kernel: 3)
            let low = g.conv(high, key: "low", outChannels: 6, kernel: 3, stride: 2)
            let up: Graph.Value
            if mode == .nearest { up = g.upsample(low, factor: 2, mode: .nearest) } else { up = g.resize(low, like: high, mode: mode) }
            let far = g.conv(low, key: "far", outChannels: 6, kernel: 3, stride: 2)
            let up4 = mode == .nearest ? g.upsample(far, factor: 4, mode: .nearest) : g.resize(far, like: high, mode: mode)
            g.outputs = [g.add(g.add(high, up), up4)]
            try checkGradients(g, input: [2, 3, mode == .nearest ? 8 : 9, mode == .nearest ? 12 : 11], seed: UInt64(10 + i))
        }
    }

    func testConcatGradients() throws {
        // Channel counts off the block (3 + 5 + 17), as the segmentation head's concat of odd widths.
        let g = Graph()
        let x = g.input(channels: 2)
        let a = g.conv(x, key: "a", outChannels: 3, kernel: 1)
        let b = g.conv(x, key: "b", outChannels: 5, kernel: 3)
        let c = g.conv(x, key: "c", outChannels: 17, kernel: 1)
        g.outputs = [g.conv(g.concat([a, b, c]), key: "head", outChannels: 4, kernel: 1, bias: true)]
        try checkGradients(g, input: [2, 2, 5, 4], seed: 20)
    }

    func testPoolingAndLinearGradients() throws {
        let g = Graph()
        let x = g.input(channels: 3)
        let c = g.conv(x, key: "conv", outChannels: 8, kernel: 3)
        let m = g.maxPool(c, kernel: 3, stride: 2, padding: 1)
        let a = g.avgPool(m, kernel: 3, stride: 1, padding: 1)
        let p = g.globalAveragePool(a)
        g.outputs = [g.linear(p, key: "fc", inFeatures: 8, outFeatures: 5), g.linear(m, key: "fc2", inFeatures: 8 * 4 * 3, outFeatures: 3, bias: false)]
        try checkGradients(g, input: [2, 3, 8, 6], seed: 30)
    }

    func testOneThreadMatchesTwo() throws {
        let g = Graph()
        let x = g.input(channels: 3)
        g.outputs = [g.relu(g.batchNorm(g.conv(x, key: "conv", outChannels: 16, kernel: 3), key: "bn"))]
        try checkGradients(g, input: [2, 3, 6, 6], seed: 40, threads: 1)
    }

    func testBackwardNeedsAForward() throws {
        let g = Graph()
        g.outputs = [g.conv(g.input(channels: 3), key: "c", outChannels: 4, kernel: 1)]
        let plan = try TrainingPlan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 3, 4, 4), threads: 1)
        XCTAssertThrowsError(try plan.backward([Tensor(zeros: [1, 4, 4, 4])]))
        _ = try plan.forward(Tensor(zeros: [1, 3, 4, 4]))
        XCTAssertThrowsError(try plan.backward([Tensor(zeros: [1, 4, 4, 5])]))   // wrong shape
        XCTAssertThrowsError(try plan.forward(Tensor(zeros: [2, 3, 4, 4])))       // wrong input shape
        try plan.backward([Tensor(zeros: [1, 4, 4, 4])])
        XCTAssertThrowsError(try plan.backward([Tensor(zeros: [1, 4, 4, 4])]))    // activations consumed
    }

    func testBadInputsAreClearErrors() throws {
        let g = Graph()
        g.outputs = [g.batchNorm(g.conv(g.input(channels: 3), key: "c", outChannels: 4, kernel: 1), key: "bn")]
        var params = g.randomParameters()
        params["bn.running_var"] = nil
        XCTAssertThrowsError(try TrainingPlan(graph: g, parameters: params, input: Shape4(1, 3, 4, 4))) {
            XCTAssertTrue("\($0)".contains("bn.running_var"), "\($0)")
        }
        params = g.randomParameters()
        params["c.weight"] = Tensor(zeros: [4, 3, 3, 3])
        XCTAssertThrowsError(try TrainingPlan(graph: g, parameters: params, input: Shape4(1, 3, 4, 4))) {
            XCTAssertTrue("\($0)".contains("c.weight"), "\($0)")
        }
        XCTAssertThrowsError(try TrainingPlan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 5, 4, 4)))
        // A non-finite loss stops the step before the backward pass.
        let plan = try TrainingPlan(graph: g, parameters: g.randomParameters(), input: Shape4(2, 3, 4, 4), threads: 1)
        XCTAssertThrowsError(try plan.step(Tensor(zeros: [2, 3, 4, 4])) { _ in (Double.nan, [Tensor(zeros: [2, 4, 4, 4])]) }) {
            XCTAssertTrue("\($0)".contains("nan"), "\($0)")
        }
        // Reading back what was given: a packed layout converts back exactly.
        XCTAssertEqual(plan.parameters.value("c.weight"), g.randomParameters()["c.weight"])
    }
}
