import XCTest
@testable import DNN
import TestSupport

/// Transposed convolutions (`nn.ConvTranspose2d`, oneDNN deconvolution): the reference kernel
/// against the definition, plans (fp32, bf16) against the reference, and the output-size rule
/// of the official SimpleBaseline's three kernel sizes (4: padding 1; 3: padding 1, output
/// padding 1; 2: padding 0), each of which doubles the map.
final class TransposedConvolutionTests: XCTestCase {
    /// The official `_get_deconv_cfg`: (kernel, padding, output padding).
    static let officialGeometries = [(4, 1, 0), (3, 1, 1), (2, 0, 0)]

    func testReferencePlacesTheKernelAtStrideSteps() {
        // One input pixel of value 2 at (1, 2) of a 3x4 map; kernel 3, stride 2, padding 1,
        // output padding 1: the kernel times 2 lands with its corner at (1*2-1, 2*2-1) = (1, 3)
        // of the 6x8 output, and nothing else is written.
        var x = Tensor(zeros: [1, 1, 3, 4])
        x[0, 0, 1, 2] = 2
        let w = Tensor(shape: [1, 1, 3, 3], scalars: (1...9).map(Float.init))
        let y = Reference.transposedConv2d(x, weight: w, bias: Tensor(shape: [1], scalars: [0.5]), stride: (2, 2), padding: (1, 1),
                                           outputPadding: (1, 1))
        XCTAssertEqual(y.shape, [1, 1, 6, 8])
        for i in 0..<6 { for j in 0..<8 {
            let (u, v) = (i - 1, j - 3)
            let expected: Float = (0..<3).contains(u) && (0..<3).contains(v) ? 2 * w[0, 0, u, v] + 0.5 : 0.5
            XCTAssertEqual(y[0, 0, i, j], expected, "(\(i), \(j))")
        } }
    }

    func testOfficialGeometriesDoubleTheMap() throws {
        for (k, p, op) in Self.officialGeometries {
            let g = Graph()
            g.outputs = [g.transposedConv(g.input(channels: 4), key: "d", outChannels: 3, kernel: k, stride: 2, padding: p, outputPadding: op)]
            for (h, w) in [(8, 6), (5, 7), (1, 1)] {
                let s = try g.inferShapes(input: Shape4(2, 4, h, w)).last!
                XCTAssertEqual([s.h, s.w], [2 * h, 2 * w], "kernel \(k) on \(h)x\(w)")
            }
            XCTAssertEqual(g.parameters.map(\.shape), [[4, 3, k, k]], "PyTorch's (in, out, kh, kw) weight")
        }
    }

    /// Plans against the reference: every official geometry, with and without bias, alone and
    /// with BN + ReLU folded in (as SimpleBaseline's deconv layers), channel counts that are not
    /// multiples of the engine's block, odd map sizes; 1 and 2 threads. fp32 sums of at most
    /// a few hundred O(1) products: 1e-4 absolute.
    func testPlansMatchTheReference() throws {
        for (i, (k, p, op)) in Self.officialGeometries.enumerated() {
            for bias in [false, true] {
                let g = Graph()
                let x = g.relu(g.conv(g.input(channels: 3), key: "stem", outChannels: 20, kernel: 3, stride: 2))
                let d = g.transposedConv(x, key: "deconv", outChannels: 13, kernel: k, stride: 2, padding: p, outputPadding: op, bias: bias)
                let folded = g.relu(g.batchNorm(g.transposedConv(d, key: "deconv2", outChannels: 7, kernel: k, stride: 2, padding: p,
                                                                 outputPadding: op, bias: bias), key: "bn"))
                g.outputs = [d, g.conv(folded, key: "final", outChannels: 5, kernel: 1, bias: true)]
                try assertPlan(g, input: [2, 3, 13, 10], seed: UInt64(i * 2 + (bias ? 1 : 0)), options: .init(), tolerance: 1e-4)
            }
        }
    }

    func testBF16Plans() throws {
        try XCTSkipUnless(hasNativeBF16, "this CPU has no AVX512-BF16")
        for (k, p, op) in Self.officialGeometries {
            let g = Graph()
            let x = g.relu(g.conv(g.input(channels: 3), key: "stem", outChannels: 32, kernel: 3, stride: 2))
            let d = g.relu(g.batchNorm(g.transposedConv(x, key: "deconv", outChannels: 32, kernel: k, stride: 2, padding: p, outputPadding: op),
                                       key: "bn"))
            g.outputs = [g.conv(d, key: "final", outChannels: 5, kernel: 1, bias: true)]
            // bf16 keeps 8 bits of mantissa: 2% of the output's range, as the other bf16 tests.
            try assertPlan(g, input: [1, 3, 16, 12], seed: 3, options: .init(bf16: true), relativeTolerance: 0.02)
        }
    }

