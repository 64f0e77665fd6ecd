import DNN
import XCTest

/// `nn.Dropout2d` in the training engine: whole (image, channel) maps zeroed with probability p,
/// the rest scaled by 1 / (1 - p), the same mask in backward; the identity in eval mode and in
/// inference plans; masks drawn again from the same seed.
final class ChannelDropoutTests: XCTestCase {
    func testMasksScaleAndBackward() throws {
        let g = Graph()
        let x = g.input(channels: 3)
        g.outputs = [g.channelDropout(g.conv(x, key: "c", outChannels: 40, kernel: 1, bias: true), probability: 0.25)]
        var rng = SplitMix64(seed: 1)
        let parameters = g.randomParameters(seed: 2)
        let input = Tensor(shape: [4, 3, 5, 6], scalars: (0..<360).map { _ in rng.nextUnitFloat() - 0.5 })
        let plan = try TrainingPlan(graph: g, parameters: parameters, input: Shape4(4, 3, 5, 6), threads: 2, inputGradient: true)
        plan.mode = .eval
        let plain = try plan.forward(input)[0]
        let inference = try Plan(graph: g, parameters: parameters, input: Shape4(4, 3, 5, 6), threads: 1).run(input)[0]
        XCTAssertEqual(plain.scalars, inference.scalars, "eval mode and inference are the identity")

        plan.mode = .train
        plan.dropoutSeed = 7
        let dropped = try plan.forward(input)[0]
        var zeroed = 0
        var mask = [Float](repeating: 0, count: 160)
        for map in 0..<160 {
            let range = (map * 30)..<((map + 1) * 30)
            let kept = zip(dropped.scalars[range], plain.scalars[range]).allSatisfy { abs($0 - $1 / 0.75) <= 1e-6 * max(1, abs($1)) }
            let dead = dropped.scalars[range].allSatisfy { $0 == 0 }
            XCTAssertTrue(kept != dead, "map \(map) is neither kept (x / 0.75) nor zeroed")
            if dead { zeroed += 1 } else { mask[map] = 1 / 0.75 }
        }
        // 160 maps at p = 0.25: 40 expected, standard deviation 5.5.
        XCTAssertTrue((18...62).contains(zeroed), "\(zeroed) of 160 maps zeroed")

        // Backward: d(sum y)/dx through the 1x1 conv = sum over channels of mask x weight.
        try plan.backward([Tensor(shape: dropped.shape, repeating: 1)])
        let gx = try XCTUnwrap(plan.inputGradient)
        let w = parameters["c.weight"]!.scalars
        for n in 0..<4 { for ci in 0..<3 {
            var expected: Float = 0
            for c in 0..<40 { expected += mask[n * 40 + c] * w[c * 3 + ci] }
            XCTAssertEqual(gx.scalars[(n * 3 + ci) * 30], expected, accuracy: 1e-5 * max(1, abs(expected)))
        }}

        // The same seed draws the same masks; another seed others.
        XCTAssertEqual(try plan.forward(input)[0].scalars, dropped.scalars)
        plan.dropoutSeed = 8
        XCTAssertNotEqual(try plan.forward(input)[0].scalars, dropped.scalars)
    }
}
