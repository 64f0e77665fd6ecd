import XCTest
import HRNet
import TestSupport

/// The tiny pose and segmentation fixtures: configs in the official YAML format, random
/// weights and random BN statistics, outputs computed by an independent PyTorch
/// implementation (Tests/Fixtures/make_fixtures.py). Outputs are scaled to O(1), so the
/// 1e-4 absolute tolerance is about 1e-4 relative; fp32 sums in a different order differ
/// by ~1e-6 here.
final class GoldenTests: XCTestCase {
    let tolerance: Float = 1e-4

    func model(_ name: String) throws -> HRNetModel {
        HRNetModel(config: try HRNetConfig.load(Fixtures.url("hrnet/\(name).yaml")))
    }

    func run(_ model: HRNetModel, weights: String, input: String, threads: Int = 2, options: Plan.Options = .init()) throws -> Tensor {
        let loaded = try Checkpoint.loadFloat(Fixtures.url("hrnet/\(weights)"))
        let (params, report) = try model.graph.bind(loaded, source: weights)
        XCTAssertTrue(report.missing.isEmpty)
        let x = try NPY.read(Fixtures.url("hrnet/\(input)"))
        let plan = try Plan(graph: model.graph, parameters: params, input: Shape4(x.shape)!, threads: threads, options: options)
        return try plan.run(x)[0]
    }

    func assertClose(_ got: Tensor, _ expectedFile: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try NPY.read(Fixtures.url("hrnet/\(expectedFile)"))
        XCTAssertEqual(got.shape, expected.shape, file: file, line: line)
        let err = got.maxAbsDifference(expected)
        XCTAssertLessThanOrEqual(err, tolerance, "\(expectedFile): max abs error \(err)", file: file, line: line)
    }

    func testPoseFromAllFormats() throws {
        let m = try model("tiny_pose")
        XCTAssertEqual(m.config.numJoints, 5)
        var outputs: [Tensor] = []
        for w in ["tiny_pose.safetensors", "tiny_pose_zip.pth", "tiny_pose_legacy.pth", "tiny_pose_wrapped.pth"] {
            let y = try run(m, weights: w, input: "tiny_pose_input.npy")
            XCTAssertEqual(y.shape, [2, 5, 24, 16])
            try assertClose(y, "tiny_pose_output.npy")
            outputs.append(y)
        }
        // The loader gives bit-identical weights from every format.
        for y in outputs.dropFirst() { XCTAssertEqual(y, outputs[0]) }
        // One thread gives the same answer within the tolerance.
        try assertClose(try run(m, weights: "tiny_pose.safetensors", input: "tiny_pose_input.npy", threads: 1), "tiny_pose_output.npy")
    }

    func testSegmentationAlignCornersTrue() throws {
        let m = try model("tiny_seg")
        XCTAssertEqual(m.config.architecture.head, .segmentation(classes: 4, finalKernel: 1, alignCorners: true))
        var outputs: [Tensor] = []
        for w in ["tiny_seg.safetensors", "tiny_seg_zip.pth", "tiny_seg_legacy.pth"] {
            let y = try run(m, weights: w, input: "tiny_seg_input.npy")
            try assertClose(y, "tiny_seg_output.npy")
            outputs.append(y)
        }
        for y in outputs.dropFirst() { XCTAssertEqual(y, outputs[0]) }
        // Odd input size: the bilinear resize-to-size paths in fusion and head.
        try assertClose(try run(m, weights: "tiny_seg.safetensors", input: "tiny_seg_input_odd.npy"), "tiny_seg_output_odd.npy")
    }

