import DNN

/// Runs a model on batches of any shape: compiles a plan for the first input shape and keeps it;
/// a batch of another shape compiles a new one (the parameters are kept for that, so this holds
/// them besides the plan's packed copy). Not for concurrent use: make one per thread.
public final class ModelRunner {
    public let model: HRNetModel
    public let threads: Int?
    public let options: Plan.Options
    private let parameters: [String: Tensor]
    private var plan: Plan?

    /// `parameters` by checkpoint key; every parameter of the model must be there, of its shape
    /// (extra ones are dropped).
    public init(model: HRNetModel, parameters: [String: Tensor], threads: Int? = nil, options: Plan.Options = .init()) throws {
        for spec in model.graph.parameters {
            guard let t = parameters[spec.key] else { throw GraphError("parameter \(spec.key) is missing") }
            guard t.shape == spec.shape else { throw GraphError("parameter \(spec.key) has shape \(t.shape), the model needs \(spec.shape)") }
        }
        let keys = Set(model.graph.parameters.map(\.key))
        self.parameters = parameters.filter { keys.contains($0.key) }
        (self.model, self.threads, self.options) = (model, threads, options)
    }

    /// The graph's outputs for a normalized NCHW image batch.
    /// - Complexity: one network pass; the first call at a new input shape also compiles a plan.
    public func run(_ images: Tensor) throws -> [Tensor] {
        guard images.rank == 4, let shape = Shape4(images.shape) else {
            throw GraphError("expected an NCHW image batch (rank 4), got shape \(images.shape)")
        }
        if plan?.inputShape != shape {
            plan = nil  // free the old arena before building the new one
            plan = try Plan(graph: model.graph, parameters: parameters, input: shape, threads: threads, options: options)
        }
        return try plan!.run(images)
    }
}
