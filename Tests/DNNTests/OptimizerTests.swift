import XCTest
import DNN
import TestSupport

/// Optimizers, clipping, freezing and schedules against PyTorch's own (`torch.optim`), from
/// numbers written by Tests/Fixtures/training/make_training_fixtures.py: two small tensors,
/// four steps of fixed gradients. Values are O(1) and each step is a few fp32 operations per
/// element, so PyTorch and this code agree to ~1e-7; the tolerance is 2e-6 absolute.
final class OptimizerTests: XCTestCase {
    func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: try Data(contentsOf: Fixtures.url("training/\(name)")))
    }
    func floats(_ a: Any?) -> [Float] { (a as! [Any]).map { Float(($0 as! NSNumber).doubleValue) } }

    func testOptimizersMatchPyTorch() throws {
        let root = try json("optimizers.json") as! [String: Any]
        let shapes = (root["shapes"] as! [[Int]])
        let initial = (root["initial"] as! [Any]).map(floats)
        let gradients = (root["gradients"] as! [[Any]]).map { $0.map(floats) }
        let cases = root["cases"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 21)
        for c in cases {
            let name = c["optimizer"] as! String
            let hyper = c["hyper"] as! [String: Any]
            let clip = (c["clip"] as? NSNumber).map { Float($0.doubleValue) }
            let frozen = c["frozen_second"] as! Bool
            let label = "\(name) clip \(clip.map { "\($0)" } ?? "none") frozen \(frozen)"
            let lr = Float((hyper["lr"] as! NSNumber).doubleValue)
            let wd = Float((hyper["weight_decay"] as! NSNumber).doubleValue)
            let optimizer: Optimizer
            if name.hasPrefix("sgd") {
                optimizer = SGD(learningRate: lr, momentum: Float((hyper["momentum"] as! NSNumber).doubleValue),
                                dampening: Float((hyper["dampening"] as! NSNumber).doubleValue), weightDecay: wd,
                                nesterov: hyper["nesterov"] as! Bool)
            } else {
                let betas = floats(hyper["betas"])
                optimizer = Adam(learningRate: lr, beta1: betas[0], beta2: betas[1], epsilon: Float((hyper["eps"] as! NSNumber).doubleValue),
                                 weightDecay: wd, decoupledWeightDecay: name == "adamw")
            }
            let store = try ParameterStore([("a.weight", Tensor(shape: shapes[0], scalars: initial[0])),
                                            ("b.bias", Tensor(shape: shapes[1], scalars: initial[1]))])
            if frozen { XCTAssertEqual(store.freeze(prefixes: ["b"]), 1) }
            let norms = floats(c["norms"])
            for (k, step) in (c["after"] as! [[Any]]).enumerated() {
                try store.setGradient("a.weight", Tensor(shape: shapes[0], scalars: gradients[k][0]))
                try store.setGradient("b.bias", Tensor(shape: shapes[1], scalars: gradients[k][1]))
                if let clip {
                    let norm = clipGradientNorm(store, maxNorm: clip)
                    XCTAssertEqual(Float(norm), norms[k], accuracy: 1e-5, "\(label): gradient norm at step \(k + 1)")
                }
                optimizer.update(store)
                let expected = step.map(floats)
                for (key, e) in zip(["a.weight", "b.bias"], expected) {
                    let got = store.value(key)!.scalars
                    let err = zip(got, e).map { abs($0 - $1) }.max()!
                    XCTAssertLessThanOrEqual(err, 2e-6, "\(label): \(key) after step \(k + 1)")
                }
            }
        }
    }

    func testOptimizerStateRoundTrip() throws {
        // Moments saved and loaded give the same next update as an uninterrupted run.
        let shapes = [[3, 4], [5]]
        func store() throws -> ParameterStore {
            try ParameterStore([("a.weight", randomTensor(shapes[0], seed: 1)), ("b.bias", randomTensor(shapes[1], seed: 2))])
        }
        for make in [{ Adam(learningRate: 0.01, weightDecay: 0.01) as Optimizer }, { SGD(learningRate: 0.1, momentum: 0.9, nesterov: true) }] {
            let s1 = try store(), s2 = try store()
            let o1 = make()
            var o2 = make()
            for k in 0..<3 {
                for s in [s1, s2] {
                    try s.setGradient("a.weight", randomTensor(shapes[0], seed: 10 + UInt64(k)))
                    try s.setGradient("b.bias", randomTensor(shapes[1], seed: 20 + UInt64(k)))
                }
                o1.update(s1)
                if k == 1 {
                    // Resume: a new optimizer from the saved state takes over.
                    let fresh = make()
                    try fresh.loadState(o2.state(s2), s2)
                    o2 = fresh
                }
                o2.update(s2)
            }
            XCTAssertEqual(s1.value("a.weight"), s2.value("a.weight"))
            XCTAssertEqual(s1.value("b.bias"), s2.value("b.bias"))
        }
    }

    func testFreezeMatchesWholeKeyComponents() throws {
        let store = try ParameterStore([("stage2.0.conv.weight", Tensor(zeros: [2])), ("stage20.conv.weight", Tensor(zeros: [2])),
                                        ("stage2", Tensor(zeros: [1]))])
        XCTAssertEqual(store.freeze(prefixes: ["stage2"]), 2)
        XCTAssertEqual(store.entries.map(\.frozen), [true, false, true])
        XCTAssertEqual(store.freeze(prefixes: ["stage2"], false), 2)
        XCTAssertEqual(store.entries.map(\.frozen), [false, false, false])
    }

    func testSchedulesMatchPyTorch() throws {
        let s = (try json("optimizers.json") as! [String: Any])["schedules"] as! [String: Any]
        let base = Float((s["base"] as! NSNumber).doubleValue)
        let cases: [(String, LRSchedule)] = [
            ("multistep", LRSchedule(.multiStep(milestones: [3, 6], gamma: 0.1))),
            ("cosine", LRSchedule(.cosine(total: 10, minimum: 1e-3))),
            ("warmup", LRSchedule(.constant, warmupSteps: 5, warmupStartFactor: 0.1)),
            ("poly", LRSchedule(.poly(total: 10, power: 0.9))),
        ]
        for (name, schedule) in cases {
            for (t, e) in floats(s[name]).enumerated() {
                // PyTorch updates some schedules recursively in double; closed form agrees to ~1e-9, fp32 to ~1e-7 relative.
                XCTAssertEqual(schedule.learningRate(base: base, at: t), e, accuracy: 1e-6 * e + 1e-9, "\(name) at \(t)")
            }
        }
    }
}
