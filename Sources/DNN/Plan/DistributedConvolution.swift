/// A 1x1 convolution of concatenated streams, some resized to the highest resolution (HRNetV2's
/// head `last_layer.0`, OCR's `aux_head.0`, HRFPN's `reduction_conv`), computed as the sum of
/// each stream's own 1x1 convolution (its slice of the weight's input channels), the resized
/// streams' convolutions run at their own resolution and then resized. Resizing (nearest or
/// bilinear) mixes pixels of one channel, a 1x1 convolution mixes channels of one pixel: the two
/// commute, so the sums are the same in another order. A batch norm after the convolution is
/// folded into the slices (its shift into the first's bias).
///
/// Seg W48 at 512x1024: the head's 720 -> 720 convolution on 128x256 (34 GFLOP) becomes 4.3 GFLOP
/// on the four streams, three resize-adds of 720 channels and no concatenation.
extension Graph {
    /// The graph with those convolutions distributed, with the new slices' weights added to `p` (and the replaced
    /// convolutions' and batch norms' tensors taken out), or nil where nothing applies.
    func distributingPointwiseConvolutions(_ p: inout [String: Tensor]) -> Graph? {
        var consumers = Array(repeating: [Int](), count: nodes.count)
        for (i, node) in nodes.enumerated() { for v in node.inputs { consumers[v.id].append(i) } }
        let isOutput = Set(outputs.map(\.id))

        // The convolutions to distribute, and the batch norm folded into each (when one follows).
        var rewrites: [Int: Int?] = [:]
        for (i, node) in nodes.enumerated() {
            guard case .conv(let c) = node.op, !c.transposed, c.kernel == (1, 1), c.stride == (1, 1), c.padding == (0, 0),
                  c.groups == 1, !sharedKeys.contains("\(c.key).weight"),
                  case .concat = nodes[node.inputs[0].id].op else { continue }
            let parts = nodes[node.inputs[0].id].inputs
            // The sum starts from a part at the output's resolution; worth it only with a resized one.
            guard parts.contains(where: { !isResize($0.id) }), parts.contains(where: { isResize($0.id) }),
                  present(["\(c.key).weight"] + (c.hasBias ? ["\(c.key).bias"] : []), p) else { continue }
            var bn: Int?
            if !isOutput.contains(i), consumers[i].count == 1, case .batchNorm(let b) = nodes[consumers[i][0]].op {
                let keys = ["weight", "bias", "running_mean", "running_var"].map { "\(b.key).\($0)" }
                // Where the checkpoint lacks a key or has one of the wrong shape, the graph stays as
                // built and the plan reports it.
                guard present(keys, p), !keys.contains(where: sharedKeys.contains) else { continue }
                bn = consumers[i][0]
            }
            rewrites[i] = bn
        }
        guard !rewrites.isEmpty else { return nil }
        let folded = Set(rewrites.values.compactMap { $0 })

        /// What node `i` reads once rewritten: a distributed convolution reads its parts' sources
        /// (and a resize's reference), a folded batch norm nothing of its own.
        func reads(_ i: Int) -> [Int] {
            if folded.contains(i) { return [nodes[i].inputs[0].id] }
            guard rewrites[i] != nil else { return nodes[i].inputs.map(\.id) }
            return nodes[nodes[i].inputs[0].id].inputs.flatMap { v in isResize(v.id) ? nodes[v.id].inputs.map(\.id) : [v.id] }
        }
        var needed = isOutput
        for i in nodes.indices.reversed() {
            if case .input = nodes[i].op { needed.insert(i) }
            if needed.contains(i) { needed.formUnion(reads(i)) }
        }

        let g = Graph()
        g.inputSideMultiple = inputSideMultiple
        var replacedKeys = Set<String>()
        for (i, bn) in rewrites {
            guard case .conv(let c) = nodes[i].op else { continue }
            replacedKeys.formUnion(["\(c.key).weight", "\(c.key).bias"])
            if let bn, case .batchNorm(let b) = nodes[bn].op {
                replacedKeys.formUnion(["weight", "bias", "running_mean", "running_var"].map { "\(b.key).\($0)" })
            }
        }
        for spec in parameters where !replacedKeys.contains(spec.key) { g.declare(spec.key, spec.shape) }
        for key in sharedKeys where !replacedKeys.contains(key) { g.declare(key, parameters.first { $0.key == key }!.shape) }

        var map: [Int: Value] = [:]
        for (i, node) in nodes.enumerated() where needed.contains(i) {
            if folded.contains(i) {
                map[i] = map[node.inputs[0].id]
            } else if let bn = rewrites[i], case .conv(let c) = node.op {
                map[i] = distribute(c, node: i, batchNorm: bn, into: g, map, &p)
            } else {
                map[i] = g.append(node.op, node.inputs.map { map[$0.id]! }, channels: node.channels)
            }
        }
        g.outputs = outputs.map { map[$0.id]! }
        g.channelsLastOutputs = channelsLastOutputs
        return g
    }

