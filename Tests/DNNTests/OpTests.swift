import XCTest
import DNN
import TestSupport

/// Every op, and every fused pattern, compiled by `Plan` (oneDNN + engine kernels) against
/// the plain reference kernels. Values are O(1); fp32 sums over at most a few hundred
/// products agree to well under 1e-4, which is the tolerance used throughout.
final class OpTests: XCTestCase {
    func testConvolutionVariants() throws {
        // (in channels, out, kernel, stride, padding, dilation, groups, bias, H, W)
        let cases: [(Int, Int, Int, Int, Int?, Int, Int, Bool, Int, Int)] = [
            (3, 16, 3, 2, 1, 1, 1, false, 17, 13),   // stem: plain NCHW input, odd sizes, stride 2
            (16, 32, 3, 1, 1, 1, 1, false, 8, 6),
            (20, 12, 1, 1, 0, 1, 1, true, 7, 9),     // channels not a multiple of the block
            (8, 8, 3, 2, 1, 1, 1, false, 9, 9),
            (16, 16, 3, 1, nil, 2, 1, false, 11, 10), // dilation 2, "same" padding
            (16, 24, 3, 1, 1, 1, 2, true, 6, 7),     // groups
            (5, 7, 5, 1, 2, 1, 1, true, 6, 5),       // 5x5 kernel
        ]
        for (i, c) in cases.enumerated() {
            let g = Graph()
            let x = g.input(channels: c.0)
            g.outputs = [g.conv(x, key: "c\(i)", outChannels: c.1, kernel: c.2, stride: c.3, padding: c.4,
                                dilation: c.5, groups: c.6, bias: c.7)]
            try assertPlanMatchesReference(g, input: [2, c.0, c.8, c.9], seed: UInt64(i))
        }
    }

    func testConvBatchNormReluFolded() throws {
        let g = Graph()
        let x = g.input(channels: 3)
        var y = g.relu(g.batchNorm(g.conv(x, key: "conv1", outChannels: 18, kernel: 3, stride: 2), key: "bn1"))
        y = g.relu(g.batchNorm(g.conv(y, key: "conv2", outChannels: 18, kernel: 3, bias: true), key: "bn2"))
        g.outputs = [y]
        try assertPlanMatchesReference(g, input: [1, 3, 16, 12])
    }

