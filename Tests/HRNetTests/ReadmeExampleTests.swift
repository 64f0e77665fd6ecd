import XCTest
import HRNet
import TestSupport

/// The library example of README.md, on the tiny fixture, so the README cannot rot.
final class ReadmeExampleTests: XCTestCase {
    func testReadmeExample() throws {
        let config = try HRNetConfig.load(Fixtures.url("hrnet/tiny_pose.yaml"))
        let model = HRNetModel(config: config)
        let (weights, report) = try model.loadWeights(Fixtures.url("hrnet/tiny_pose_legacy.pth"))
        XCTAssertEqual(report.matched.count, model.graph.parameters.count)
        let plan = try model.compile(parameters: weights, batch: 2, threads: 2)
        let batch = try NPY.read(Fixtures.url("hrnet/tiny_pose_input.npy"))   // (2, 3, 96, 64), normalized RGB
        let heatmaps = try plan.run(batch)[0]                                   // (2, 5, 24, 16)
        XCTAssertLessThanOrEqual(heatmaps.maxAbsDifference(try NPY.read(Fixtures.url("hrnet/tiny_pose_output.npy"))), 1e-4)
        let steps = try plan.profile(runs: 3)
        for op in Plan.byOperation(steps) { print(op.label, op.steps, op.milliseconds) }
        XCTAssertEqual(steps.count, plan.stepLabels.count)
        XCTAssertTrue(steps.contains { $0.name == "convolution final_layer" && $0.gflop > 0 }, "\(steps.map(\.name))")
        XCTAssertEqual(Plan.byOperation(steps).map(\.steps).reduce(0, +), steps.count)
        XCTAssertEqual(steps.map(\.gflop).reduce(0, +) * 1e9, plan.flops, accuracy: 1e-6 * plan.flops)
        XCTAssertThrowsError(try plan.profile(runs: 0))
    }
}