    /// The phase decomposition's geometry for the official kernels (stride 2): kernel 4, padding 1
    /// gives two 2-tap phases (taps 3, 1 at offsets -1, 0; taps 2, 0 at offsets 0, +1); kernel 3,
    /// padding 1, output padding 1 a 1-tap and a 2-tap phase; kernel 2 two 1-tap phases.
    func testPhaseGeometryOfTheOfficialKernels() throws {
        typealias Axis = TransposedPhases.Axis
        let k4 = try XCTUnwrap(Axis(kernel: 4, stride: 2, padding: 1, input: 6, output: 12))
        XCTAssertEqual(k4.taps, [[3, 1], [2, 0]]); XCTAssertEqual(k4.padL, [1, 0]); XCTAssertEqual(k4.padR, [0, 1])
        XCTAssertEqual(k4.count, [6, 6])
        let k3 = try XCTUnwrap(Axis(kernel: 3, stride: 2, padding: 1, input: 6, output: 12))
        XCTAssertEqual(k3.taps, [[1], [2, 0]]); XCTAssertEqual(k3.padL, [0, 0]); XCTAssertEqual(k3.padR, [0, 1])
        let k2 = try XCTUnwrap(Axis(kernel: 2, stride: 2, padding: 0, input: 6, output: 12))
        XCTAssertEqual(k2.taps, [[0], [1]]); XCTAssertEqual(k2.padR, [0, 0])
        // Stride 3, kernel 5, padding 2: phases of 1, 2 and 2 taps; an output of 3 * 5 - 1 = 14 leaves
        // the last phase one short.
        let s3 = try XCTUnwrap(Axis(kernel: 5, stride: 3, padding: 2, input: 5, output: 14))
        XCTAssertEqual(s3.taps, [[2], [3, 0], [4, 1]]); XCTAssertEqual(s3.count, [5, 5, 4])
        // A kernel smaller than the stride leaves a phase with no taps: no decomposition.
        XCTAssertNil(Axis(kernel: 1, stride: 2, padding: 0, input: 6, output: 11))
    }

    /// Strided transposed convolutions run as one convolution per output phase, interleaved
    /// (`TransposedPhases`), where the channels suit oneDNN's convolution kernels: against the
    /// reference (1e-4 absolute, fp32 sums of a few hundred O(1) products) and against oneDNN's
    /// deconvolution (`phasedTransposedConvolutions: false`), every official geometry and a
    /// stride-3 one, with bias, BN and ReLU folded, odd and even maps, batch 2, 1 and 2 threads;
    /// plans of a second shape sharing the packed phase weights give the same bytes.
    func testPhasedPlansMatchTheReferenceAndTheDeconvolution() throws {
        let geometries = Self.officialGeometries.map { ($0.0, 2, $0.1, $0.2) } + [(5, 3, 2, 1)]
        for (i, (k, stride, p, op)) in geometries.enumerated() {
            let g = Graph()
            let x = g.relu(g.conv(g.input(channels: 3), key: "stem", outChannels: 32, kernel: 3, stride: 2))
            let d = g.relu(g.batchNorm(g.transposedConv(x, key: "deconv", outChannels: 16, kernel: k, stride: stride, padding: p,
                                                        outputPadding: op, bias: true), key: "bn"))
            let d2 = g.transposedConv(d, key: "deconv2", outChannels: 16, kernel: k, stride: stride, padding: p, outputPadding: op)
            g.outputs = [d2, g.conv(d, key: "final", outChannels: 5, kernel: 1, bias: true)]
            let params = g.randomParameters(seed: UInt64(40 + i))
            let cache = PackedWeights()
            let shapes = stride == 2 ? [[2, 3, 13, 10], [1, 3, 16, 12]] : [[1, 3, 7, 6], [2, 3, 10, 8]]
            for shape in shapes {
                let input = randomTensor(shape, seed: UInt64(i))
                // The (slow, debug-built) reference at the first shape; the second is checked against
                // oneDNN's deconvolution.
                let expected = shape == shapes[0] ? try g.referenceForward(parameters: params, input: input) : []
                for threads in [1, 2] {
                    let phased = try Plan(graph: g, parameters: params, input: Shape4(shape)!, threads: threads)
                    XCTAssertEqual(phased.stepLabels.filter { $0.contains(" phase [") }.count, 2 * stride * stride,
                                   "kernel \(k): \(phased.stepLabels)")
                    XCTAssertFalse(phased.implementations.contains { $0.implementation.hasPrefix("ref") }, "\(phased.implementations)")
                    let got = try phased.run(input)
                    for (o, e) in zip(got, expected) {
                        XCTAssertEqual(o.shape, e.shape)
                        XCTAssertLessThanOrEqual(o.maxAbsDifference(e), 1e-4, "kernel \(k) stride \(stride) \(shape), \(threads) threads")
                    }
                    guard threads == 2 else { continue }
                    let deconvolution = try Plan(graph: g, parameters: params, input: Shape4(shape)!, threads: threads,
                                                 options: .init(phasedTransposedConvolutions: false))
                    XCTAssertFalse(deconvolution.stepLabels.contains { $0.contains(" phase [") })
                    for (o, r) in zip(got, try deconvolution.run(input)) {
                        XCTAssertLessThanOrEqual(o.maxAbsDifference(r), 1e-4, "against oneDNN's deconvolution")
                    }
                    let shared = try Plan(graph: g, parameters: params, input: Shape4(shape)!, threads: threads, sharing: cache)
                    XCTAssertEqual(try shared.run(input).map(\.scalars), got.map(\.scalars), "shared packed phase weights")
                }
            }
            XCTAssertGreaterThan(cache.hits, 0)
        }
    }

