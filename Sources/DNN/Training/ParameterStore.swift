/// The learnable parameters of a model and their gradients, each in one flat fp32 buffer, plus
/// its non-learnable state (BN running statistics), all by checkpoint key.
///
/// One flat buffer lets an optimizer update every parameter in one vectorized pass and lets
/// gradient clipping take one global norm. Entries are in the graph's declaration order.
///
/// Convolution weights of a training plan are kept in the layout oneDNN's forward kernel
/// reads (e.g. OIhw16i16o, channels padded with zeros), and their gradients in the same
/// layout, so no step re-packs weights; optimizers are elementwise, so the layout does not
/// matter to them and padding stays zero. `value`, `gradient`, `setValue` and `state`
/// convert to and from the plain PyTorch layout.
public final class ParameterStore {
    public struct Entry: Sendable {
        public let key: String
        public let shape: [Int]
        /// First scalar in the flat buffers.
        public let offset: Int
        /// Scalars stored (more than the shape's product when a packed layout pads channels).
        public let count: Int
        /// A frozen parameter keeps its value: optimizers skip it.
        public internal(set) var frozen: Bool
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    /// Scalars in the flat buffers: the learnable ones plus padding (packed channels, 64-byte alignment of each entry).
    public let count: Int
    let values: UnsafeMutablePointer<Float>
    let gradients: UnsafeMutablePointer<Float>
    /// BN running_mean / running_var, by key.
    private(set) var buffers: [String: (pointer: UnsafeMutablePointer<Float>, count: Int)] = [:]
    /// Batches seen in training mode (PyTorch's `num_batches_tracked`, one count for every BN).
    public internal(set) var batchesTracked: Int64 = 0
    /// Bumped whenever values change, so a plan re-packs its weights before the next forward.
    public internal(set) var version = 0

    /// BN statistics are state, not parameters.
    static func isBuffer(_ key: String) -> Bool { key.hasSuffix(".running_mean") || key.hasSuffix(".running_var") }

    /// Packed layouts by key (convolution weights of a training plan).
    let layouts: [String: PackedLayout]

    init(specs: [Graph.ParameterSpec], parameters: [String: Tensor], layouts: [String: PackedLayout] = [:]) throws {
        self.layouts = layouts
        var offset = 0
        for spec in specs where !Self.isBuffer(spec.key) {
            let n = layouts[spec.key].map { MemoryDesc.size($0.desc) / 4 } ?? spec.shape.reduce(1, *)
            index[spec.key] = entries.count
            entries.append(Entry(key: spec.key, shape: spec.shape, offset: offset, count: n, frozen: false))
            // Every entry starts on a 64-byte boundary: oneDNN's Winograd kernels write weight
            // gradients with aligned non-temporal stores (a misaligned one faults).
            offset += (n + 15) / 16 * 16
        }
        count = offset
        values = UnsafeMutableRawPointer.allocate(byteCount: max(offset, 1) * 4, alignment: 64).assumingMemoryBound(to: Float.self)
        gradients = UnsafeMutableRawPointer.allocate(byteCount: max(offset, 1) * 4, alignment: 64).assumingMemoryBound(to: Float.self)
        values.initialize(repeating: 0, count: max(offset, 1))
        gradients.initialize(repeating: 0, count: max(offset, 1))
        for spec in specs {
            guard let t = parameters[spec.key] else { throw DNNError.graph("parameter \(spec.key) is missing") }
            guard t.shape == spec.shape else {
                throw DNNError.graph("parameter \(spec.key) has shape \(t.shape), the model needs \(spec.shape)")
            }
            if Self.isBuffer(spec.key) {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: max(t.count, 1))
                t.scalars.withUnsafeBufferPointer { p.initialize(from: $0.baseAddress!, count: t.count) }
                buffers[spec.key] = (p, t.count)
            } else {
                let e = entries[index[spec.key]!]
                try store(t, into: values + e.offset, e)
            }
        }
    }