    /// A residual block: conv-BN-ReLU-conv-BN + identity, ReLU. The second conv accumulates
    /// into the identity's buffer (which dies there) with a sum post-op.
    func testResidualSumInPlace() throws {
        let g = Graph()
        let x = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 16, kernel: 3), key: "bn0"))
        let a = g.relu(g.batchNorm(g.conv(x, key: "c1", outChannels: 16, kernel: 3), key: "b1"))
        let b = g.batchNorm(g.conv(a, key: "c2", outChannels: 16, kernel: 3), key: "b2")
        g.outputs = [g.relu(g.add(b, x))]
        try assertPlanMatchesReference(g, input: [2, 3, 10, 8])
    }

    /// The residual is still needed after the add, so it must be copied, not overwritten.
    func testResidualSumWithLiveResidual() throws {
        let g = Graph()
        let x = g.conv(g.input(channels: 4), key: "stem", outChannels: 12, kernel: 1)
        let b = g.batchNorm(g.conv(x, key: "c", outChannels: 12, kernel: 3), key: "bn")
        let s = g.relu(g.add(x, b))
        g.outputs = [g.add(s, x), x]
        try assertPlanMatchesReference(g, input: [1, 4, 6, 6])
    }

    func testStandaloneOps() throws {
        let g = Graph()
        let x = g.input(channels: 6)
        let bn = g.batchNorm(x, key: "bn")            // BN on the input: affine kernel on the blocked copy
        let r = g.relu(g.add(bn, x))                   // add + ReLU kernel
        let r2 = g.relu(r)                             // lone ReLU
        g.outputs = [g.add(r2, g.batchNorm(r, key: "bn2"))]
        try assertPlanMatchesReference(g, input: [2, 6, 5, 7])
    }

    func testResizeModes() throws {
        for mode in [ResizeMode.nearest, .bilinear(alignCorners: true), .bilinear(alignCorners: false)] {
            // By factor.
            let g = Graph()
            let x = g.conv(g.input(channels: 3), key: "c", outChannels: 20, kernel: 1)
            g.outputs = [g.upsample(x, factor: 2, mode: mode), g.upsample(x, factor: 4, mode: mode)]
            try assertPlanMatchesReference(g, input: [2, 3, 5, 3])
            // To another value's size, odd sizes (the HRNetV2 fusion and head).
            let h = Graph()
            let hi = h.conv(h.input(channels: 3), key: "hi", outChannels: 8, kernel: 3)
            let lo = h.conv(hi, key: "lo", outChannels: 8, kernel: 3, stride: 2)
            let lower = h.conv(lo, key: "lower", outChannels: 8, kernel: 3, stride: 2)
            h.outputs = [h.resize(lower, like: hi, mode: mode), h.resize(lo, like: hi, mode: mode)]
            try assertPlanMatchesReference(h, input: [1, 3, 13, 11])
        }
    }

    /// A fusion unit's high-resolution output: x0 + up(BN(conv1x1(x1))) + up(BN(conv1x1(x2))), ReLU.
    func testResizeAddFused() throws {
        for mode in [ResizeMode.nearest, .bilinear(alignCorners: true)] {
            let g = Graph()
            let x0 = g.conv(g.input(channels: 3), key: "x0", outChannels: 8, kernel: 3)
            let x1 = g.conv(x0, key: "x1", outChannels: 16, kernel: 3, stride: 2)
            let x2 = g.conv(x1, key: "x2", outChannels: 32, kernel: 3, stride: 2)
            var y = g.add(x0, g.upsample(g.batchNorm(g.conv(x1, key: "f1", outChannels: 8, kernel: 1), key: "fb1"), factor: 2, mode: mode))
            y = g.add(y, g.upsample(g.batchNorm(g.conv(x2, key: "f2", outChannels: 8, kernel: 1), key: "fb2"), factor: 4, mode: mode))
            // and a lower stream: x1 + BN(conv3x3 s2(x0))
            let y1 = g.relu(g.add(g.batchNorm(g.conv(x0, key: "d0", outChannels: 16, kernel: 3, stride: 2), key: "db0"), x1))
            g.outputs = [g.relu(y), y1]
            try assertPlanMatchesReference(g, input: [2, 3, 16, 12])
        }
    }

    func testConcat() throws {
        let g = Graph()
        let x = g.input(channels: 3)
        let a = g.conv(x, key: "a", outChannels: 8, kernel: 1)
        let b = g.conv(x, key: "b", outChannels: 12, kernel: 3)
        let c = g.conv(x, key: "c", outChannels: 20, kernel: 1)
        g.outputs = [g.concat([a, b, c])]
        try assertPlanMatchesReference(g, input: [2, 3, 6, 5])
    }

    /// Whole channel blocks (16, 32, 48: HRNet-W48's head) concatenate by the engine's copy, in
    /// fp32 and bf16 (bf16 exactly: the copy moves stored values), batch 3, and the output feeds a
    /// convolution as the segmentation head's does.
    func testConcatOfWholeBlocks() throws {
        let g = Graph()
        let x = g.input(channels: 3)
        let parts = [16, 32, 48].enumerated().map { g.relu(g.conv(x, key: "p\($0.offset)", outChannels: $0.element, kernel: 3)) }
        let cat = g.concat(parts)
        g.outputs = [cat, g.conv(cat, key: "head", outChannels: 5, kernel: 1, bias: true)]
        try assertPlanMatchesReference(g, input: [3, 3, 11, 9])
        let plan = try Plan(graph: g, parameters: g.randomParameters(seed: 1), input: Shape4(3, 3, 11, 9), threads: 2)
        XCTAssertTrue(plan.stepLabels.contains("concat [engine]"), "\(plan.stepLabels)")
        if hasNativeBF16 {
            let params = g.randomParameters(seed: 1), input = randomTensor([3, 3, 11, 9], seed: 4)
            let bf16 = try Plan(graph: g, parameters: params, input: Shape4(3, 3, 11, 9), threads: 2, options: .init(bf16: true)).run(input)
            // The concatenation equals its parts (each the same bf16 plan's outputs, so bit for bit).
            let alone = Graph()
            let y = alone.input(channels: 3)
            alone.outputs = [16, 32, 48].enumerated().map { alone.relu(alone.conv(y, key: "p\($0.offset)", outChannels: $0.element, kernel: 3)) }
            let parts = try Plan(graph: alone, parameters: params.filter { $0.key.hasPrefix("p") }, input: Shape4(3, 3, 11, 9), threads: 2,
                                 options: .init(bf16: true)).run(input)
            var offset = 0
            for part in parts {
                for n in 0..<3 { for c in 0..<part.shape[1] { for i in 0..<11 { for j in 0..<9 {
                    XCTAssertEqual(bf16[0][n, offset + c, i, j], part[n, c, i, j])
                } } } }
                offset += part.shape[1]
            }
        }
    }

    func testPooling() throws {
        let g = Graph()
        let x = g.conv(g.input(channels: 3), key: "c", outChannels: 16, kernel: 3)
        g.outputs = [
            g.maxPool(x, kernel: 3, stride: 2, padding: 1),
            g.avgPool(x, kernel: 2, stride: 2),
            g.avgPool(x, kernel: 3, stride: 1, padding: 1),
            g.globalAveragePool(x),
        ]
        try assertPlanMatchesReference(g, input: [2, 3, 9, 7])
    }

    func testGlobalPoolAndLinear() throws {
        let g = Graph()
        let x = g.conv(g.input(channels: 3), key: "c", outChannels: 24, kernel: 3, stride: 2)
        let p = g.globalAveragePool(x)
        let f = g.relu(g.linear(p, key: "fc1", inFeatures: 24, outFeatures: 10))
        g.outputs = [g.linear(f, key: "fc2", inFeatures: 10, outFeatures: 5, bias: false)]
        try assertPlanMatchesReference(g, input: [3, 3, 8, 8])
        // Linear straight over a spatial map (flattened C*H*W).
        let h = Graph()
        let y = h.conv(h.input(channels: 2), key: "c", outChannels: 4, kernel: 1)
        h.outputs = [h.linear(y, key: "fc", inFeatures: 4 * 3 * 2, outFeatures: 7)]
        try assertPlanMatchesReference(h, input: [2, 2, 3, 2])
    }

    func testWrongInputShapeIsAnError() throws {
        let g = Graph()
        let x = g.input(channels: 3)
        let a = g.conv(x, key: "a", outChannels: 8, kernel: 3, stride: 2)
        g.outputs = [g.add(g.upsample(a, factor: 2, mode: .nearest), g.conv(x, key: "b", outChannels: 8, kernel: 1))]
        let params = g.randomParameters()
        XCTAssertThrowsError(try Plan(graph: g, parameters: params, input: Shape4(1, 3, 7, 8))) { error in
            XCTAssertTrue("\(error)".contains("does not fit the model"), "\(error)")
        }
        XCTAssertThrowsError(try Plan(graph: g, parameters: params, input: Shape4(1, 4, 8, 8))) { error in
            XCTAssertTrue("\(error)".contains("channels"), "\(error)")
        }
        let plan = try Plan(graph: g, parameters: params, input: Shape4(1, 3, 8, 8))
        XCTAssertThrowsError(try plan.run(Tensor(zeros: [2, 3, 8, 8])))
        var bad = params
        bad["a.weight"] = Tensor(zeros: [8, 3, 1, 1])
        XCTAssertThrowsError(try Plan(graph: g, parameters: bad, input: Shape4(1, 3, 8, 8))) { error in
            XCTAssertTrue("\(error)".contains("a.weight"), "\(error)")
        }
    }

    func testBindReportsEveryProblem() throws {
        let g = Graph()
        g.outputs = [g.batchNorm(g.conv(g.input(channels: 3), key: "conv", outChannels: 4, kernel: 3), key: "bn")]
        var loaded = g.randomParameters()
        loaded["bn.num_batches_tracked"] = Tensor(shape: [], scalars: [3])
        XCTAssertNoThrow(try g.bind(loaded))
        loaded["conv.weight"] = Tensor(zeros: [4, 3, 1, 1])
        loaded["extra.weight"] = Tensor(zeros: [1])
        loaded["bn.running_var"] = nil
        XCTAssertThrowsError(try g.bind(loaded, source: "w.pth")) { error in
            let s = "\(error)"
            XCTAssertTrue(s.contains("w.pth"), s)
            XCTAssertTrue(s.contains("bn.running_var"), s)
            XCTAssertTrue(s.contains("extra.weight"), s)
            XCTAssertTrue(s.contains("conv.weight: w.pth [4, 3, 1, 1] vs model [4, 3, 3, 3]"), s)
        }
        loaded["conv.weight"] = nil
        loaded["extra.weight"] = nil
        let (params, report) = try g.bind(loaded, allowPartial: true)
        XCTAssertEqual(Set(report.missing), ["conv.weight", "bn.running_var"])
        XCTAssertEqual(params["bn.running_var"]?.scalars, [1, 1, 1, 1])
        XCTAssertEqual(params["conv.weight"]?.shape, [4, 3, 3, 3])
    }
}

