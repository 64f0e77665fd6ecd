/// Compiled plans of one graph by input shape, the most recently used kept: inputs whose
/// shapes vary (detection keeps each photo's aspect ratio) compile once per shape.
/// Holds the parameters to compile new shapes, besides each plan's packed copy.
/// Not for concurrent use: make one per thread.
public final class PlanCache {
    public let graph: Graph
    public let threads: Int?
    public let options: Plan.Options
    /// Plans kept at most (at least one); each holds its packed weights and its activation arena.
    public var capacity: Int
    private let parameters: [String: Tensor]
    private var plans: [Plan] = []
    /// Plans compiled so far, and the seconds that took.
    public private(set) var compiled = 0
    public private(set) var compileSeconds = 0.0
    /// The packed weights the cache's plans share: a second shape packs only layouts no plan has.
    public let packedWeights = PackedWeights()
    /// The activation memory the cache's plans share: they run one at a time (the cache is for
    /// one thread), so its plans hold the largest shape's arena, not the sum of them.
    public let workspace = Workspace()

    /// Every parameter of `graph` must be in `parameters`, of its shape (others are dropped).
    public init(graph: Graph, parameters: [String: Tensor], threads: Int? = nil, options: Plan.Options = .init(),
                capacity: Int = 3) throws {
        for spec in graph.parameters {
            guard let t = parameters[spec.key] else { throw DNNError.graph("parameter \(spec.key) is missing") }
            guard t.shape == spec.shape else { throw DNNError.graph("parameter \(spec.key) has shape \(t.shape), the model needs \(spec.shape)") }
        }
        let keys = Set(graph.parameters.map(\.key))
        self.parameters = parameters.filter { keys.contains($0.key) }
        (self.graph, self.threads, self.options, self.capacity) = (graph, threads, options, max(1, capacity))
    }

    /// The plan for inputs of `shape`, compiled on first use.
    public func plan(for shape: Shape4) throws -> Plan {
        if let i = plans.firstIndex(where: { $0.inputShape == shape }) {
            let plan = plans.remove(at: i)
            plans.append(plan)
            return plan
        }
        while plans.count >= max(1, capacity) { plans.removeFirst() }  // free the oldest arenas before the new one
        let start = ContinuousClock.now
        let plan = try Plan(graph: graph, parameters: parameters, input: shape, threads: threads, options: options, sharing: packedWeights,
                            workspace: workspace)
        compileSeconds += (ContinuousClock.now - start).seconds
        compiled += 1
        plans.append(plan)
        return plan
    }

    /// Compiles the largest of `shapes` (by input size) now, if it is not compiled: plans of the
    /// smaller ones then fit in its arena (see `Workspace`) instead of growing it step by step.
    public func prepare(_ shapes: [Shape4]) throws {
        guard let largest = shapes.max(by: { $0.count < $1.count }) else { return }
        _ = try plan(for: largest)
    }

    /// The graph's outputs for an NCHW batch.
    /// - Complexity: one network pass; the first call at a new shape also compiles a plan.
    public func run(_ input: Tensor) throws -> [Tensor] {
        guard input.rank == 4, let shape = Shape4(input.shape) else {
            throw DNNError.graph("expected an NCHW batch (rank 4), got shape \(input.shape)")
        }
        return try plan(for: shape).run(input)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
