/// One op of a graph as the training engine runs it: forward saving what backward needs,
/// then backward.
///
/// Training fuses less than inference: batch norm uses batch statistics, so it cannot be
/// folded into the convolution. Two fusions: BN -> ReLU (oneDNN's `fuse_norm_relu`), which
/// keeps a bit mask instead of the BN output and does the ReLU's backward inside BN's; and
/// add -> ReLU (the residual and fuse-layer sums), one pass forward and one backward, where
/// the sum before the ReLU is never stored.
struct TrainingStep {
    enum Kind {
        case input
        case conv(Conv)
        /// `relu`: the node's sole consumer, a ReLU, is done by the same primitive.
        case batchNorm(BatchNorm, relu: Bool)
        case relu
        /// `relu`: the node's sole consumer, a ReLU, is done in the same pass.
        case add(relu: Bool)
        case resize(Resize)
        case concat
        case pool(Pool)
        case globalAveragePool
        case linear(Linear)
        /// `relu`: the node's sole consumer, a ReLU, is done by the same kernel.
        case groupNorm(GroupNorm, relu: Bool)
        case scale(ScalarScale)
        case exp
        /// OCR's class centres. inputs: [feats, probs]
        case spatialGather
        /// OCR's attention of pixels over centres. inputs: [query, key, value]
        case objectAttention(ObjectAttention)
        /// `nn.Dropout2d`: channel maps zeroed at random in train mode, the identity in eval mode.
        case channelDropout(ChannelDropout)
    }
    let kind: Kind
    /// The graph node the step starts from.
    let node: Int
    /// Values read (node ids).
    let inputs: [Int]
    /// The value produced (the absorbed ReLU's id for BN + ReLU).
    let output: Int

    /// The inputs the output depends on: a resize to another value's size reads only its shape.
    var differentiableInputs: ArraySlice<Int> {
        if case .resize = kind { return inputs.prefix(1) }
        return inputs[...]
    }
}

extension Graph {
    /// The graph's nodes as training steps, in an order where every input is ready.
    /// `fuseAddReLU`: absorb a ReLU into the add it solely reads (off only to test the fusion).
    func trainingSteps(fuseAddReLU: Bool = true) -> [TrainingStep] {
        var consumers = Array(repeating: [Int](), count: nodes.count)
        for (i, node) in nodes.enumerated() { for v in node.inputs { consumers[v.id].append(i) } }
        let isOutput = Set(outputs.map(\.id))
        var absorbed = Set<Int>()
        var steps: [TrainingStep] = []
        for (i, node) in nodes.enumerated() where !absorbed.contains(i) {
            let ins = node.inputs.map(\.id)
            let kind: TrainingStep.Kind
            var output = i
            switch node.op {
            case .input: kind = .input
            case .conv(let c): kind = .conv(c)
            case .batchNorm(let b):
                if !isOutput.contains(i), consumers[i].count == 1, case .relu = nodes[consumers[i][0]].op {
                    output = consumers[i][0]
                    absorbed.insert(output)
                    kind = .batchNorm(b, relu: true)
                } else {
                    kind = .batchNorm(b, relu: false)
                }
            case .relu: kind = .relu
            case .add:
                if fuseAddReLU, !isOutput.contains(i), consumers[i].count == 1, case .relu = nodes[consumers[i][0]].op {
                    output = consumers[i][0]
                    absorbed.insert(output)
                    kind = .add(relu: true)
                } else {
                    kind = .add(relu: false)
                }
            case .resize(let r): kind = .resize(r)
            case .concat: kind = .concat
            case .pool(let p): kind = .pool(p)
            case .globalAveragePool: kind = .globalAveragePool
            case .linear(let l): kind = .linear(l)
            case .groupNorm(let n):
                if !isOutput.contains(i), consumers[i].count == 1, case .relu = nodes[consumers[i][0]].op {
                    output = consumers[i][0]
                    absorbed.insert(output)
                    kind = .groupNorm(n, relu: true)
                } else {
                    kind = .groupNorm(n, relu: false)
                }
            case .scale(let c): kind = .scale(c)
            case .exp: kind = .exp
            case .spatialGather: kind = .spatialGather
            case .objectAttention(let a): kind = .objectAttention(a)
            case .channelDropout(let d): kind = .channelDropout(d)
            }
            steps.append(TrainingStep(kind: kind, node: i, inputs: ins, output: output))
        }
        return steps
    }
}