extension OpTests {
    /// An input whose activations could not fit in memory is refused before anything is allocated.
    func testHugeInputIsRefusedUpFront() throws {
        let g = Graph()
        g.outputs = [g.conv(g.input(channels: 3), key: "c", outChannels: 64, kernel: 3)]
        XCTAssertThrowsError(try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(64, 3, 8192, 8192))) { error in
            XCTAssertTrue("\(error)".contains("GB of activations"), "\(error)")
        }
    }
}

extension OpTests {
    /// On an AVX-512 machine every convolution of an HRNet-like graph gets a JIT kernel (a
    /// reference kernel is ~100x slower), including one over a many-channel input.
    func testConvolutionsUseJITKernels() throws {
        let g = Graph()
        let x = g.input(channels: 32)
        let a = g.relu(g.batchNorm(g.conv(x, key: "a", outChannels: 32, kernel: 3), key: "bn"))
        g.outputs = [g.relu(g.add(g.conv(a, key: "b", outChannels: 32, kernel: 3), x))]
        let plan = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 32, 16, 12))
        let convs = plan.implementations.filter { $0.step.hasPrefix("convolution") }
        XCTAssertEqual(convs.count, 2)
        let avx512 = plan.implementations.contains { $0.implementation.contains("avx512") }
        try XCTSkipUnless(avx512, "not an AVX-512 machine: \(plan.implementations)")
        for c in convs { XCTAssertTrue(c.implementation.hasPrefix("jit"), "\(c)") }
        try assertPlanMatchesReference(g, input: [1, 32, 16, 12])
    }
}

