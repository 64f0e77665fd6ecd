import CDNNL
import Foundation

/// A graph compiled for one input shape: oneDNN primitives created once, weights folded
/// and re-packed once, activations in one arena reused by liveness.
///
/// Activations stay in the engine's blocked layout (nChw16c on AVX-512) from the first
/// convolution to the outputs; only the input and the outputs are converted. A plan runs one
/// batch at a time (its arena is shared state); make one plan per thread for concurrency.
public final class Plan {
    public let inputShape: Shape4
    /// Each output's NCHW shape (a channels-last output holds the same values as (N, H, W, C)).
    public let outputShapes: [Shape4]
    /// Indices of the outputs returned channels-last (the graph's `channelsLastOutputs`).
    public let channelsLastOutputs: Set<Int>
    public let threads: Int
    /// FLOP of one run of the model as built (convolutions and linear layers; the plan may do
    /// fewer: `Options.distributedPointwiseConvolutions`, Winograd).
    public let flops: Double
    /// Bytes of the activation arena.
    public let arenaBytes: Int
    /// Each oneDNN primitive of the plan and the implementation oneDNN chose for it.
    public private(set) var implementations: [(step: String, implementation: String)] = []

    /// Scratch memory of the engine's kernels: the plan's shared scratchpad, known once every
    /// step is emitted (kernels read `pointer` when they run).
    final class KernelScratch: @unchecked Sendable {
        var pointer: UnsafeMutableRawPointer?
    }

    enum Step {
        case primitive(Primitive, [dnnl_exec_arg_t])
        case kernel(() -> Void)
    }

    private var steps: [Step] = []
    /// Each step's op type and implementation, e.g. "convolution 3x3 [jit_wino_2x3:avx512_core]".
    public private(set) var stepLabels: [String] = []
    /// Each step's name: convolutions by their layer's checkpoint key (e.g. "convolution
    /// stage3.0.branches.2.0.conv1"; a convolution run in parts or slices has a step per part),
    /// other steps by their op.
    public private(set) var stepNames: [String] = []
    /// Each step's FLOPs (2 x multiply-adds; convolutions only, 0 elsewhere).
    public private(set) var stepFlops: [Double] = []
    private let inputBuffer: UnsafeMutableRawPointer
    private var outputBuffers: [(pointer: UnsafeMutableRawPointer, count: Int)] = []
    private var owned: [UnsafeMutableRawPointer] = []
    private var keepAlive: [AnyObject] = []

