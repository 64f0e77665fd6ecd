import XCTest
import DNN
import TestSupport

/// int8 plans (u8/s8 activations, s8 per-channel weights, VNNI) against the fp32 reference
/// interpreter, on small graphs that take every int8 path: a chain of int8 convolutions, the
/// residual sum in place (u8 residual under a u8 output), a signed residual copied under an
/// unsigned output, a residual that stays live, int8 convolutions writing fp32 for the
/// engine's NHWC kernels (add, resize + add nearest and bilinear, affine), concat, pooling and
/// a linear head.
///
/// Tolerance: each graph is calibrated on the very input it is checked on, so nothing
/// saturates and every error is rounding. One int8 convolution rounds its input to half a
/// step (1/510 of the range for u8, 1/254 for s8), its weights to half a step of 1/254 of
/// each channel's max, and its output to half a step; summed over a few hundred products
/// with random signs these give about 1% of the output range per layer. The graphs here have
/// two to four int8 layers in a row, so the bound is 5% of the output's range (max |y|); the
/// measured errors are printed and are 2-4x below it. A plan that ignored a scale, lost the
/// bias or read a wrong layout is off by tens of percent or more.
final class Int8Tests: XCTestCase {
    let relativeTolerance: Float = 0.05

    /// Calibrates `graph` on a random input, runs it in int8 with 1 and 2 threads and compares
    /// with the fp32 reference; returns the plan's implementations.
    @discardableResult
    func assertInt8MatchesReference(_ graph: Graph, input shape: [Int], seed: UInt64 = 1, minimumInt8Convolutions: Int = 1,
                                    file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let params = graph.randomParameters(seed: seed)
        let x = randomTensor(shape, seed: seed &+ 7)
        let expected = try graph.referenceForward(parameters: params, input: x)
        let calibrator = try Calibrator(graph: graph, parameters: params, input: Shape4(shape)!, threads: 2)
        try calibrator.observe(x)
        let table = try calibrator.table()
        var implementations: [String] = []
        for threads in [1, 2] {
            let plan = try Plan(graph: graph, parameters: params, input: Shape4(shape)!, threads: threads, options: Plan.Options(int8: table))
            let got = try plan.run(x)
            for (g, e) in zip(got, expected) {
                XCTAssertEqual(g.shape, e.shape, file: file, line: line)
                let range = max(e.scalars.map(abs).max() ?? 0, 1e-6)
                let err = g.maxAbsDifference(e)
                print("int8 \(shape) threads \(threads): max abs error \(err) = \(100 * err / range)% of range \(range)")
                XCTAssertLessThanOrEqual(err, relativeTolerance * range, "max abs error \(err), range \(range), \(threads) threads",
                                         file: file, line: line)
                XCTAssertGreaterThan(err, 0, "an int8 plan must differ from fp32", file: file, line: line)
            }
            XCTAssertEqual(try plan.run(x), got, "a second run gives the same answer", file: file, line: line)
            implementations = plan.implementations.filter { $0.step.hasPrefix("int8 convolution") }.map(\.implementation)
        }
        XCTAssertGreaterThanOrEqual(implementations.count, minimumInt8Convolutions, "int8 convolutions: \(implementations)",
                                    file: file, line: line)
        // VNNI kernels where the CPU has them; never oneDNN's reference loops.
        for i in implementations { XCTAssertFalse(i.hasPrefix("ref"), "int8 convolution ran as \(i)", file: file, line: line) }
        return implementations
    }