extension OpTests {
    /// Winograd convolutions (every eligible 3x3 here), with folded BN, ReLU and sum post-ops.
    func testWinogradConvolutions() throws {
        let everywhere = Plan.Options(winograd: true, winogradMinimumPixels: 1, winogradMinimumBatchPixels: 1)
        let g = Graph()
        let x = g.relu(g.batchNorm(g.conv(g.input(channels: 3), key: "stem", outChannels: 16, kernel: 3), key: "b0"))
        let a = g.relu(g.batchNorm(g.conv(x, key: "c1", outChannels: 16, kernel: 3), key: "b1"))
        let b = g.batchNorm(g.conv(a, key: "c2", outChannels: 16, kernel: 3, bias: true), key: "b2")
        let y = g.relu(g.add(b, x))
        g.outputs = [g.conv(y, key: "c3", outChannels: 40, kernel: 3)]
        try assertPlanMatchesReference(g, input: [2, 3, 19, 13], options: everywhere)
        let plan = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(2, 3, 19, 13), options: everywhere)
        let wino = plan.implementations.filter { $0.implementation.contains("wino") }
        try XCTSkipIf(wino.isEmpty, "no Winograd implementation on this machine: \(plan.implementations)")
        XCTAssertGreaterThanOrEqual(wino.count, 3, "\(plan.implementations)")
    }

    /// By default a small map (under `winogradMinimumPixels`) takes Winograd only where oneDNN
    /// runs its F(2x2, 3x3) kernel (16/9 of the weight memory, faster than direct there); where
    /// only F(4x4, 3x3) would take it (batch above the threads), it stays direct.
    func testSmallMapsTakeOnlyTheSmallTileWinograd() throws {
        let g = Graph()
        // A basic block: the second convolution adds the residual as a post-op (sum into its output).
        let a = g.relu(g.conv(g.input(channels: 32), key: "a", outChannels: 32, kernel: 3))
        g.outputs = [g.relu(g.add(g.batchNorm(g.conv(a, key: "b", outChannels: 32, kernel: 3), key: "bn"), a))]
        let one = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 32, 8, 6), threads: 2)
        let convs = one.implementations.filter { $0.step.hasPrefix("convolution") }
        try XCTSkipUnless(convs.contains { $0.implementation.contains("avx512") }, "not an AVX-512 machine: \(convs)")
        XCTAssertEqual(convs.count, 2)
        for c in convs { XCTAssertTrue(c.implementation.contains("wino_2x3"), "\(c)") }
        try assertPlanMatchesReference(g, input: [1, 32, 8, 6])
        // A batch above the threads runs in slices of as many images as threads that divide it
        // (8 = 4 x 2, 3 = 3 x 1), each through the same kernel.
        for (batch, slices) in [(8, 4), (3, 3)] {
            let plan = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(batch, 32, 8, 6), threads: 2)
            let convs = plan.implementations.filter { $0.step.hasPrefix("convolution") }
            XCTAssertEqual(convs.count, 2 * slices, "batch \(batch): \(convs)")
            for c in convs { XCTAssertTrue(c.implementation.contains("wino_2x3"), "\(c)") }
            try assertPlanMatchesReference(g, input: [batch, 32, 8, 6])
        }
        // Without Winograd, direct everywhere.
        let direct = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 32, 8, 6), threads: 2, options: .direct)
        for c in direct.implementations where c.step.hasPrefix("convolution") { XCTAssertFalse(c.implementation.contains("wino"), "\(c)") }
    }

    /// A map of enough pixels but a batch of fewer than `winogradMinimumBatchPixels` (pose W48's
    /// 24x18 maps of 192 channels, batch 1: 432) takes no F(4x4, 3x3); two images of it (864
    /// pixels) take Winograd.
    func testSmallBatchesTakeNoLargeTileWinograd() throws {
        let g = Graph()
        g.outputs = [g.relu(g.conv(g.input(channels: 192), key: "c", outChannels: 192, kernel: 3))]
        let one = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 192, 24, 18), threads: 2)
        let two = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(2, 192, 24, 18), threads: 2)
        let (first, second) = (one.implementations.filter { $0.step.hasPrefix("convolution") }, two.implementations.filter { $0.step.hasPrefix("convolution") })
        try XCTSkipUnless(second.contains { $0.implementation.contains("wino") }, "no Winograd for this shape here: \(second)")
        XCTAssertFalse(first.contains { $0.implementation.contains("wino_4x3") }, "\(first)")
        var everywhere = Plan.Options()
        everywhere.winogradMinimumBatchPixels = 1
        let forced = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 192, 24, 18), threads: 2, options: everywhere)
        XCTAssertTrue(forced.implementations.contains { $0.implementation.contains("wino") }, "\(forced.implementations)")
    }

    /// One image whose weights oneDNN's F(2x2, 3x3) kernel refuses (96 -> 96 channels: larger than
    /// its caches take) runs as parts of the output channels it takes, each writing its channel
    /// blocks: with the bias, the folded BN and the residual (sum post-op) sliced the same way.
    func testDeepSmallMapsRunAsOutputChannelParts() throws {
        let g = Graph()
        let x = g.input(channels: 96)
        g.outputs = [g.relu(g.add(g.batchNorm(g.conv(x, key: "c", outChannels: 96, kernel: 3, bias: true), key: "bn"), x))]
        let plan = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 96, 24, 18), threads: 2)
        let convs = plan.implementations.filter { $0.step.hasPrefix("convolution") }
        try XCTSkipUnless(convs.contains { $0.implementation.contains("wino_2x3") }, "no F(2x2, 3x3) kernel for these parts here: \(convs)")
        XCTAssertGreaterThan(convs.count, 1, "\(convs)")
        for c in convs { XCTAssertTrue(c.implementation.contains("wino_2x3"), "\(c)") }
        XCTAssertEqual(plan.stepFlops.reduce(0, +), 2 * 96 * 96 * 9 * 432)
        try assertPlanMatchesReference(g, input: [1, 96, 24, 18])
    }

    /// The engine's own Winograd weight transform (WinogradWeights) in each layout oneDNN picks:
    /// few channels, many channels (blocks of blocks), channel counts off the 16-block.
    func testWinogradWeightLayouts() throws {
        let everywhere = Plan.Options(winograd: true, winogradMinimumPixels: 1, winogradMinimumBatchPixels: 1)
        for (inputs, outputs, h, w) in [(16, 16, 9, 7), (128, 128, 6, 5), (256, 32, 6, 5), (24, 40, 7, 6), (64, 64, 30, 30)] {
            let g = Graph()
            g.outputs = [g.conv(g.relu(g.input(channels: inputs)), key: "c", outChannels: outputs, kernel: 3)]
            try assertPlanMatchesReference(g, input: [1, inputs, h, w], options: everywhere)
        }
    }
}