    /// Choices that trade speed against memory or exactness.
    public struct Options: Sendable {
        /// Winograd 3x3 convolutions where the output has at least `winogradMinimumPixels`
        /// pixels (agrees with direct convolution to ~1e-6 relative on HRNet), and on smaller
        /// maps where oneDNN runs its F(2x2, 3x3) kernel. F(4x4, 3x3) weights take 4x the memory
        /// while its gain grows with the map size, so small maps it would take stay direct:
        /// measured on pose W32 256x192, 2 threads: all 3x3 convs 28.4 ms / 245 MB peak RSS,
        /// maps >= 192 pixels 30.4 ms / 199 MB, none 43 ms / 155 MB. F(2x2, 3x3) (batch up to
        /// the threads, problems that fit the caches) keeps 16/9 of the weights and is faster
        /// than direct on the small maps too (see `Plan.Builder.emitConv`).
        public var winograd = true
        public var winogradMinimumPixels = 192
        /// And at least this many output pixels over the batch: oneDNN's F(4x4, 3x3) kernel on
        /// pose W48 384x288's 24x18 maps (192 channels, batch 1) took 0.67-0.85 ms a layer where
        /// direct took 0.63-0.65, while on 16x32 maps of 384 channels (seg W48 512x1024) it takes
        /// 0.65-0.74 of direct, and on W32 batch 8's 16x12 maps (1536 pixels) it pays too. W48
        /// 384x288 fp32: peak RSS 704 -> 491 MB (its 4x-size weights), 2-4% faster.
        public var winogradMinimumBatchPixels: Int
        /// Activations and weights in bf16 with fp32 accumulation (needs AVX512-BF16); inputs,
        /// outputs and biases stay fp32; 3x3 convolutions through the engine's Winograd kernel
        /// (`bf16Winograd`) or direct (oneDNN 2.6 has no bf16 Winograd).
        public var bf16 = false
        /// With `bf16` and `winograd`: 3x3 convolutions (stride 1, channels in 16s, at least
        /// `bf16WinogradMinimumTiles` 2x2 output tiles in the batch) through the engine's own bf16 Winograd F(2x2, 3x3) kernel
        /// (`Plan.Builder.emitWinogradBF16`).
        public var bf16Winograd = true
        /// Fewer tiles stay direct: the kernel's weights are 16/9 of direct's and a tile reads each
        /// weight for 2 multiply-adds, so small batches of deep maps are bound by the weights'
        /// memory traffic (pose W32 batch 1, 16x12 maps: 48 tiles).
        public var bf16WinogradMinimumTiles = 96
        /// Convolutions in int8 (u8/s8 activations, s8 weights with one scale per output
        /// channel, VNNI), with activation scales from this calibration table (see
        /// `Calibrator`). The convolutions that read the network input or write its outputs
        /// stay fp32, and so does every value a non-convolution step reads (see `Int8Layout`).
        /// Excludes `bf16`; Winograd does not apply to the int8 convolutions.
        public var int8: QuantizationTable?
        /// Strided transposed convolutions (SimpleBaseline's deconvolutions) as one ordinary
        /// convolution per output phase, interleaved (see `TransposedPhases`): the same sums in
        /// another order, at the convolution kernels' rate. Off: oneDNN's deconvolution. fp32 and
        /// bf16 plans (int8 plans run oneDNN's deconvolution).
        public var phasedTransposedConvolutions = true
        /// A 1x1 convolution of concatenated, resized streams (HRNetV2's head, HRFPN) as the sum
        /// of each stream's convolution at its own resolution, resized (`distributingPointwise-
        /// Convolutions`): the same sums in another order, with a fraction of the multiplications.
        /// fp32 and bf16 plans (int8 plans and calibration keep the graph as built).
        public var distributedPointwiseConvolutions = true
        public init(winograd: Bool = true, winogradMinimumPixels: Int = 192, winogradMinimumBatchPixels: Int = 512, bf16: Bool = false,
                    bf16Winograd: Bool = true,
                    bf16WinogradMinimumTiles: Int = 96,
                    int8: QuantizationTable? = nil, phasedTransposedConvolutions: Bool = true) {
            self.winograd = winograd
            self.winogradMinimumPixels = winogradMinimumPixels
            self.winogradMinimumBatchPixels = winogradMinimumBatchPixels
            self.bf16 = bf16
            self.bf16Winograd = bf16Winograd
            self.bf16WinogradMinimumTiles = bf16WinogradMinimumTiles
            self.int8 = int8
            self.phasedTransposedConvolutions = phasedTransposedConvolutions
        }
        /// Direct convolution only: the exact fp32 sums, for peak measurements and checks.
        public static let direct = Options(winograd: false)
    }

    /// Compiles `graph` for inputs of shape `input`.
    /// - Parameter threads: oneDNN and kernel threads; all cores when nil.
    /// - Parameter parameters: by checkpoint key; taken over tensor by tensor while weights are
    ///   packed, so a caller that hands over its only copy does not hold two copies at the peak.
    /// - Parameter sharing: packed weights shared with other plans of `graph` (see `PackedWeights`).
    /// - Parameter workspace: activation memory shared with plans that never run at the same
    ///   time as this one (see `Workspace`).
    public convenience init(graph: Graph, parameters: consuming [String: Tensor], input: Shape4, threads: Int? = nil,
                            options: Options = Options(), sharing: PackedWeights? = nil, workspace: Workspace? = nil) throws {
        try self.init(graph: graph, parameters: parameters, input: input, threads: threads, options: options, observer: nil, sharing: sharing,
                      workspace: workspace)
    }