    /// A store of standalone tensors (keys in the given order; `running_mean`/`running_var`
    /// keys become state), e.g. to drive an optimizer without a graph.
    public convenience init(_ tensors: [(key: String, value: Tensor)]) throws {
        try self.init(specs: tensors.map { Graph.ParameterSpec(key: $0.key, shape: $0.value.shape) },
                      parameters: Dictionary(tensors.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }))
    }

    /// Sets a parameter's gradient (same shape), e.g. one computed outside a plan.
    public func setGradient(_ key: String, _ t: Tensor) throws {
        guard let e = entry(key), e.shape == t.shape else {
            throw DNNError.graph("no parameter \(key) of shape \(t.shape)")
        }
        try store(t, into: gradients + e.offset, e)
    }

    deinit {
        values.deallocate()
        gradients.deallocate()
        for (_, b) in buffers { b.pointer.deallocate() }
    }

    public func entry(_ key: String) -> Entry? { index[key].map { entries[$0] } }

    func valuePointer(_ key: String) -> UnsafeMutablePointer<Float>? {
        if let e = entry(key) { return values + e.offset }
        return buffers[key]?.pointer
    }
    func gradientPointer(_ key: String) -> UnsafeMutablePointer<Float>? { entry(key).map { gradients + $0.offset } }

    /// A parameter's (or running statistic's) current value.
    public func value(_ key: String) -> Tensor? {
        if let e = entry(key) { return try? plain(values + e.offset, e) }
        if let b = buffers[key] { return Tensor(shape: [b.count], scalars: Array(UnsafeBufferPointer(start: b.pointer, count: b.count))) }
        return nil
    }

    /// The gradient of the last backward pass.
    public func gradient(_ key: String) -> Tensor? {
        guard let e = entry(key) else { return nil }
        return try? plain(gradients + e.offset, e)
    }

    /// Replaces a parameter's or running statistic's value (same shape).
    public func setValue(_ key: String, _ t: Tensor) throws {
        guard let p = valuePointer(key) else { throw DNNError.graph("no parameter \(key)") }
        if let e = entry(key) {
            guard e.shape == t.shape else { throw DNNError.graph("parameter \(key) has shape \(e.shape), got \(t.shape)") }
            try store(t, into: p, e)
        } else {
            let n = buffers[key]!.count
            guard t.count == n else { throw DNNError.graph("\(key) has \(n) values, got shape \(t.shape)") }
            t.scalars.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: n) }
        }
        version += 1
    }

    /// Every parameter and running statistic by its checkpoint key (what `Plan` and `bind` take).
    public func state() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for e in entries { out[e.key] = value(e.key) }
        for k in buffers.keys { out[k] = value(k) }
        return out
    }

    /// Freezes (or unfreezes) every parameter whose key starts with one of `prefixes`; returns how many.
    /// A prefix matches whole key components: "stage2" freezes "stage2.0..." but not "stage20...".
    @discardableResult
    public func freeze(prefixes: [String], _ frozen: Bool = true) -> Int {
        var n = 0
        for i in entries.indices where prefixes.contains(where: { Self.key(entries[i].key, hasPrefix: $0) }) {
            entries[i].frozen = frozen
            n += 1
        }
        return n
    }

    static func key(_ key: String, hasPrefix prefix: String) -> Bool {
        guard key.hasPrefix(prefix) else { return false }
        return key.count == prefix.count || prefix.hasSuffix(".") || key[key.index(key.startIndex, offsetBy: prefix.count)] == "."
    }

    /// Sum of squares of every gradient (frozen ones excluded), in double.
    func gradientNormSquared() -> Double {
        var total = 0.0
        for e in entries where !e.frozen {
            var s: Float = 0
            var acc = 0.0
            let g = gradients + e.offset
            for i in 0..<e.count {
                s += g[i] * g[i]
                if i & 1023 == 1023 { acc += Double(s); s = 0 }
            }
            total += acc + Double(s)
        }
        return total
    }

    /// Multiplies every (unfrozen) gradient by `factor`.
    func scaleGradients(_ factor: Float) {
        for e in entries where !e.frozen {
            let g = gradients + e.offset
            for i in 0..<e.count { g[i] *= factor }
        }
    }
}
