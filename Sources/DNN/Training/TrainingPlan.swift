import CDNNL
import Collectives
import Foundation

/// A graph compiled for training on one input shape: a forward pass that saves what the
/// backward pass needs, and a backward pass of oneDNN backward primitives (convolution data
/// and weights, batch norm with batch statistics, pooling, inner product) and engine kernels
/// (ReLU, add, resize, concat), accumulating the gradient of a value read by several ops.
///
/// Activations and gradients live in one arena laid out by liveness over both passes: a
/// value is freed when its last reader (forward or backward) is done, a gradient when its
/// producer's backward has used it, and ReLU, add and batch norm work in place where the
/// value they overwrite is dead. Parameters and gradients live in `parameters` (flat fp32),
/// which an optimizer updates between steps; weights are re-packed for oneDNN when changed.
///
/// ```swift
/// let trainer = try TrainingPlan(graph: g, parameters: weights, input: Shape4(8, 3, 256, 192))
/// let loss = try trainer.step(images) { heatmaps in try JointsMSELoss()(heatmaps[0], target: t, targetWeight: w) }
/// optimizer.update(trainer.parameters)
/// ```
public final class TrainingPlan {
    /// Batch norm with batch statistics (updating the running ones) or with the running ones.
    public enum Mode: Sendable { case train, eval }

    /// How the plan computes, where there is a choice that changes speed, not the math.
    public struct Options: Sendable {
        /// Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions whose output has at least
        /// `winogradMinimumPixels` pixels and at least `winogradMinimumChannels` input and
        /// output channels, in forward, backward data and backward weights. oneDNN 2.6
        /// (jit_wino_4x3, AVX-512) runs these 1.3-2x faster than its direct kernels on HRNet's
        /// maps of 16x12 and larger, and slower on smaller maps or 16 channels (measured in
        /// isolation, 1 thread: batch 8, 64 ch at 32x24 fwd 1.34 vs 2.52 ms; 256 ch at 8x6
        /// 3.36 vs 2.30 ms; batch 32, 16 ch at 32x24 0.90 vs 0.58 ms). Backward data reads the
        /// forward's weight layout, so no per-step weight re-packing either.
        /// Convolutions oneDNN has no Winograd kernel for (channels not a multiple of 16,
        /// non-AVX-512 CPUs) stay direct.
        public var winograd: Bool
        public var winogradMinimumPixels: Int
        public var winogradMinimumChannels: Int
        /// Add -> ReLU in one pass forward and one backward (see `TrainingStep`). Off only to
        /// compare with the unfused ops.
        public var fuseAddReLU: Bool

        public init(winograd: Bool = true, winogradMinimumPixels: Int = 192, winogradMinimumChannels: Int = 32,
                    fuseAddReLU: Bool = true) {
            self.winograd = winograd
            self.winogradMinimumPixels = winogradMinimumPixels
            self.winogradMinimumChannels = winogradMinimumChannels
            self.fuseAddReLU = fuseAddReLU
        }

        /// Direct convolutions only.
        public static let direct = Options(winograd: false)
        /// Direct convolutions, no add -> ReLU fusion: the reference the fast paths are tested against.
        public static let reference = Options(winograd: false, fuseAddReLU: false)
    }

    public let inputShape: Shape4
    public let outputShapes: [Shape4]
    public let threads: Int
    public let options: Options
    /// Learnable parameters, their gradients and the BN running statistics.
    public let parameters: ParameterStore
    /// `.train` (PyTorch's `model.train()`) or `.eval` for the next `forward`.
    public var mode: Mode = .train
    /// Draws the train-mode dropout masks of the next forward (each dropout layer its own from
    /// it). A session sets it from its seed and global step, so a resumed run draws the same masks.
    public var dropoutSeed: UInt64 = 0
    /// BN running-statistics momentum (PyTorch's default 0.1).
    public var batchNormMomentum: Float = 0.1
    /// FLOP of one forward pass (a training step does about three times this).
    public let flops: Double
    /// Bytes of the activation and gradient arena.
    public let arenaBytes: Int
    /// Train-mode batch norm normalizes over the batches of these processes (`SynchronizedBatchNorm`).
    let batchNormCommunicator: (any Communicator)?
    /// Whether train-mode batch norm uses the statistics of every process's batch.
    public var synchronizesBatchNorm: Bool { batchNormCommunicator != nil }
    /// Each oneDNN primitive and the implementation oneDNN chose for it.
    public private(set) var implementations: [(step: String, implementation: String)] = []