    /// With an `observer`, the plan records the largest |x| of the observer's values as it runs (calibration).
    init(graph: Graph, parameters: consuming [String: Tensor], input: Shape4, threads: Int?, options: Options,
         observer: RangeObserver?, sharing: PackedWeights? = nil, workspace: Workspace? = nil) throws {
        self.inputShape = input
        self.threads = max(1, threads ?? Threads.available)
        // The model's FLOPs, as built (what the benchmarks' GFLOP/s are measured against).
        self.flops = try graph.flops(input: input)
        var parameters = parameters
        let graph = options.distributedPointwiseConvolutions && options.int8 == nil && observer == nil
            ? graph.distributingPointwiseConvolutions(&parameters) ?? graph : graph
        let shapes = try graph.inferShapes(input: input)
        self.outputShapes = graph.outputs.map { shapes[$0.id] }
        self.channelsLastOutputs = graph.channelsLastOutputs.filter { $0 < graph.outputs.count }
        for spec in graph.parameters {
            guard let t = parameters[spec.key] else { throw DNNError.graph("parameter \(spec.key) is missing") }
            guard t.shape == spec.shape else { throw DNNError.graph("parameter \(spec.key) has shape \(t.shape), the model needs \(spec.shape)") }
        }

        var builder = try Builder(graph: graph, shapes: shapes, input: input, options: options, observer: observer, shared: sharing,
                                  workspace: workspace)
        if let sharing { keepAlive.append(sharing) }
        self.arenaBytes = builder.arenaBytes

        self.inputBuffer = Plan.allocate(input.count * 4)
        owned = [inputBuffer]
        try builder.inputMemory.setPointer(inputBuffer)
        var remaining = consume parameters
        let threads = self.threads
        // Weight packing runs oneDNN reorders: on the compute thread too, so one OpenMP pool serves all.
        // The thread count is set there as well: oneDNN sizes a primitive's partition when it is created.
        try ComputeThread.shared.run {
            cdnnl_set_num_threads(Int32(threads))
            try builder.emit(parameters: &remaining, threads: threads, plan: self)
        }
        steps = builder.steps
        stepLabels = builder.labels
        stepNames = builder.names
        stepFlops = builder.stepFlops
        keepAlive += builder.keepAlive  // (the arena's buffer among them)
        implementations = builder.implementations.map { (step: $0.0, implementation: $0.1) }
        for (v, memory) in zip(graph.outputs, builder.outputMemories) {
            let bytes = MemoryDesc.size(memory.desc)
            let p = Plan.allocate(bytes)
            owned.append(p)
            try memory.setPointer(p)
            outputBuffers.append((p, shapes[v.id].count))
        }
    }

    deinit { for p in owned { p.deallocate() } }

    static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 64))
        return p
    }

    /// Memory the plan owns and frees with itself (packed weights, biases).
    func own(_ scalars: [Float]) -> UnsafeMutableRawPointer {
        let p = Plan.allocate(scalars.count * 4)
        scalars.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        owned.append(p)
        return p
    }
    /// `zeroed: false` for memory the caller overwrites whole.
    func own(bytes: Int, zeroed: Bool = true) -> UnsafeMutableRawPointer {
        let p = zeroed ? Plan.allocate(bytes) : UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
        owned.append(p)
        return p
    }

    /// Runs the network on one batch; returns the graph's outputs (NCHW; (N, H, W, C) for the
    /// graph's `channelsLastOutputs`).
    public func run(_ x: Tensor) throws -> [Tensor] {
        guard x.shape == inputShape.dims else {
            throw DNNError.graph("input has shape \(x.shape), this plan was compiled for \(inputShape.dims)")
        }
        x.scalars.withUnsafeBytes { inputBuffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        try execute()
        return zip(outputBuffers, outputShapes).enumerated().map { k, pair in
            let (buffer, shape) = pair
            let dims = channelsLastOutputs.contains(k) ? [shape.n, shape.h, shape.w, shape.c] : shape.dims
            return Tensor(shape: dims, scalars: Array(UnsafeBufferPointer(start: buffer.pointer.assumingMemoryBound(to: Float.self),
                                                                          count: buffer.count)))
        }
    }

    /// Runs the network on whatever the input buffer holds (for benchmarks).
    public func execute() throws {
        try ComputeThread.shared.run { try executeHere() }
    }

    /// Runs the network once, timing every step (each waits for the one before: a little slower
    /// than `execute`). Returns seconds per step, in `stepLabels` order.
    public func profile() throws -> [Double] {
        try ComputeThread.shared.run {
            cdnnl_set_num_threads(Int32(threads))
            let stream = Engine.shared.stream
            return try steps.map { step in
                let start = DispatchTime.now().uptimeNanoseconds
                try perform(step, on: stream)
                try check(dnnl_stream_wait(stream), "stream_wait")
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
        }
    }

    private func executeHere() throws {
        cdnnl_set_num_threads(Int32(threads))
        let stream = Engine.shared.stream
        for step in steps { try perform(step, on: stream) }
        try check(dnnl_stream_wait(stream), "stream_wait")
    }

    /// One step; an engine kernel first waits for the primitives queued before it.
    private func perform(_ step: Step, on stream: dnnl_stream_t) throws {
        switch step {
        case .primitive(let p, let args):
            try check(args.withUnsafeBufferPointer { dnnl_primitive_execute(p.handle, stream, Int32($0.count), $0.baseAddress) },
                      "primitive_execute")
        case .kernel(let body):
            try check(dnnl_stream_wait(stream), "stream_wait")
            body()
        }
    }
}