/// When each buffer of a training step is born and dies, on one timeline:
/// forward steps `0..<S`, the output copy at `S`, the output gradients arriving at `S + 1`,
/// the backward of step `s` at `S + 2 + (S - 1 - s)`, the input gradient copied out at `2S + 2`.
struct TrainingSchedule {
    let steps: [TrainingStep]
    let valueCount: Int
    /// Whether a value's gradient is needed (it reaches an output; the input only if asked).
    var needsGradient: [Bool]
    /// Last time each activation is read (forward or backward).
    var activationDeath: [Int]
    /// First backward time a gradient is written, and the time it is last read.
    var gradientBirth: [Int]
    var gradientDeath: [Int]
    /// Step index producing each value.
    var producer: [Int]

    var forwardEnd: Int { steps.count }
    var seedTime: Int { steps.count + 1 }
    var inputGradientTime: Int { 2 * steps.count + 2 }
    func backwardTime(_ s: Int) -> Int { steps.count + 2 + (steps.count - 1 - s) }

    init(graph: Graph, steps: [TrainingStep], inputGradient: Bool) {
        self.steps = steps
        valueCount = graph.nodes.count
        let n = valueCount
        producer = Array(repeating: -1, count: n)
        for (s, step) in steps.enumerated() { producer[step.output] = s }
        // Reverse reachability from the outputs.
        needsGradient = Array(repeating: false, count: n)
        for v in graph.outputs { needsGradient[v.id] = true }
        for step in steps.reversed() where needsGradient[step.output] {
            for x in step.differentiableInputs { needsGradient[x] = true }
        }
        let inputValue = steps.first?.output ?? 0
        if !inputGradient { needsGradient[inputValue] = false }

        activationDeath = Array(repeating: -1, count: n)
        for (s, step) in steps.enumerated() {
            activationDeath[step.output] = max(activationDeath[step.output], s)
            for x in step.inputs { activationDeath[x] = max(activationDeath[x], s) }
        }
        for v in graph.outputs { activationDeath[v.id] = max(activationDeath[v.id], steps.count) }
        gradientBirth = Array(repeating: Int.max, count: n)
        gradientDeath = Array(repeating: -1, count: n)
        for v in graph.outputs { gradientBirth[v.id] = steps.count + 1 }
        // `backwardTime` needs `steps` only; computed inline to keep init simple.
        let S = steps.count
        for (s, step) in steps.enumerated() where needsGradient[step.output] {
            let t = S + 2 + (S - 1 - s)
            // Saved activations read by this step's backward.
            switch step.kind {
            case .conv, .batchNorm, .linear, .scale, .groupNorm(_, relu: false):
                activationDeath[step.inputs[0]] = max(activationDeath[step.inputs[0]], t)
            case .groupNorm(_, relu: true):
                activationDeath[step.inputs[0]] = max(activationDeath[step.inputs[0]], t)
                activationDeath[step.output] = max(activationDeath[step.output], t)
            case .relu, .add(relu: true), .exp: activationDeath[step.output] = max(activationDeath[step.output], t)
            default: break
            }
            gradientDeath[step.output] = max(gradientDeath[step.output], t)
            for x in step.differentiableInputs where needsGradient[x] { gradientBirth[x] = min(gradientBirth[x], t) }
        }
        if inputGradient { gradientDeath[inputValue] = 2 * S + 2 }
    }
}
