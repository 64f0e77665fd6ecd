import Foundation

/// Updates a `ParameterStore` from its gradients. Implementations follow PyTorch's
/// `torch.optim` formulas (single-tensor CPU path) so a run matches PyTorch's step for step.
/// Frozen parameters are skipped, as PyTorch skips parameters without a gradient.
public protocol Optimizer: AnyObject {
    /// The rate of the next update; a schedule sets it before each step.
    var learningRate: Float { get set }
    func update(_ parameters: ParameterStore)
    /// Name and hyperparameters, for the checkpoint's JSON.
    var description: [String: Double] { get }
    /// Per-parameter state (moments, step counts) by "<state>.<key>", for checkpoints.
    func state(_ parameters: ParameterStore) -> [String: Tensor]
    func loadState(_ state: [String: Tensor], _ parameters: ParameterStore) throws
}

/// Gradient clipping by the global L2 norm (`torch.nn.utils.clip_grad_norm_`): if the norm
/// of all (unfrozen) gradients exceeds `maxNorm`, every gradient is scaled by
/// maxNorm / (norm + 1e-6). Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: ParameterStore, maxNorm: Float) -> Double {
    let norm = parameters.gradientNormSquared().squareRoot()
    let coefficient = Double(maxNorm) / (norm + 1e-6)
    if coefficient < 1 { parameters.scaleGradients(Float(coefficient)) }
    return norm
}

/// Runs `body` over the flat ranges of every unfrozen entry, split across the compute
/// thread's OpenMP pool. `body(entryIndex, range)` gets a part of one entry at a time.
func forEachActiveRange(_ p: ParameterStore, threads: Int = Threads.available, _ body: (Int, Range<Int>) -> Void) {
    let active = p.entries.indices.filter { !p.entries[$0].frozen }
    guard !active.isEmpty else { return }
    let total = active.reduce(0) { $0 + p.entries[$1].count }
    // Prefix sums over the active entries, so a chunk of the flat range finds its entries.
    var starts: [Int] = []
    var s = 0
    for e in active { starts.append(s); s += p.entries[e].count }
    // On the compute thread, so the one OpenMP pool that oneDNN uses does this work too.
    _ = try? ComputeThread.shared.run {
        Kernels.parallel(total, threads: threads, minimumChunk: 1 << 15) { r in
            var k = max(0, (starts.lastIndex { $0 <= r.lowerBound }) ?? 0)
            var i = r.lowerBound
            while i < r.upperBound, k < active.count {
                let e = p.entries[active[k]]
                let end = min(r.upperBound, starts[k] + e.count)
                if end > i { body(active[k], (e.offset + i - starts[k])..<(e.offset + end - starts[k])) }
                i = max(i, end)
                k += 1
            }
        }
    }
}

/// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay
/// (`torch.optim.SGD`): g += wd p; buf = g (first step) or momentum buf + (1 - dampening) g;
/// g = nesterov ? g + momentum buf : buf; p -= lr g.
public final class SGD: Optimizer {
    public var learningRate: Float
    public var momentum: Float
    public var dampening: Float
    public var weightDecay: Float
    public var nesterov: Bool
    /// Per-parameter multipliers of the rate and the weight decay (parameter groups, e.g.
    /// mmengine's `paramwise_cfg` bias_lr_mult 2, bias_decay_mult 0); nil: 1 and 1.
    public var multipliers: (@Sendable (String) -> (learningRate: Float, weightDecay: Float))? {
        didSet { entryMultipliers = [] }
    }
    private var entryMultipliers: [(learningRate: Float, weightDecay: Float)] = []
    private var buffer: [Float] = []
    /// Whether each entry's momentum buffer exists yet (PyTorch creates it on the first step).
    private var hasBuffer: [Bool] = []

    public init(learningRate: Float, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
        (self.learningRate, self.momentum, self.dampening, self.weightDecay, self.nesterov) =
            (learningRate, momentum, dampening, weightDecay, nesterov)
    }

    public func update(_ p: ParameterStore) {
        if buffer.count != p.count { buffer = [Float](repeating: 0, count: p.count); hasBuffer = Array(repeating: false, count: p.entries.count) }
        if entryMultipliers.count != p.entries.count {
            entryMultipliers = p.entries.map { multipliers?($0.key) ?? (1, 1) }
        }
        let (mu, damp, nesterov) = (momentum, dampening, nesterov)
        let first = hasBuffer, groups = entryMultipliers, (baseRate, baseDecay) = (learningRate, weightDecay)
        buffer.withUnsafeMutableBufferPointer { buf in
            let b = buf.baseAddress!, values = p.values, grads = p.gradients
            forEachActiveRange(p) { e, r in
                let fresh = !first[e]
                let lr = baseRate * groups[e].learningRate, wd = baseDecay * groups[e].weightDecay
                for i in r {
                    var g = grads[i]
                    if wd != 0 { g += wd * values[i] }
                    if mu != 0 {
                        b[i] = fresh ? g : mu * b[i] + (1 - damp) * g
                        g = nesterov ? g + mu * b[i] : b[i]
                    }
                    values[i] -= lr * g
                }
            }
        }
        for e in p.entries.indices where !p.entries[e].frozen { hasBuffer[e] = true }
        p.version += 1
    }

    public var description: [String: Double] {
        ["sgd": 1, "lr": Double(learningRate), "momentum": Double(momentum), "dampening": Double(dampening),
         "weight_decay": Double(weightDecay), "nesterov": nesterov ? 1 : 0]
    }

