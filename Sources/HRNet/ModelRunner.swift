import DNN

/// Runs an HRNet on batches of any shape: a plan compiled per input shape, the most recent
/// kept (`PlanCache`). Not for concurrent use: make one per thread.
public final class ModelRunner {
    public let model: HRNetModel
    public let plans: PlanCache
    public var threads: Int? { plans.threads }
    public var options: Plan.Options { plans.options }

    /// `parameters` by checkpoint key; every parameter of the model must be there, of its shape
    /// (extra ones are dropped).
    public init(model: HRNetModel, parameters: [String: Tensor], threads: Int? = nil, options: Plan.Options = .init(),
                capacity: Int = 1) throws {
        self.model = model
        plans = try PlanCache(graph: model.graph, parameters: parameters, threads: threads, options: options, capacity: capacity)
    }

    /// The graph's outputs for a normalized NCHW image batch.
    /// - Complexity: one network pass; the first call at a new input shape also compiles a plan.
    public func run(_ images: Tensor) throws -> [Tensor] {
        guard images.rank == 4 else {
            throw DNNError.graph("expected an NCHW image batch (rank 4), got shape \(images.shape)")
        }
        return try plans.run(images)
    }
}