extension OpTests {
    /// The engine's kernels and oneDNN's primitives on bf16 activations: every non-convolution
    /// op and the fused patterns, within 2% of the output range (bf16 keeps 8 significant bits).
    func testBF16Paths() throws {
        try XCTSkipUnless(hasNativeBF16, "this CPU has no AVX512-BF16")
        let bf16 = Plan.Options(bf16: true)
        for mode in [ResizeMode.nearest, .bilinear(alignCorners: true), .bilinear(alignCorners: false)] {
            let g = Graph()
            let x0 = g.conv(g.input(channels: 3), key: "x0", outChannels: 16, kernel: 3)
            let x1 = g.conv(x0, key: "x1", outChannels: 32, kernel: 3, stride: 2)
            let up = g.upsample(g.batchNorm(g.conv(x1, key: "f", outChannels: 16, kernel: 1), key: "fb"), factor: 2, mode: mode)
            let y = g.relu(g.add(x0, up))
            let z = g.relu(g.add(g.batchNorm(g.conv(y, key: "d", outChannels: 32, kernel: 3, stride: 2), key: "db"), x1))
            let side = g.relu(g.batchNorm(z, key: "alone"))
            g.outputs = [y, g.concat([side, g.resize(z, like: side, mode: mode)]), g.maxPool(z, kernel: 3, stride: 2, padding: 1),
                         g.linear(g.globalAveragePool(z), key: "fc", inFeatures: 32, outFeatures: 5)]
            try assertPlanMatchesReference(g, input: [2, 3, 16, 12], options: bf16, relativeTolerance: 0.02)
        }
    }
}

