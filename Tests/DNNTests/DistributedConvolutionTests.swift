import XCTest
import DNN
import TestSupport

/// A 1x1 convolution of concatenated, resized streams (HRNetV2's head, HRFPN, OCR's aux head)
/// compiled as the sum of each stream's convolution at its own resolution, resized
/// (`Plan.Options.distributedPointwiseConvolutions`), against the reference kernels on the graph
/// as built: fp32 within 1e-4 (the same sums in another order), bf16 within 2% of the range.
final class DistributedConvolutionTests: XCTestCase {
    /// Three streams (16, 32, 48 channels at 1, 1/2, 1/4), the lower two brought up by `mode`.
    func streams(_ g: Graph, mode: ResizeMode, byFactor: Bool) -> [Graph.Value] {
        let x0 = g.conv(g.input(channels: 3), key: "x0", outChannels: 16, kernel: 3)
        let x1 = g.conv(x0, key: "x1", outChannels: 32, kernel: 3, stride: 2)
        let x2 = g.conv(x1, key: "x2", outChannels: 48, kernel: 3, stride: 2)
        return byFactor ? [x0, g.upsample(x1, factor: 2, mode: mode), g.upsample(x2, factor: 4, mode: mode)]
            : [x0, g.resize(x1, like: x0, mode: mode), g.resize(x2, like: x0, mode: mode)]
    }

    /// HRNetV2's head: concat -> conv1x1 (bias) -> BN -> ReLU -> conv1x1 to the classes.
    func head(mode: ResizeMode, byFactor: Bool) -> Graph {
        let g = Graph()
        let cat = g.concat(streams(g, mode: mode, byFactor: byFactor))
        let y = g.relu(g.batchNorm(g.conv(cat, key: "last_layer.0", outChannels: 96, kernel: 1, bias: true), key: "last_layer.1"))
        g.outputs = [g.conv(y, key: "last_layer.3", outChannels: 5, kernel: 1, bias: true)]
        return g
    }

    func testHeadMatchesTheReference() throws {
        for mode in [ResizeMode.nearest, .bilinear(alignCorners: true), .bilinear(alignCorners: false)] {
            // Sizes of the official fusion (x2 and x4 of the lower streams), and odd sizes resized to the highest.
            try assertPlanMatchesReference(head(mode: mode, byFactor: true), input: [2, 3, 16, 12])
            try assertPlanMatchesReference(head(mode: mode, byFactor: false), input: [1, 3, 13, 11])
        }
    }

    func testTheConcatenationIsGone() throws {
        let g = head(mode: .bilinear(alignCorners: false), byFactor: false)
        let params = g.randomParameters(seed: 3), input = Shape4(1, 3, 13, 11)
        let distributed = try Plan(graph: g, parameters: params, input: input, threads: 2)
        var asBuilt = Plan.Options()
        asBuilt.distributedPointwiseConvolutions = false
        let plain = try Plan(graph: g, parameters: params, input: input, threads: 2, options: asBuilt)
        XCTAssertTrue(plain.stepLabels.contains("concat [engine]"), "\(plain.stepLabels)")
        XCTAssertFalse(distributed.stepLabels.contains("concat [engine]"), "\(distributed.stepLabels)")
        // Each lower stream's convolution resized once (the first into a buffer the full-resolution
        // convolution sums into, the second added by the resize-add kernel).
        XCTAssertEqual(distributed.stepLabels.filter { $0.hasPrefix("resize") }.count, 2, "\(distributed.stepLabels)")
        // The model's FLOPs as built; the distributed plan's steps do fewer.
        XCTAssertEqual(distributed.flops, plain.flops)
        XCTAssertLessThan(distributed.stepFlops.reduce(0, +), plain.stepFlops.reduce(0, +))
        let x = randomTensor(input.dims, seed: 5)
        XCTAssertLessThanOrEqual(try distributed.run(x)[0].maxAbsDifference(try plain.run(x)[0]), 1e-4)
    }

    /// HRFPN's reduction (bias, no BN, the output read by two more convolutions) and OCR's aux head
    /// (the concatenation also read by a 3x3 convolution, so it stays).
    func testConcatenationReadByOthers() throws {
        let g = Graph()
        let cat = g.concat(streams(g, mode: .bilinear(alignCorners: false), byFactor: true))
        let reduced = g.conv(cat, key: "reduction_conv.conv", outChannels: 32, kernel: 1, bias: true)
        let aux = g.relu(g.batchNorm(g.conv(cat, key: "aux_head.0", outChannels: 24, kernel: 1, bias: true), key: "aux_head.1"))
        g.outputs = [g.conv(reduced, key: "fpn0", outChannels: 8, kernel: 3, bias: true),
                     g.conv(g.maxPool(reduced, kernel: 2, stride: 2), key: "fpn1", outChannels: 8, kernel: 3, bias: true),
                     aux, g.conv(cat, key: "conv3x3_ocr", outChannels: 16, kernel: 3, bias: true)]
        try assertPlanMatchesReference(g, input: [2, 3, 16, 20])
    }

    func testBF16() throws {
        try XCTSkipUnless(hasNativeBF16, "this CPU has no AVX512-BF16")
        for byFactor in [true, false] {
            try assertPlanMatchesReference(head(mode: .bilinear(alignCorners: true), byFactor: byFactor), input: [2, 3, 32, 24],
                                           options: .init(bf16: true), relativeTolerance: 0.02)
        }
    }

    /// A checkpoint that lacks the folded batch norm's statistics, or has a slice-able weight of the
    /// wrong shape, gets the plan's error naming the key (the graph is left as built), not a crash.
    func testBadParametersAreReported() throws {
        let g = head(mode: .nearest, byFactor: true)
        var params = g.randomParameters(seed: 1)
        params["last_layer.1.running_var"] = nil
        XCTAssertThrowsError(try Plan(graph: g, parameters: params, input: Shape4(1, 3, 16, 12), threads: 1)) {
            XCTAssertTrue("\($0)".contains("last_layer.1.running_var"), "\($0)")
        }
        params = g.randomParameters(seed: 1)
        params["last_layer.0.weight"] = Tensor(zeros: [96, 95, 1, 1])
        XCTAssertThrowsError(try Plan(graph: g, parameters: params, input: Shape4(1, 3, 16, 12), threads: 1)) {
            XCTAssertTrue("\($0)".contains("last_layer.0.weight"), "\($0)")
        }
    }
}
