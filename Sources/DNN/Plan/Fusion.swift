/// One step of a compiled graph: an op together with what was fused into it.
///
/// Fusion follows the patterns HRNet is made of: conv -> BN -> ReLU (BN folded into the
/// weights, ReLU a post-op); conv -> BN -> add -> ReLU (the add becomes oneDNN's sum post-op,
/// so a residual block or a fusion unit's partial sum is accumulated in place); and
/// upsample -> add (a fusion unit's low-to-high path), done by one kernel that reads the low
/// resolution stream and adds into the high resolution sum.
struct FusedOp {
    enum Kind {
        case input
        /// inputs: [x] or [x, residual] when `postOps` holds `.sum`.
        case conv(node: Int, batchNorm: Int?, postOps: [PostOp])
        /// inputs: [a, b]
        case add(relu: Bool)
        /// inputs: [base, x]: base + resize(x)
        case resizeAdd(resize: Int, relu: Bool)
        /// inputs: [x]
        case resize(node: Int)
        /// Batch norm that could not be folded into a convolution. inputs: [x]
        case affine(batchNorm: Int, relu: Bool)
        case relu
        case concat
        case pool(Pool)
        case globalAveragePool
        case linear(node: Int)
        /// Group norm, optionally followed by ReLU (FCOS's towers). inputs: [x]
        case groupNorm(node: Int, relu: Bool)
        /// Multiplication by a learned scalar that could not be fused. inputs: [x]
        case scale(node: Int)
        case exp
        /// OCR's class centres. inputs: [feats, probs]
        case spatialGather
        /// OCR's pixel-over-centres attention. inputs: [query, key, value]
        case objectAttention(node: Int)
        /// Dropout at inference: the input, in place where it dies here. inputs: [x]
        case identity
    }
    var kind: Kind
    /// Values read (node ids of other fused ops' outputs).
    var inputs: [Int]
    /// The node whose value this step produces.
    var output: Int
}

extension Graph {
    /// Groups the nodes into fused steps, in an order where every input is ready.
    func fuse() -> [FusedOp] {
        var consumers = Array(repeating: [Int](), count: nodes.count)
        for (i, node) in nodes.enumerated() { for v in node.inputs { consumers[v.id].append(i) } }
        let isOutput = Set(outputs.map(\.id))
        /// The one node that reads `v`, when exactly one does and `v` is not a model output.
        func sole(_ v: Int) -> Int? {
            (!isOutput.contains(v) && consumers[v].count == 1) ? consumers[v][0] : nil
        }
        func isRelu(_ i: Int) -> Bool { if case .relu = nodes[i].op { true } else { false } }
        func isAdd(_ i: Int) -> Bool { if case .add = nodes[i].op { true } else { false } }
        /// A pointwise op oneDNN can apply after a convolution (FCOS: Scale then exp).
        func eltwisePostOp(_ i: Int) -> PostOp? {
            switch nodes[i].op {
            case .scale(let s): .scale(key: s.key)
            case .exp: .exp
            default: nil
            }
        }

        var absorbed = Set<Int>()
        /// add node -> the resize node it will read through (resize + add in one kernel).
        var resizeInto: [Int: Int] = [:]
        var ops: [FusedOp] = []

        /// A ReLU that may be fused after node `head`.
        func trailingRelu(_ head: inout Int) -> Bool {
            guard let c = sole(head), isRelu(c), !absorbed.contains(c) else { return false }
            absorbed.insert(c)
            head = c
            return true
        }

        for (i, node) in nodes.enumerated() where !absorbed.contains(i) {
            let ins = node.inputs.map(\.id)
            switch node.op {
            case .input:
                ops.append(FusedOp(kind: .input, inputs: [], output: i))
            case .conv:
                var head = i
                var bn: Int?
                var postOps: [PostOp] = []
                var residual: Int?
                if let c = sole(head), case .batchNorm = nodes[c].op {
                    bn = c; head = c; absorbed.insert(c)
                }
                while let c = sole(head), !absorbed.contains(c) {
                    if isRelu(c), postOps.last != .relu {
                        postOps.append(.relu)
                    } else if let e = eltwisePostOp(c) {
                        postOps.append(e)
                    } else if isAdd(c), residual == nil, resizeInto[c] == nil, !postOps.contains(.relu) {
                        // Only "sum then ReLU": oneDNN 2.6 has no JIT kernel for ReLU then sum and
                        // falls back to its reference convolution (~1000x slower; cls_hrnet's
                        // `incre(x) + ReLU(BN(downsamp conv(y)))` has that shape). The add runs alone.
                        let pair = nodes[c].inputs.map(\.id)
                        residual = pair[0] == head ? pair[1] : pair[0]
                        postOps.append(.sum)
                    } else {
                        break
                    }
                    absorbed.insert(c)
                    head = c
                }
                ops.append(FusedOp(kind: .conv(node: i, batchNorm: bn, postOps: postOps),
                                   inputs: residual.map { [ins[0], $0] } ?? [ins[0]], output: head))
            case .batchNorm:
                var head = i
                let relu = trailingRelu(&head)
                ops.append(FusedOp(kind: .affine(batchNorm: i, relu: relu), inputs: ins, output: head))
            case .relu:
                ops.append(FusedOp(kind: .relu, inputs: ins, output: i))
            case .resize:
                if let c = sole(i), isAdd(c), !absorbed.contains(c), resizeInto[c] == nil,
                   nodes[c].inputs[0] != nodes[c].inputs[1] {
                    resizeInto[c] = i
                    absorbed.insert(i)
                } else {
                    ops.append(FusedOp(kind: .resize(node: i), inputs: [ins[0]], output: i))
                }
            case .add:
                var head = i
                if let r = resizeInto[i] {
                    let base = ins[0] == r ? ins[1] : ins[0]
                    let relu = trailingRelu(&head)
                    ops.append(FusedOp(kind: .resizeAdd(resize: r, relu: relu),
                                       inputs: [base, nodes[r].inputs[0].id], output: head))
                } else {
                    let relu = trailingRelu(&head)
                    ops.append(FusedOp(kind: .add(relu: relu), inputs: ins, output: head))
                }
            case .concat:
                ops.append(FusedOp(kind: .concat, inputs: ins, output: i))
            case .pool(let p):
                ops.append(FusedOp(kind: .pool(p), inputs: ins, output: i))
            case .globalAveragePool:
                ops.append(FusedOp(kind: .globalAveragePool, inputs: ins, output: i))
            case .linear:
                ops.append(FusedOp(kind: .linear(node: i), inputs: ins, output: i))
            case .groupNorm:
                var head = i
                let relu = trailingRelu(&head)
                ops.append(FusedOp(kind: .groupNorm(node: i, relu: relu), inputs: ins, output: head))
            case .scale:
                ops.append(FusedOp(kind: .scale(node: i), inputs: ins, output: i))
            case .exp:
                ops.append(FusedOp(kind: .exp, inputs: ins, output: i))
            case .spatialGather:
                ops.append(FusedOp(kind: .spatialGather, inputs: ins, output: i))
            case .objectAttention:
                ops.append(FusedOp(kind: .objectAttention(node: i), inputs: ins, output: i))
            case .channelDropout:
                ops.append(FusedOp(kind: .identity, inputs: ins, output: i))
            }
        }
        // A fused op runs where its last node stood, so every input it reads is ready.
        return ops.sorted { $0.output < $1.output }
    }
}