extension OpTests {
    /// bf16 3x3 convolutions through the engine's Winograd F(2x2, 3x3) kernel (CKernels, the bf16
    /// default), in a basic block (BN folded, ReLU, the residual as a sum into the output): odd map
    /// sizes (edge tiles), a batch, output channels not a multiple of 32 (a single 16-block), and a
    /// deep layer (many channels: threads splitting the output blocks, the tiles in chunks). Within
    /// 2% of the output range of the fp32 reference, as the other bf16 tests (the tiles and
    /// weights are rounded to bf16 after their transforms, about one bf16 step of the output).
    func testBF16WinogradKernel() throws {
        try XCTSkipUnless(hasNativeBF16, "this CPU has no AVX512-BF16")
        for (channels, outputs, h, w, batch) in [(32, 32, 20, 15, 1), (32, 32, 13, 15, 3), (48, 48, 17, 12, 2), (256, 256, 13, 15, 2)] {
            let g = Graph()
            let a = g.relu(g.batchNorm(g.conv(g.input(channels: channels), key: "a", outChannels: outputs, kernel: 3), key: "abn"))
            let b = g.batchNorm(g.conv(a, key: "b", outChannels: outputs, kernel: 3), key: "bn")
            g.outputs = [g.relu(g.add(b, a)), a]
            let winograd = Plan.Options(bf16: true, bf16WinogradMinimumTiles: 0)
            let plan = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(batch, channels, h, w), threads: 2,
                                options: winograd)
            XCTAssertEqual(plan.stepLabels.filter { $0.contains("wino_bf16") }.count, 2, "\(plan.stepLabels)")
            try assertPlanMatchesReference(g, input: [batch, channels, h, w], options: winograd, relativeTolerance: 0.02)
            // Direct convolutions asked for: oneDNN's kernels.
            var direct = Plan.Options.direct
            direct.bf16 = true
            let plain = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(batch, channels, h, w), threads: 2,
                                 options: direct)
            XCTAssertFalse(plain.stepLabels.contains { $0.contains("wino_bf16") }, "\(plain.stepLabels)")
        }
        // By default, a batch of fewer than 96 tiles (here 10 x 8) stays with oneDNN, whose weights
        // are the smaller memory traffic; the convolution still gets its weights and the right sums.
        let g = Graph()
        g.outputs = [g.relu(g.conv(g.input(channels: 32), key: "c", outChannels: 32, kernel: 3))]
        let few = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 32, 20, 15), threads: 2, options: .init(bf16: true))
        XCTAssertFalse(few.stepLabels.contains { $0.contains("wino_bf16") }, "\(few.stepLabels)")
        try assertPlanMatchesReference(g, input: [1, 32, 20, 15], options: .init(bf16: true), relativeTolerance: 0.02)
        let many = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(2, 32, 20, 15), threads: 2, options: .init(bf16: true))
        XCTAssertTrue(many.stepLabels.contains { $0.contains("wino_bf16") }, "\(many.stepLabels)")
        // Small maps count by their batch's tiles: one 8x6 map (12 tiles) stays with oneDNN, 16 of
        // them (192 tiles) take the kernel.
        let one = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 32, 8, 6), threads: 2, options: .init(bf16: true))
        XCTAssertFalse(one.stepLabels.contains { $0.contains("wino_bf16") }, "\(one.stepLabels)")
        let sixteen = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(16, 32, 8, 6), threads: 2, options: .init(bf16: true))
        XCTAssertTrue(sixteen.stepLabels.contains { $0.contains("wino_bf16") }, "\(sixteen.stepLabels)")
        try assertPlanMatchesReference(g, input: [16, 32, 8, 6], options: .init(bf16: true), relativeTolerance: 0.02)
    }
}

