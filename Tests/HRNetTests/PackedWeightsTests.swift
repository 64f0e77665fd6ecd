import DNN
import HRNet
import TestSupport
import XCTest

/// Plans of one graph at several shapes share their packed weights (`PlanCache.packedWeights`):
/// every output equals a plan compiled alone, and the later shapes pack only layouts no plan
/// had (direct convolutions keep one blocked layout at every shape).
final class PackedWeightsTests: XCTestCase {
    func testPlansOfOtherShapesShareAndMatch() throws {
        let model = HRNetModel(config: try HRNetConfig.load(Fixtures.url("hrnet/tiny_seg.yaml")))
        let (parameters, _) = try model.loadWeights(Fixtures.url("hrnet/tiny_seg.safetensors"))
        for options in [Plan.Options.direct, Plan.Options()] {
            let cache = try PlanCache(graph: model.graph, parameters: parameters, threads: 2, options: options, capacity: 4)
            let shapes = [Shape4(1, 3, 64, 96), Shape4(2, 3, 64, 96), Shape4(1, 3, 50, 70), Shape4(1, 3, 96, 128)]
            var stored: [Int] = []
            var convolutions = 0
            for (k, shape) in shapes.enumerated() {
                let x = randomTensor(shape.dims, seed: UInt64(k))
                let shared = try cache.run(x)[0]
                let plan = try Plan(graph: model.graph, parameters: parameters, input: shape, threads: 2, options: options)
                let alone = try plan.run(x)[0]
                XCTAssertEqual(shared.scalars, alone.scalars, "\(shape): the shared weights are the same bytes, so the same numbers")
                stored.append(cache.packedWeights.count)
                // The plan's convolutions (the head's 1x1 runs as one per stream, see `distributedPointwiseConvolutions`).
                if k == 0 { convolutions = plan.stepLabels.filter { $0.hasPrefix("convolution") }.count }
            }
            XCTAssertLessThanOrEqual(stored[0], convolutions)
            if !options.winograd {
                // Direct convolutions: the first plan packs everything, the others nothing.
                XCTAssertEqual(stored, Array(repeating: stored[0], count: shapes.count), "packed per shape: \(stored)")
                XCTAssertEqual(cache.packedWeights.hits, stored[0] * (shapes.count - 1))
            } else {
                XCTAssertGreaterThan(cache.packedWeights.hits, 0)
            }
        }
    }

    /// The cache's plans share one activation workspace: after `prepare` compiles the largest
    /// shape, the smaller ones run in its memory, and runs interleaved across shapes (each
    /// overwriting the others' values, padded channel lanes included) give each plan's own numbers.
    func testPlansShareOneWorkspace() throws {
        let model = HRNetModel(config: try HRNetConfig.load(Fixtures.url("hrnet/tiny_seg.yaml")))
        let (parameters, _) = try model.loadWeights(Fixtures.url("hrnet/tiny_seg.safetensors"))
        let shapes = [Shape4(1, 3, 50, 70), Shape4(2, 3, 96, 128), Shape4(1, 3, 64, 96)]
        let inputs = shapes.enumerated().map { randomTensor($1.dims, seed: UInt64(10 + $0)) }
        for options in [Plan.Options.direct, Plan.Options()] + (hasNativeBF16 ? [Plan.Options(bf16: true)] : []) {
            let cache = try PlanCache(graph: model.graph, parameters: parameters, threads: 2, options: options, capacity: 4)
            try cache.prepare(shapes)
            XCTAssertEqual(cache.compiled, 1)
            let largest = cache.workspace.arenaBytes
            let alone = try shapes.map { try Plan(graph: model.graph, parameters: parameters, input: $0, threads: 2, options: options) }
            let expected = try zip(alone, inputs).map { try $0.run($1)[0].scalars }
            for k in [0, 1, 2, 0, 2, 1, 0] {
                XCTAssertEqual(try cache.run(inputs[k])[0].scalars, expected[k], "\(shapes[k]) after other shapes ran in the same memory")
            }
            XCTAssertEqual(cache.compiled, 3)
            XCTAssertEqual(cache.workspace.arenaBytes, largest, "the smaller shapes fit in the largest one's memory")
            XCTAssertEqual(largest, alone.map { $0.arenaBytes }.max())
            XCTAssertLessThan(largest, alone.map { $0.arenaBytes }.reduce(0, +))
        }
    }
}