    /// One unit of work: a oneDNN primitive or an engine kernel.
    enum Step {
        case call(Primitive, [dnnl_exec_arg_t], String)
        case kernel(String, () -> Void)
        /// Sets the OpenMP thread count for the steps that follow.
        case threads(Int32)
    }

    var prepare: [Step] = []
    /// Indexed by mode: [train, eval].
    var forwardSteps: [[Step]] = [[], []]
    var backwardSteps: [[Step]] = [[], []]
    var outputCopy: [Step] = []
    var seedSteps: [Step] = []
    var inputGradientCopy: [Step] = []

    let inputBuffer: UnsafeMutablePointer<Float>
    var outputBuffers: [UnsafeMutablePointer<Float>] = []
    var outputGradientBuffers: [UnsafeMutablePointer<Float>] = []
    var inputGradientBuffer: UnsafeMutablePointer<Float>?
    var owned: [UnsafeMutableRawPointer] = []
    var keepAlive: [AnyObject] = []
    private var packedVersion = -1
    /// What the arena holds: activations of a forward in some mode, or nothing usable.
    private var saved: Mode?

    /// - Parameters:
    ///   - parameters: every parameter of `graph` (BN running statistics included) by key.
    ///   - inputGradient: also compute the gradient with respect to the input (`inputGradient`).
    ///   - threads: oneDNN and kernel threads; all cores when nil.
    ///   - options: algorithm choices (Winograd convolutions by default).
    ///   - synchronizeBatchNorm: train-mode batch norm over the batches of all these processes
    ///     (SyncBN); nil: over this plan's batch.
    public init(graph: Graph, parameters: consuming [String: Tensor], input: Shape4, threads: Int? = nil,
                inputGradient: Bool = false, options: Options = Options(), synchronizeBatchNorm: (any Communicator)? = nil) throws {
        inputShape = input
        batchNormCommunicator = synchronizeBatchNorm
        self.threads = max(1, threads ?? Threads.available)
        let shapes = try graph.inferShapes(input: input)
        outputShapes = graph.outputs.map { shapes[$0.id] }
        flops = try graph.flops(input: input)
        guard !graph.outputs.isEmpty else { throw DNNError.graph("graph has no outputs") }
        self.options = options
        var builder = try Builder(graph: graph, shapes: shapes, input: input, inputGradient: inputGradient, threads: self.threads,
                                  options: options)
        // Convolution weights live in the layout their forward kernels read.
        let layouts = try builder.convolutionLayouts()
        var given = consume parameters
        self.parameters = try ParameterStore(specs: graph.parameters, parameters: given, layouts: layouts)
        // Copied into the store: a caller that handed over its only copy gets it freed before the arena is touched.
        given = [:]
        builder.store = self.parameters
        inputBuffer = .allocate(capacity: input.count)
        inputBuffer.initialize(repeating: 0, count: input.count)
        owned.append(UnsafeMutableRawPointer(inputBuffer))

        arenaBytes = builder.arenaBytes
        let plan = self, threads = self.threads
        // On the compute thread: oneDNN sizes a primitive's thread partition when it is created.
        try ComputeThread.shared.run {
            cdnnl_set_num_threads(Int32(threads))
            try builder.emit(plan: plan)
        }
        implementations = builder.implementations.map { (step: $0.0, implementation: $0.1) }
    }

    deinit { for p in owned { p.deallocate() } }