extension XCTestCase {
    /// Compiles and runs `graph` on a random input and compares every output with the reference.
    /// `relativeTolerance`, when given, replaces the absolute 1e-4 by a fraction of the output's range (bf16).
    func assertPlanMatchesReference(_ graph: Graph, input shape: [Int], seed: UInt64 = 1, options: Plan.Options = .init(),
                                    relativeTolerance: Float? = nil,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let params = graph.randomParameters(seed: seed)
        let x = randomTensor(shape, seed: seed &+ 7)
        let expected = try graph.referenceForward(parameters: params, input: x)
        for threads in [1, 2] {
            let plan = try Plan(graph: graph, parameters: params, input: Shape4(shape)!, threads: threads, options: options)
            let got = try plan.run(x)
            XCTAssertEqual(got.count, expected.count, file: file, line: line)
            for (g, e) in zip(got, expected) {
                XCTAssertEqual(g.shape, e.shape, file: file, line: line)
                let err = g.maxAbsDifference(e)
                let bound = relativeTolerance.map { $0 * max(e.scalars.map(abs).max() ?? 0, 1e-6) } ?? 1e-4
                XCTAssertLessThanOrEqual(err, bound, "max abs error \(err) with \(threads) threads", file: file, line: line)
            }
            // A second run on the same plan gives the same answer (no state leaks between runs).
            let again = try plan.run(x)
            XCTAssertEqual(again, got, file: file, line: line)
        }
    }
}
