import XCTest
import HRNet
import TestSupport

/// Two training steps of the tiny classifier against timm/PyTorch (Tests/Fixtures/classify/
/// make_cls_training_fixtures.py): train-mode BN everywhere, also in the head's downsample and
/// final-layer BNs whose maps shrink to 2x1 (batch statistics over 8 values), global average
/// pool, linear classifier, cross-entropy with label smoothing 0.1, SGD with nesterov momentum
/// and weight decay. This is the classification head's backward checked end to end against an
/// independent implementation (the pose golden covers the stages).
final class ClsTrainingGoldenTests: XCTestCase {
    func fixture(_ name: String) -> URL { Fixtures.url("classify/\(name)") }

    struct Golden: Decodable {
        let labels: [Int32]
        let label_smoothing: Float
        let lr: Float
        let momentum: Float
        let weight_decay: Float
        let losses: [Double]
    }

    func testGradientsAndSGDStepMatchPyTorch() throws {
        var config = try HRNetConfig.load(fixture("tiny_cls.yaml"))
        config.architecture.head = .classification(ClassifierSpec(classes: 10, increPlanes: [2, 3, 4, 5], features: 24))
        let model = HRNetModel(config: config)
        let (parameters, _) = try model.graph.bind(try Checkpoint.loadFloat(fixture("tiny_cls.safetensors")))
        let x = try NPY.read(fixture("cls_train_input.npy"))
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: fixture("cls_train.json")))
        let plan = try TrainingPlan(graph: model.graph, parameters: parameters, input: Shape4(x.shape)!, threads: 2)
        plan.mode = .train
        let loss = CrossEntropyLoss(ignoreIndex: -1, labelSmoothing: golden.label_smoothing)
        let sgd = SGD(learningRate: golden.lr, momentum: golden.momentum, weightDecay: golden.weight_decay, nesterov: true)
        func step() throws -> Double {
            let output = try plan.forward(x)[0]
            let logits = Tensor(shape: [x.shape[0], 10, 1, 1], scalars: output.scalars)
            let value = try loss(logits, labels: golden.labels)
            try plan.backward([Tensor(shape: output.shape, scalars: value.gradient.scalars)])
            return value.loss
        }

        // Step 1: loss and every gradient. fp32 in another summation order: ~1e-5 of a tensor's
        // largest gradient; 1e-4 leaves room and still catches any wrong term. Plus 2e-6 absolute:
        // a conv bias before a train-mode BN has a gradient of exactly 0 in theory (BN removes the
        // mean), which both engines give as rounding noise (PyTorch ~2e-8), and a few BN scales
        // in the fusion chains get ~1e-4 gradients out of cancelling O(1) terms (observed 5e-7
        // absolute error there, while the input conv's gradients are ~5).
        XCTAssertEqual(try step(), golden.losses[0], accuracy: 1e-5 * golden.losses[0])
        let worst = try TrainingGoldenChecks.gradients(of: plan, match: try Checkpoint.loadFloat(fixture("cls_train_gradients.safetensors")),
                                                       relative: 1e-4, absolute: 2e-6)
        print("worst gradient: \(worst.key), \(worst.error) of its largest")

        // The update: SGD is linear in the gradient, so weights and running statistics match to
        // 1e-4 of their scale (no sign ambiguity as with Adam).
        sgd.update(plan.parameters)
        // (The fixture's BN counters are random per BN; the engine keeps one: TrainingGoldenTests checks it.)
        try TrainingGoldenChecks.values(of: plan, match: try Checkpoint.load(fixture("cls_train_step1.safetensors")), relative: 1e-4)
        // Step 2 (after the update): the loss of the new weights, 1e-4 relative.
        XCTAssertEqual(try step(), golden.losses[1], accuracy: 1e-4 * golden.losses[1])
    }
}