    /// Whether `p` holds each of `keys` with the shape the graph declares.
    private func present(_ keys: [String], _ p: [String: Tensor]) -> Bool {
        keys.allSatisfy { key in p[key].map { t in parameters.contains { $0.key == key && $0.shape == t.shape } } ?? false }
    }

    private func isResize(_ i: Int) -> Bool { if case .resize = nodes[i].op { true } else { false } }

    /// Emits convolution `node` (with `bn` folded) as a sum over its concatenation's parts into
    /// `g`: part k's 1x1 convolution `<key>.part<k>` (then its resize), summed after the first
    /// part at full resolution, which carries the bias.
    private func distribute(_ c: Conv, node: Int, batchNorm bn: Int?, into g: Graph, _ map: [Int: Value],
                            _ p: inout [String: Tensor]) -> Value {
        let weight = p.removeValue(forKey: "\(c.key).weight")!
        let out = weight.shape[0], inputs = weight.shape[1]
        var bias = c.hasBias ? p.removeValue(forKey: "\(c.key).bias")?.scalars : nil
        var scale = [Float](repeating: 1, count: out)
        if let bn, case .batchNorm(let b) = nodes[bn].op {
            let affine = Plan.Builder.batchNormAffine(&p, b, self)
            scale = affine.scale
            bias = (0..<out).map { (bias?[$0] ?? 0) * affine.scale[$0] + affine.shift[$0] }
        }
        let parts = nodes[nodes[node].inputs[0].id].inputs
        let full = parts.firstIndex { !isResize($0.id) }!
        var offset = 0, base: Value?
        var resized: [Value] = []
        for (k, part) in parts.enumerated() {
            let source = isResize(part.id) ? nodes[part.id].inputs[0] : part
            let channels = nodes[source.id].channels
            let key = "\(c.key).part\(k)"
            var w = [Float](repeating: 0, count: out * channels)
            for o in 0..<out { for i in 0..<channels { w[o * channels + i] = weight.scalars[o * inputs + offset + i] * scale[o] } }
            offset += channels
            let withBias = k == full && bias != nil
            p["\(key).weight"] = Tensor(shape: [out, channels, 1, 1], scalars: w)
            if withBias { p["\(key).bias"] = Tensor(shape: [out], scalars: bias!) }
            let y = g.conv(map[source.id]!, key: key, outChannels: out, kernel: 1, bias: withBias)
            if isResize(part.id), case .resize(let r) = nodes[part.id].op {
                resized.append(g.append(.resize(r), [y] + nodes[part.id].inputs.dropFirst().map { map[$0.id]! }, channels: out))
            } else if let b = base {
                base = g.add(b, y)
            } else {
                base = y
            }
        }
        return resized.reduce(base!) { g.add($0, $1) }
    }
}
