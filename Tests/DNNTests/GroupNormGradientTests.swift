import XCTest
import DNN
import TestSupport

/// The detection heads' ops in the training engine, checked against finite differences of the
/// double-precision reference (see `GradientCheckTests` for the loss, step and tolerance).
extension GradientCheckTests {
    /// Group norm alone and fused with ReLU, groups inside a channel block and spanning several.
    func testGroupNormGradients() throws {
        // (channels, groups, H, W)
        for (i, c) in [(12, 3, 5, 4), (32, 8, 3, 3), (20, 2, 4, 3)].enumerated() {
            for relu in [false, true] {
                let g = Graph()
                let x = g.conv(g.input(channels: 3), key: "c\(i)", outChannels: c.0, kernel: 3, bias: true)
                let y = g.groupNorm(x, key: "gn\(i)", groups: c.1)
                g.outputs = [relu ? g.relu(y) : y]
                try checkGradients(g, input: [2, 3, c.2, c.3], seed: UInt64(i + 1))
            }
        }
    }

    /// FCOS's box branch: conv -> GN -> ReLU -> conv -> learned scale -> exp, and the scale's own
    /// gradient; a second output reads the GN value too (its gradient is accumulated).
    func testFCOSBranchGradients() throws {
        let g = Graph()
        let t = g.relu(g.groupNorm(g.conv(g.input(channels: 4), key: "tower", outChannels: 16, kernel: 3), key: "tower.gn", groups: 4))
        let distances = g.exp(g.scale(g.conv(t, key: "reg", outChannels: 4, kernel: 3, bias: true), key: "scales.0"))
        g.outputs = [distances, g.conv(t, key: "cls", outChannels: 3, kernel: 1, bias: true)]
        let plan = try checkGradients(g, input: [2, 4, 6, 5], seed: 5)
        XCTAssertEqual(plan.parameters.gradient("scales.0.scale")?.shape, [])
    }

    /// A head shared by several levels (one convolution read at two resolutions): its gradient,
    /// the sum of both readers' parts, passes the finite-difference check.
    func testSharedParametersGradients() throws {
        let g = Graph()
        let x = g.input(channels: 4)
        g.outputs = [x, g.avgPool(x, kernel: 2, stride: 2)].map { g.conv($0, key: "head", outChannels: 2, kernel: 1) }
        XCTAssertEqual(g.sharedKeys, ["head.weight"])
        _ = try checkGradients(g, input: [1, 4, 4, 4], seed: 3)
    }
}