    public func state(_ p: ParameterStore) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        guard momentum != 0, buffer.count == p.count else { return out }
        buffer.withUnsafeBufferPointer { b in
            for (k, e) in p.entries.enumerated() where hasBuffer[k] {
                out["momentum_buffer.\(e.key)"] = try? p.plain(b.baseAddress! + e.offset, e)
            }
        }
        return out
    }

    public func loadState(_ state: [String: Tensor], _ p: ParameterStore) throws {
        buffer = [Float](repeating: 0, count: p.count)
        hasBuffer = Array(repeating: false, count: p.entries.count)
        try buffer.withUnsafeMutableBufferPointer { b in
            for (k, e) in p.entries.enumerated() {
                guard let t = state["momentum_buffer.\(e.key)"] else { continue }
                guard t.shape == e.shape else { throw DNNError.graph("momentum buffer of \(e.key) has shape \(t.shape), the parameter \(e.shape)") }
                try p.store(t, into: b.baseAddress! + e.offset, e)
                hasBuffer[k] = true
            }
        }
    }
}

/// Adam (`torch.optim.Adam`) and, with `decoupledWeightDecay`, AdamW (`torch.optim.AdamW`):
/// m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),
/// where Adam adds wd p to g first and AdamW multiplies p by 1 - lr wd first. t counts each
/// parameter's own steps.
public final class Adam: Optimizer {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    public let decoupledWeightDecay: Bool
    private var m: [Float] = []
    private var v: [Float] = []
    private var steps: [Int] = []

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, decoupledWeightDecay: Bool = false) {
        (self.learningRate, self.beta1, self.beta2, self.epsilon, self.weightDecay, self.decoupledWeightDecay) =
            (learningRate, beta1, beta2, epsilon, weightDecay, decoupledWeightDecay)
    }

    /// AdamW with PyTorch's default weight decay 0.01.
    public static func adamW(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                             weightDecay: Float = 0.01) -> Adam {
        Adam(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, decoupledWeightDecay: true)
    }

    private func ensureState(_ p: ParameterStore) {
        guard m.count != p.count || steps.count != p.entries.count else { return }
        m = [Float](repeating: 0, count: p.count)
        v = [Float](repeating: 0, count: p.count)
        steps = Array(repeating: 0, count: p.entries.count)
    }

    public func update(_ p: ParameterStore) {
        ensureState(p)
        for e in p.entries.indices where !p.entries[e].frozen { steps[e] += 1 }
        // Bias corrections in double, as PyTorch computes them (Python floats).
        let stepSize = steps.map { Float(Double(learningRate) / (1 - pow(Double(beta1), Double(max($0, 1))))) }
        let bc2Sqrt = steps.map { Float((1 - pow(Double(beta2), Double(max($0, 1)))).squareRoot()) }
        let (lr, b1, b2, eps, wd, decoupled) = (learningRate, beta1, beta2, epsilon, weightDecay, decoupledWeightDecay)
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                let m = mb.baseAddress!, v = vb.baseAddress!, values = p.values, grads = p.gradients
                forEachActiveRange(p) { e, r in
                    let size = stepSize[e], c2 = bc2Sqrt[e]
                    for i in r {
                        var g = grads[i]
                        if decoupled { values[i] *= 1 - lr * wd } else if wd != 0 { g += wd * values[i] }
                        m[i] += (1 - b1) * (g - m[i])          // torch.lerp with weight < 0.5
                        v[i] = b2 * v[i] + (1 - b2) * g * g
                        let denom = v[i].squareRoot() / c2 + eps
                        values[i] -= size * (m[i] / denom)
                    }
                }
            }
        }
        p.version += 1
    }

    public var description: [String: Double] {
        [decoupledWeightDecay ? "adamw" : "adam": 1, "lr": Double(learningRate), "beta1": Double(beta1), "beta2": Double(beta2),
         "eps": Double(epsilon), "weight_decay": Double(weightDecay)]
    }

    public func state(_ p: ParameterStore) -> [String: Tensor] {
        ensureState(p)
        var out: [String: Tensor] = [:]
        m.withUnsafeBufferPointer { mb in
            v.withUnsafeBufferPointer { vb in
                for (k, e) in p.entries.enumerated() where steps[k] > 0 {
                    out["exp_avg.\(e.key)"] = try? p.plain(mb.baseAddress! + e.offset, e)
                    out["exp_avg_sq.\(e.key)"] = try? p.plain(vb.baseAddress! + e.offset, e)
                    out["step.\(e.key)"] = Tensor(shape: [1], scalars: [Float(steps[k])])
                }
            }
        }
        return out
    }

    public func loadState(_ state: [String: Tensor], _ p: ParameterStore) throws {
        m = [Float](repeating: 0, count: p.count)
        v = [Float](repeating: 0, count: p.count)
        steps = Array(repeating: 0, count: p.entries.count)
        for (k, e) in p.entries.enumerated() {
            guard let a = state["exp_avg.\(e.key)"], let b = state["exp_avg_sq.\(e.key)"], let s = state["step.\(e.key)"] else { continue }
            guard a.shape == e.shape, b.shape == e.shape, s.count == 1 else {
                throw DNNError.graph("optimizer state of \(e.key) does not fit the parameter (shape \(e.shape))")
            }
            try m.withUnsafeMutableBufferPointer { try p.store(a, into: $0.baseAddress! + e.offset, e) }
            try v.withUnsafeMutableBufferPointer { try p.store(b, into: $0.baseAddress! + e.offset, e) }
            steps[k] = Int(s.scalars[0])
        }
    }
}