    func testPhasedBF16Plans() throws {
        try XCTSkipUnless(hasNativeBF16, "this CPU has no AVX512-BF16")
        for (k, p, op) in Self.officialGeometries {
            let g = Graph()
            let x = g.relu(g.conv(g.input(channels: 3), key: "stem", outChannels: 32, kernel: 3, stride: 2))
            g.outputs = [g.relu(g.batchNorm(g.transposedConv(x, key: "deconv", outChannels: 32, kernel: k, stride: 2, padding: p,
                                                             outputPadding: op), key: "bn"))]
            let params = g.randomParameters(seed: 9)
            let input = randomTensor([1, 3, 18, 14], seed: 2)
            let expected = try g.referenceForward(parameters: params, input: input)[0]
            let plan = try Plan(graph: g, parameters: params, input: Shape4(1, 3, 18, 14), threads: 2, options: .init(bf16: true))
            XCTAssertEqual(plan.stepLabels.filter { $0.contains(" phase [") }.count, 4, "\(plan.stepLabels)")
            // bf16 keeps 8 bits of mantissa: 2% of the output's range, as the other bf16 tests.
            let bound = 0.02 * max(expected.scalars.map(abs).max() ?? 0, 1e-6)
            XCTAssertLessThanOrEqual(try plan.run(input)[0].maxAbsDifference(expected), bound, "kernel \(k)")
        }
    }

    func assertPlan(_ g: Graph, input shape: [Int], seed: UInt64, options: Plan.Options, tolerance: Float? = nil,
                    relativeTolerance: Float? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let params = g.randomParameters(seed: seed)
        let x = randomTensor(shape, seed: seed &+ 7)
        let expected = try g.referenceForward(parameters: params, input: x)
        for threads in [1, 2] {
            let plan = try Plan(graph: g, parameters: params, input: Shape4(shape)!, threads: threads, options: options)
            let got = try plan.run(x)
            for (o, e) in zip(got, expected) {
                XCTAssertEqual(o.shape, e.shape, file: file, line: line)
                let bound = tolerance ?? relativeTolerance! * max(e.scalars.map(abs).max() ?? 0, 1e-6)
                XCTAssertLessThanOrEqual(o.maxAbsDifference(e), bound, "\(threads) threads", file: file, line: line)
            }
            let deconvolutions = plan.implementations.filter { $0.step.hasPrefix("transposed convolution") }
            XCTAssertFalse(deconvolutions.isEmpty, file: file, line: line)
            for d in deconvolutions {
                XCTAssertFalse(d.implementation.hasPrefix("ref"), "\(d.step) ran as \(d.implementation)", file: file, line: line)
            }
        }
    }
}