    /// Memory the plan owns, 64-byte aligned and zeroed.
    func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let p = Plan.allocate(bytes)
        owned.append(p)
        return p
    }

    /// Runs the forward pass (in `mode`) and returns the outputs (NCHW). In `.train` mode the
    /// BN running statistics are updated, as PyTorch does.
    public func forward(_ x: Tensor) throws -> [Tensor] {
        guard x.shape == inputShape.dims else {
            throw DNNError.graph("input has shape \(x.shape), this training plan was compiled for \(inputShape.dims)")
        }
        x.scalars.withUnsafeBufferPointer { inputBuffer.update(from: $0.baseAddress!, count: x.count) }
        let m = mode
        try ComputeThread.shared.run {
            cdnnl_set_num_threads(Int32(threads))
            if packedVersion != parameters.version {
                try execute(prepare, phase: 1)
                packedVersion = parameters.version
            }
            try execute(forwardSteps[m == .train ? 0 : 1], phase: m == .train ? 2 : 3)
            try execute(outputCopy, phase: 4)
        }
        if m == .train { parameters.batchesTracked += 1 }
        saved = m
        return zip(outputBuffers, outputShapes).map { p, s in Tensor(shape: s.dims, scalars: Array(UnsafeBufferPointer(start: p, count: s.count))) }
    }

    /// Runs the backward pass of the last `forward`, given d(loss)/d(output) for every output;
    /// leaves the parameter gradients in `parameters` (overwritten, not accumulated).
    public func backward(_ outputGradients: [Tensor]) throws {
        guard let m = saved else {
            throw DNNError.graph("backward needs a forward first (each backward consumes the saved activations)")
        }
        guard outputGradients.count == outputShapes.count else {
            throw DNNError.graph("backward takes \(outputShapes.count) output gradients, got \(outputGradients.count)")
        }
        for (k, (g, s)) in zip(outputGradients, outputShapes).enumerated() {
            guard g.shape == s.dims else { throw DNNError.graph("output gradient \(k) has shape \(g.shape), the output is \(s.dims)") }
            g.scalars.withUnsafeBufferPointer { outputGradientBuffers[k].update(from: $0.baseAddress!, count: g.count) }
        }
        saved = nil
        try ComputeThread.shared.run {
            cdnnl_set_num_threads(Int32(threads))
            try execute(seedSteps, phase: 5)
            try execute(backwardSteps[m == .train ? 0 : 1], phase: m == .train ? 6 : 7)
            try execute(inputGradientCopy, phase: 8)
        }
    }

    /// d(loss)/d(input) of the last backward, when the plan was built with `inputGradient`.
    public var inputGradient: Tensor? {
        inputGradientBuffer.map { Tensor(shape: inputShape.dims, scalars: Array(UnsafeBufferPointer(start: $0, count: inputShape.count))) }
    }

    /// Forward, loss and backward in one call: `loss` maps the outputs to the loss value and
    /// d(loss)/d(output) of each. Returns the loss.
    @discardableResult
    public func step(_ x: Tensor, loss: ([Tensor]) throws -> (loss: Double, gradients: [Tensor])) throws -> Double {
        let outputs = try forward(x)
        let (value, gradients) = try loss(outputs)
        guard value.isFinite else { throw DNNError.graph("loss is \(value); stopping before the weights are spoiled") }
        try backward(gradients)
        return value
    }

    /// Convenience for a one-output graph and a loss of that output.
    @discardableResult
    public func step(_ x: Tensor, loss: (Tensor) throws -> LossValue) throws -> Double {
        try step(x) { outputs in
            let l = try loss(outputs[0])
            return (l.loss, [l.gradient])
        }
    }

    /// When set, each step's time is added here by kind (milliseconds), for finding hot spots.
    public var profile: [String: Double]? {
        didSet { if profile == nil { fastest = [:] } }
    }
    /// Fastest time seen of each step (by phase and position) while profiling.
    private var fastest: [Int: (name: String, ms: Double)] = [:]

    /// While profiling: by kind, the sum over its steps of each step's fastest time seen
    /// (milliseconds per training step). On a machine shared with other work, a step's fastest
    /// run is the one nothing preempted, so this estimates the time on an idle machine.
    public var profileFloor: [String: Double] {
        var out: [String: Double] = [:]
        for (_, f) in fastest { out[f.name, default: 0] += f.ms }
        return out
    }

    private func execute(_ steps: [Step], phase: Int = 0) throws {
        let stream = Engine.shared.stream
        for (index, step) in steps.enumerated() {
            let start = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            switch step {
            case .call(let p, let args, _):
                try check(args.withUnsafeBufferPointer { dnnl_primitive_execute(p.handle, stream, Int32($0.count), $0.baseAddress) },
                          "primitive_execute")
            case .kernel(_, let body):
                try check(dnnl_stream_wait(stream), "stream_wait")
                body()
            case .threads(let n):
                cdnnl_set_num_threads(n)
                continue
            }
            if profile != nil {
                try check(dnnl_stream_wait(stream), "stream_wait")
                let name: String
                switch step { case .call(_, _, let n): name = n; case .kernel(let n, _): name = n; case .threads: name = "" }
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                profile![name, default: 0] += ms
                let id = phase << 32 | index
                if ms < fastest[id]?.ms ?? .infinity { fastest[id] = (name, ms) }
            }
        }
        try check(dnnl_stream_wait(stream), "stream_wait")
    }
}
