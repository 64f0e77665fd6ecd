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
            for (k, shape) in shapes.enumerated() {
                let x = randomTensor(shape.dims, seed: UInt64(k))
                let shared = try cache.run(x)[0]
                let alone = try Plan(graph: model.graph, parameters: parameters, input: shape, threads: 2, options: options).run(x)[0]
                XCTAssertEqual(shared.scalars, alone.scalars, "\(shape): the shared weights are the same bytes, so the same numbers")
                stored.append(cache.packedWeights.count)
            }
            let convolutions = model.graph.nodes.filter { if case .conv = $0.op { true } else { false } }.count
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
}
