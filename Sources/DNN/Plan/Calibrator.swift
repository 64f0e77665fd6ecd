/// Measures the activation ranges an int8 plan needs: runs the model in fp32 over
/// calibration batches and keeps, for every convolution, the largest |x| of the value it reads
/// and of the value it writes (after its fused BN, sum and ReLU).
///
/// ```swift
/// let calibrator = try Calibrator(graph: model.graph, parameters: weights, input: Shape4(1, 3, 256, 192))
/// for crop in crops { try calibrator.observe(crop) }
/// let plan = try Plan(graph: model.graph, parameters: weights, input: Shape4(1, 3, 256, 192),
///                     options: Plan.Options(int8: calibrator.table))
/// ```
public final class Calibrator {
    public let graph: Graph
    /// Images seen so far (the batch dimension of every observed batch).
    public private(set) var images = 0
    private let plan: Plan
    private let observer: RangeObserver
    /// Every convolution: its key, the value it reads and the value it writes.
    private let convolutions: [(key: String, input: Int, output: Int)]

    /// Compiles an fp32 plan for batches of shape `input` that records ranges as it runs.
    public init(graph: Graph, parameters: [String: Tensor], input: Shape4, threads: Int? = nil) throws {
        self.graph = graph
        var convolutions: [(key: String, input: Int, output: Int)] = []
        for op in graph.fuse() {
            if case .conv(let node, _, _) = op.kind, case .conv(let c) = graph.nodes[node].op {
                convolutions.append((c.key, op.inputs[0], op.output))
            }
        }
        self.convolutions = convolutions
        observer = RangeObserver(values: Set(convolutions.flatMap { [$0.input, $0.output] }))
        plan = try Plan(graph: graph, parameters: parameters, input: input, threads: threads, options: Plan.Options(), observer: observer)
    }

    /// The shape every observed batch must have.
    public var inputShape: Shape4 { plan.inputShape }

    /// Runs one batch and widens the ranges to cover it; returns the model's fp32 outputs.
    @discardableResult
    public func observe(_ batch: Tensor) throws -> [Tensor] {
        let y = try plan.run(batch)
        images += batch.shape[0]
        return y
    }

    /// The ranges seen so far; throws before any batch was observed.
    public func table() throws -> QuantizationTable {
        guard images > 0 else { throw DNNError.quantization("no calibration images were observed") }
        var ranges: [String: QuantizationTable.Range] = [:]
        for c in convolutions {
            let r = QuantizationTable.Range(input: observer.maxAbs[c.input] ?? 0, output: observer.maxAbs[c.output] ?? 0)
            guard r.input.isFinite, r.output.isFinite else {
                throw DNNError.quantization("calibration saw non-finite activations at \(c.key) (NaN or infinite inputs or weights?)")
            }
            ranges[c.key] = r
        }
        return QuantizationTable(model: graph.fingerprint, images: images, ranges: ranges)
    }
}