    /// Every convolution path: direct only, and Winograd wherever oneDNN takes it.
    func testConvolutionAlgorithms() throws {
        for options in [Plan.Options.direct, Plan.Options(winograd: true, winogradMinimumPixels: 1, winogradMinimumBatchPixels: 1)] {
            try assertClose(try run(try model("tiny_pose"), weights: "tiny_pose.safetensors", input: "tiny_pose_input.npy", options: options),
                            "tiny_pose_output.npy")
            try assertClose(try run(try model("tiny_seg"), weights: "tiny_seg.safetensors", input: "tiny_seg_input.npy", options: options),
                            "tiny_seg_output.npy")
        }
    }

    /// bf16 activations and weights (fp32 accumulation): 8 significant bits per value, so the
    /// tolerance is relative to the output range: 5% of max |y| (a PyTorch simulation of these
    /// random nets in bf16 gives 1.5-4%), and the arg-max of each heatmap moves by at most one cell.
    func testBF16() throws {
        try XCTSkipUnless(hasNativeBF16, "this CPU has no AVX512-BF16")
        let bf16 = Plan.Options(bf16: true)
        let m = try model("tiny_pose")
        let y = try run(m, weights: "tiny_pose.safetensors", input: "tiny_pose_input.npy", options: bf16)
        let expected = try NPY.read(Fixtures.url("hrnet/tiny_pose_output.npy"))
        let range = expected.scalars.map(abs).max()!
        let err = y.maxAbsDifference(expected)
        XCTAssertLessThanOrEqual(err, 0.05 * range, "bf16 max abs error \(err), output range \(range)")
        XCTAssertGreaterThan(err, 0, "bf16 must actually differ from fp32")
        let (h, w) = (y.shape[2], y.shape[3])
        for map in 0..<(y.shape[0] * y.shape[1]) {
            func peak(_ t: Tensor) -> (Int, Int) {
                let plane = t.scalars[(map * h * w)..<((map + 1) * h * w)]
                let i = plane.indices.max { plane[$0] < plane[$1] }! - map * h * w
                return (i / w, i % w)
            }
            let (a, b) = (peak(y), peak(expected))
            XCTAssertLessThanOrEqual(max(abs(a.0 - b.0), abs(a.1 - b.1)), 1, "heatmap \(map): \(a) vs \(b)")
        }
        let seg = try run(try model("tiny_seg"), weights: "tiny_seg.safetensors", input: "tiny_seg_input_odd.npy", options: bf16)
        let segExpected = try NPY.read(Fixtures.url("hrnet/tiny_seg_output_odd.npy"))
        XCTAssertLessThanOrEqual(seg.maxAbsDifference(segExpected), 0.05 * segExpected.scalars.map(abs).max()!)
    }

    func testSegmentationAlignCornersFalse() throws {
        let m = try model("tiny_seg_ac_false")
        try assertClose(try run(m, weights: "tiny_seg_ac_false.safetensors", input: "tiny_seg_ac_false_input.npy"),
                        "tiny_seg_ac_false_output.npy")
        try assertClose(try run(m, weights: "tiny_seg_ac_false.safetensors", input: "tiny_seg_ac_false_input_odd.npy"),
                        "tiny_seg_ac_false_output_odd.npy")
    }

    /// The plain-Swift reference interpreter agrees with PyTorch too (so op tests against it mean something).
    func testReferenceForwardMatchesPyTorch() throws {
        let m = try model("tiny_seg")
        let params = try m.graph.bind(try Checkpoint.loadFloat(Fixtures.url("hrnet/tiny_seg.safetensors"))).parameters
        let x = try NPY.read(Fixtures.url("hrnet/tiny_seg_input_odd.npy"))
        try assertClose(try m.graph.referenceForward(parameters: params, input: x)[0], "tiny_seg_output_odd.npy")
    }

    func testPoseRejectsSizesTheStreamsCannotFuse() throws {
        let m = try model("tiny_pose")
        let params = m.graph.randomParameters()
        XCTAssertThrowsError(try Plan(graph: m.graph, parameters: params, input: Shape4(1, 3, 100, 96))) { error in
            XCTAssertTrue("\(error)".contains("multiple of 32"), "\(error)")
        }
    }
}
