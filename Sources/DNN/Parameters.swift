/// What happened when a checkpoint's tensors were matched to a graph's parameters.
public struct BindReport: Sendable {
    public var matched: [String] = []
    public var missing: [String] = []
    public var unexpected: [String] = []
    /// "key: checkpoint [a, b] vs model [c, d]"
    public var misshaped: [String] = []
}

extension Graph {
    /// Matches loaded tensors to the graph's parameters by key.
    ///
    /// Every missing, unexpected and mis-shaped key is listed in one error. With
    /// `allowPartial`, missing parameters get PyTorch's initial values instead (BN weight 1,
    /// bias 0, mean 0, var 1; conv and linear weights Kaiming-uniform from `seed`), and the
    /// report says which. `num_batches_tracked` is bookkeeping, never a parameter.
    public func bind(_ loaded: [String: Tensor], allowPartial: Bool = false, source: String = "checkpoint",
                     seed: UInt64 = 0) throws -> (parameters: [String: Tensor], report: BindReport) {
        try Self.bind(loaded, to: parameters, allowPartial: allowPartial, source: source, seed: seed)
    }

    /// `bind` for a model made of several graphs: their parameters together.
    public static func bind(_ loaded: [String: Tensor], to parameters: [ParameterSpec], allowPartial: Bool = false,
                            source: String = "checkpoint", seed: UInt64 = 0) throws -> (parameters: [String: Tensor], report: BindReport) {
        var report = BindReport()
        var out: [String: Tensor] = [:]
        let expected = Set(parameters.map(\.key))
        for spec in parameters {
            guard let t = loaded[spec.key] else { report.missing.append(spec.key); continue }
            // A PyTorch scalar-per-channel tensor may be saved as (C) or a conv weight as is; only exact shapes match.
            if t.shape == spec.shape {
                // A NaN or infinity runs silently to nonsense (keypoints far off the image): refuse it by name.
                if let bad = t.scalars.firstIndex(where: { !$0.isFinite }) {
                    throw DNNError.graph("\(source): \(spec.key) holds \(t.scalars[bad]) at element \(bad) "
                                     + "(\(t.scalars.lazy.filter { !$0.isFinite }.count) non-finite values): the checkpoint is damaged")
                }
                out[spec.key] = t
                report.matched.append(spec.key)
            } else {
                report.misshaped.append("\(spec.key): \(source) \(t.shape) vs model \(spec.shape)")
            }
        }
        report.unexpected = loaded.keys.filter { !expected.contains($0) && !$0.hasSuffix("num_batches_tracked") }.sorted()
        let fatalMissing = allowPartial ? [] : report.missing
        if !fatalMissing.isEmpty || !report.unexpected.isEmpty || !report.misshaped.isEmpty {
            var lines = ["\(source) does not fit the model:"]
            func list(_ title: String, _ keys: [String]) {
                guard !keys.isEmpty else { return }
                lines.append("  \(keys.count) \(title):")
                lines += keys.prefix(20).map { "    \($0)" }
                if keys.count > 20 { lines.append("    ... and \(keys.count - 20) more") }
            }
            list("missing keys" + (allowPartial ? "" : " (use --allow-partial to start them from initial values)"), fatalMissing)
            list("unexpected keys", report.unexpected)
            list("mis-shaped keys", report.misshaped)
            throw DNNError.graph(lines.joined(separator: "\n"))
        }
        var rng = SplitMix64(seed: seed)
        for key in report.missing {
            let spec = parameters.first { $0.key == key }!
            out[key] = Self.initialValue(key: key, shape: spec.shape, rng: &rng)
        }
        return (out, report)
    }

    /// PyTorch's default initial value for a parameter, judged from its key and shape.
    static func initialValue(key: String, shape: [Int], rng: inout SplitMix64) -> Tensor {
        if key.hasSuffix(".running_var") || (shape.count == 1 && key.hasSuffix(".weight")) {
            return Tensor(shape: shape, repeating: 1)
        }
        if shape.count == 1 { return Tensor(zeros: shape) }
        // A 0-d learned scalar (mmcv's `Scale`) starts at 1.
        if shape.isEmpty { return Tensor(shape: shape, repeating: 1) }
        // kaiming_uniform_(a=sqrt(5)) as nn.Conv2d/nn.Linear: bound = 1/sqrt(fan_in).
        let fanIn = shape.dropFirst().reduce(1, *)
        let bound = 1 / Float(fanIn).squareRoot()
        var t = Tensor(zeros: shape)
        for i in 0..<t.count { t.scalars[i] = (rng.nextUnitFloat() * 2 - 1) * bound }
        return t
    }

    /// PyTorch's default initial values for every key (nn.Conv2d and nn.Linear kaiming-uniform
    /// weights and biases bound 1/sqrt(fan_in), BN weight 1 and bias 0, running mean 0 and
    /// variance 1): a model to train from scratch.
    public func pytorchDefaultParameters(seed: UInt64 = 0) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed)
        var out: [String: Tensor] = [:]
        var fanIn: [String: Int] = [:]
        for spec in parameters where spec.shape.count > 1 && spec.key.hasSuffix(".weight") {
            fanIn[String(spec.key.dropLast(".weight".count))] = spec.shape.dropFirst().reduce(1, *)
        }
        for spec in parameters {
            let module = spec.key.split(separator: ".").dropLast().joined(separator: ".")
            if spec.key.hasSuffix(".bias"), let f = fanIn[module] {
                // A conv or linear bias: uniform within 1/sqrt(fan_in), as PyTorch.
                let bound = 1 / Float(f).squareRoot()
                out[spec.key] = Tensor(shape: spec.shape, scalars: (0..<spec.shape.reduce(1, *)).map { _ in (rng.nextUnitFloat() * 2 - 1) * bound })
            } else {
                out[spec.key] = Self.initialValue(key: spec.key, shape: spec.shape, rng: &rng)
            }
        }
        return out
    }

    /// Random parameters for every key (BN statistics included), for benchmarks and tests
    /// where values do not matter but must be finite and of a sane scale.
    public func randomParameters(seed: UInt64 = 0) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed)
        var out: [String: Tensor] = [:]
        for spec in parameters {
            if spec.shape.count <= 1 {
                var t = Tensor(zeros: spec.shape)
                for i in 0..<t.count {
                    let u = rng.nextUnitFloat()
                    if spec.key.hasSuffix(".running_var") || spec.key.hasSuffix(".weight") || spec.key.hasSuffix(".scale") {
                        t.scalars[i] = 0.5 + u
                    }
                    else { t.scalars[i] = (u - 0.5) * 0.2 }
                }
                out[spec.key] = t
            } else {
                out[spec.key] = Self.initialValue(key: spec.key, shape: spec.shape, rng: &rng)
            }
        }
        return out
    }
}

/// A small, fast, seedable generator (SplitMix64), so runs are reproducible everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    /// The generator's position; `SplitMix64(seed: g.position)` continues where `g` is (checkpoints).
    public var position: UInt64 { state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