    /// An fp32 stem reading the image, two int8 conv-BN-ReLU layers (3x3 and 1x1, with bias),
    /// and an fp32 head writing the output.
    func testConvChain() throws {
        let g = Graph()
        var y = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 16, kernel: 3, stride: 2), key: "bn0"))
        y = g.relu(g.batchNorm(g.conv(y, key: "c1", outChannels: 32, kernel: 3), key: "bn1"))
        y = g.relu(g.conv(y, key: "c2", outChannels: 24, kernel: 1, bias: true))
        y = g.relu(g.batchNorm(g.conv(y, key: "c3", outChannels: 18, kernel: 3, stride: 2), key: "bn3"))
        g.outputs = [g.conv(y, key: "head", outChannels: 5, kernel: 1, bias: true)]
        let impl = try assertInt8MatchesReference(g, input: [2, 3, 20, 16], minimumInt8Convolutions: 3)
        XCTAssertEqual(impl.count, 3, "stem and head stay fp32: \(impl)")
    }

    /// SimpleBaseline's head in small: int8 transposed convolutions (kernels 4 and 3) with BN and
    /// ReLU folded in, between an fp32 stem and an fp32 final layer.
    func testTransposedConvolutions() throws {
        let g = Graph()
        var y = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 16, kernel: 3, stride: 2), key: "bn0"))
        y = g.relu(g.batchNorm(g.conv(y, key: "c1", outChannels: 32, kernel: 3, stride: 2), key: "bn1"))
        y = g.relu(g.batchNorm(g.transposedConv(y, key: "d1", outChannels: 24, kernel: 4, stride: 2, padding: 1), key: "bnd1"))
        y = g.relu(g.batchNorm(g.transposedConv(y, key: "d2", outChannels: 16, kernel: 3, stride: 2, padding: 1, outputPadding: 1),
                               key: "bnd2"))
        g.outputs = [g.conv(y, key: "head", outChannels: 5, kernel: 1, bias: true)]
        try assertInt8MatchesReference(g, input: [2, 3, 16, 12], minimumInt8Convolutions: 3)
    }

    /// A basic block: the second conv sums into the block input's buffer (u8 residual, u8 output, in place).
    func testResidualSumInPlace() throws {
        let g = Graph()
        let x = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 16, kernel: 3), key: "bn0"))
        let x1 = g.relu(g.batchNorm(g.conv(x, key: "c0", outChannels: 16, kernel: 3), key: "b0"))
        let a = g.relu(g.batchNorm(g.conv(x1, key: "c1", outChannels: 16, kernel: 3), key: "b1"))
        let b = g.batchNorm(g.conv(a, key: "c2", outChannels: 16, kernel: 3), key: "b2")
        let y = g.relu(g.add(b, x1))
        let z = g.relu(g.batchNorm(g.conv(y, key: "c3", outChannels: 16, kernel: 3), key: "b3"))
        g.outputs = [g.conv(z, key: "head", outChannels: 4, kernel: 1, bias: true)]
        try assertInt8MatchesReference(g, input: [2, 3, 10, 8], minimumInt8Convolutions: 4)
    }

    /// A bottleneck's first block: the downsample branch (conv + BN, no ReLU) is a signed
    /// residual summed under the block's unsigned (ReLU) output.
    func testSignedResidualUnderUnsignedOutput() throws {
        let g = Graph()
        let x = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 16, kernel: 3), key: "bn0"))
        let x1 = g.relu(g.batchNorm(g.conv(x, key: "c0", outChannels: 16, kernel: 3), key: "b0"))
        let down = g.batchNorm(g.conv(x1, key: "down", outChannels: 32, kernel: 1), key: "bd")
        let a = g.relu(g.batchNorm(g.conv(x1, key: "c1", outChannels: 16, kernel: 1), key: "b1"))
        let b = g.batchNorm(g.conv(a, key: "c2", outChannels: 32, kernel: 3), key: "b2")
        let y = g.relu(g.add(b, down))
        let z = g.relu(g.batchNorm(g.conv(y, key: "c3", outChannels: 16, kernel: 1), key: "b3"))
        g.outputs = [g.conv(z, key: "head", outChannels: 4, kernel: 1, bias: true)]
        try assertInt8MatchesReference(g, input: [1, 3, 12, 10], minimumInt8Convolutions: 5)
    }

    /// The residual is read again after the sum, so it is copied into the output, not overwritten.
    func testResidualThatStaysLive() throws {
        let g = Graph()
        let x = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 16, kernel: 3), key: "bn0"))
        let r = g.relu(g.batchNorm(g.conv(x, key: "r", outChannels: 16, kernel: 3), key: "br"))
        let b = g.batchNorm(g.conv(r, key: "c", outChannels: 16, kernel: 3), key: "bn")
        let s = g.add(r, b)
        let t = g.relu(g.conv(r, key: "again", outChannels: 16, kernel: 1))
        let u = g.relu(g.conv(s, key: "after", outChannels: 16, kernel: 1))
        g.outputs = [g.conv(u, key: "head1", outChannels: 3, kernel: 1), g.conv(t, key: "head2", outChannels: 3, kernel: 1)]
        try assertInt8MatchesReference(g, input: [2, 3, 9, 7], minimumInt8Convolutions: 4)
    }

    /// An HRNet fusion unit over two streams: the low stream's conv1x1 + BN (int8, fp32 output)
    /// upsampled and added into the high stream (resize + add kernel, NHWC), the high stream's
    /// strided conv + BN summed onto the low stream; nearest (pose) and bilinear (segmentation),
    /// 18 channels so the NHWC kernels take their 16-wide and scalar paths.
    func testFusionUnit() throws {
        for mode in [ResizeMode.nearest, .bilinear(alignCorners: true), .bilinear(alignCorners: false)] {
            let g = Graph()
            let x = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 18, kernel: 3), key: "bn0"))
            let x0 = g.relu(g.batchNorm(g.conv(x, key: "b0", outChannels: 18, kernel: 3), key: "bb0"))
            let x1 = g.relu(g.batchNorm(g.conv(x0, key: "t1", outChannels: 36, kernel: 3, stride: 2), key: "bt1"))
            let up = g.batchNorm(g.conv(x1, key: "f01", outChannels: 18, kernel: 1), key: "bf01")
            let y0 = g.relu(g.add(x0, mode == .nearest ? g.upsample(up, factor: 2, mode: mode) : g.resize(up, like: x0, mode: mode)))
            let down = g.batchNorm(g.conv(x0, key: "f10", outChannels: 36, kernel: 3, stride: 2), key: "bf10")
            let y1 = g.relu(g.add(down, x1))
            let z0 = g.relu(g.batchNorm(g.conv(y0, key: "n0", outChannels: 18, kernel: 3), key: "bn0b"))
            let z1 = g.relu(g.batchNorm(g.conv(y1, key: "n1", outChannels: 36, kernel: 3), key: "bn1b"))
            g.outputs = [g.conv(z0, key: "head0", outChannels: 4, kernel: 1, bias: true),
                         g.conv(z1, key: "head1", outChannels: 4, kernel: 1, bias: true)]
            try assertInt8MatchesReference(g, input: [2, 3, 12, 16], minimumInt8Convolutions: 6)
        }
    }

    /// Ops other than convolutions on NHWC fp32 values between int8 convolutions: an add without
    /// ReLU, an unfolded batch norm, concat, max and average pooling, global pooling and a linear layer.
    func testOtherOpsBetweenInt8Convolutions() throws {
        let g = Graph()
        let x = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 16, kernel: 3), key: "bn0"))
        let a = g.relu(g.batchNorm(g.conv(x, key: "a", outChannels: 16, kernel: 3), key: "ba"))
        let b = g.relu(g.batchNorm(g.conv(x, key: "b", outChannels: 16, kernel: 1), key: "bb"))
        let sum = g.add(a, b)
        let normed = g.relu(g.batchNorm(g.add(sum, a), key: "loose"))
        let cat = g.concat([normed, b])
        let pooled = g.maxPool(cat, kernel: 3, stride: 2, padding: 1)
        let c = g.relu(g.batchNorm(g.conv(pooled, key: "c", outChannels: 24, kernel: 3), key: "bc"))
        let avg = g.avgPool(c, kernel: 2, stride: 2)
        let d = g.relu(g.conv(avg, key: "d", outChannels: 32, kernel: 1, bias: true))
        let gap = g.globalAveragePool(d)
        g.outputs = [g.linear(gap, key: "fc", inFeatures: 32, outFeatures: 6)]
        try assertInt8MatchesReference(g, input: [2, 3, 16, 16], minimumInt8Convolutions: 4)
    }

    /// Heatmaps with real peaks: a small HRNet-like net (stem, residual block, a low stream
    /// fused back by nearest upsampling, four int8 convolutions) trained to draw two Gaussian
    /// joints on each of four images, then run in int8 calibrated on those images. Random nets
    /// have flat heatmaps whose arg-max any rounding moves; a trained one has peaks, and int8
    /// keeps each on the same cell (measured 8/8): at least 7 of the 8 arg-maxes stay on the
    /// fp32 cell and none moves by more than one cell.
    func testTrainedHeatmapPeaks() throws {
        let g = Graph()
        let x = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 16, kernel: 3), key: "bn0"))
        let a = g.relu(g.batchNorm(g.conv(x, key: "c1", outChannels: 16, kernel: 3), key: "b1"))
        let high = g.relu(g.add(g.batchNorm(g.conv(a, key: "c2", outChannels: 16, kernel: 3), key: "b2"), x))
        let low = g.relu(g.batchNorm(g.conv(high, key: "down", outChannels: 32, kernel: 3, stride: 2), key: "bd"))
        let back = g.batchNorm(g.conv(low, key: "up", outChannels: 16, kernel: 1), key: "bu")
        let fused = g.relu(g.add(high, g.upsample(back, factor: 2, mode: .nearest)))
        g.outputs = [g.conv(fused, key: "final_layer", outChannels: 2, kernel: 1, bias: true)]

        var rng = SplitMix64(seed: 5)
        let (n, h, w) = (4, 24, 16)
        let images = randomTensor([n, 3, h, w], seed: 9)
        var target = Tensor(zeros: [n, 2, h, w])
        for s in 0..<n { for j in 0..<2 {
            let cy = Float(2 + Int(rng.next() % UInt64(h - 4))), cx = Float(2 + Int(rng.next() % UInt64(w - 4)))
            for i in 0..<h { for k in 0..<w {
                target[s, j, i, k] = exp(-((Float(i) - cy) * (Float(i) - cy) + (Float(k) - cx) * (Float(k) - cx)) / 8)
            }}
        }}
        let trainer = try TrainingPlan(graph: g, parameters: g.randomParameters(seed: 2), input: Shape4(n, 3, h, w), threads: 2)
        let adam = Adam(learningRate: 1e-2)
        let loss = JointsMSELoss()
        let weight = Tensor(shape: [n, 2, 1], repeating: 1)
        for _ in 0..<100 {
            _ = try trainer.step(images) { try loss($0, target: target, targetWeight: weight) }
            adam.update(trainer.parameters)
        }
        let params = trainer.parameters.state()

        let fp32 = try Plan(graph: g, parameters: params, input: Shape4(n, 3, h, w), threads: 2).run(images)[0]
        let calibrator = try Calibrator(graph: g, parameters: params, input: Shape4(n, 3, h, w), threads: 2)
        try calibrator.observe(images)
        let int8 = try Plan(graph: g, parameters: params, input: Shape4(n, 3, h, w), threads: 2,
                            options: Plan.Options(int8: try calibrator.table())).run(images)[0]
        var same = 0, farthest = 0, onTarget = 0
        for map in 0..<(n * 2) {
            func peak(_ t: Tensor) -> (Int, Int) {
                let base = map * h * w
                var best = base
                for i in base..<(base + h * w) where t.scalars[i] > t.scalars[best] { best = i }
                return ((best - base) / w, (best - base) % w)
            }
            let (p, q, t) = (peak(int8), peak(fp32), peak(target))
            if p == q { same += 1 }
            if q == t { onTarget += 1 }
            farthest = max(farthest, max(abs(p.0 - q.0), abs(p.1 - q.1)))
        }
        let range = fp32.scalars.map(abs).max()!
        print("trained peaks: fp32 on target \(onTarget)/8; int8 arg-max = fp32 on \(same)/8, farthest \(farthest) cells; "
              + "max abs error \(int8.maxAbsDifference(fp32)) of range \(range)")
        XCTAssertGreaterThanOrEqual(onTarget, 7, "the net did not learn its peaks; the test would mean nothing")
        XCTAssertGreaterThanOrEqual(same, 7)
        XCTAssertLessThanOrEqual(farthest, 1)
        XCTAssertLessThanOrEqual(int8.maxAbsDifference(fp32), relativeTolerance * range)
    }

    func testInt8ExcludesBF16() throws {
        let g = Graph()
        g.outputs = [g.conv(g.relu(g.conv(g.input(channels: 3), key: "a", outChannels: 8, kernel: 3)), key: "b", outChannels: 8, kernel: 3)]
        let params = g.randomParameters()
        let calibrator = try Calibrator(graph: g, parameters: params, input: Shape4(1, 3, 8, 8))
        try calibrator.observe(randomTensor([1, 3, 8, 8], seed: 3))
        XCTAssertThrowsError(try Plan(graph: g, parameters: params, input: Shape4(1, 3, 8, 8),
                                      options: Plan.Options(bf16: true, int8: try calibrator.table()))) { error in
            XCTAssertTrue("\(error)".contains("exclude"), "\(error)")
        }
    }
}
