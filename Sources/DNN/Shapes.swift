/// An NCHW activation shape.
public struct Shape4: Hashable, Sendable, CustomStringConvertible {
    public var n, c, h, w: Int
    public init(_ n: Int, _ c: Int, _ h: Int, _ w: Int) { (self.n, self.c, self.h, self.w) = (n, c, h, w) }
    public init?(_ dims: [Int]) {
        guard dims.count == 4 else { return nil }
        self.init(dims[0], dims[1], dims[2], dims[3])
    }
    public var dims: [Int] { [n, c, h, w] }
    public var count: Int { n * c * h * w }
    public var description: String { "\(n)x\(c)x\(h)x\(w)" }
}

extension Graph {
    /// Output size of a convolution or pooling window along one axis (PyTorch's floor rule).
    static func windowOutput(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int = 1) -> Int {
        (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1
    }

    /// The shape of every value for one input shape, or an error naming the first node that
    /// cannot take its inputs (e.g. an input size whose streams do not line up in fusion).
    public func inferShapes(input: Shape4) throws -> [Shape4] {
        var shapes: [Shape4] = []
        shapes.reserveCapacity(nodes.count)
        for (index, node) in nodes.enumerated() {
            let ins = node.inputs.map { shapes[$0.id] }
            func fail(_ why: String) -> DNNError {
                DNNError.graph("input \(input.n)x\(input.c)x\(input.h)x\(input.w) does not fit the model: node \(index) (\(node.op.name)): \(why)")
            }
            var s: Shape4
            switch node.op {
            case .input:
                guard input.c == node.channels else {
                    throw DNNError.graph("input has \(input.c) channels, the model takes \(node.channels)")
                }
                guard input.n > 0, input.h > 0, input.w > 0 else { throw DNNError.graph("input shape \(input) is empty") }
                if let (m, why) = inputSideMultiple, input.h % m != 0 || input.w % m != 0 {
                    throw DNNError.graph("input \(input.n)x\(input.c)x\(input.h)x\(input.w) does not fit the model: its sides must be multiples of \(m) (\(why))")
                }
                s = input
            case .conv(let p) where p.transposed:
                s = ins[0]
                s.c = node.channels
                s.h = (s.h - 1) * p.stride.h - 2 * p.padding.h + p.dilation.h * (p.kernel.h - 1) + p.outputPadding.h + 1
                s.w = (s.w - 1) * p.stride.w - 2 * p.padding.w + p.dilation.w * (p.kernel.w - 1) + p.outputPadding.w + 1
                if s.h < 1 || s.w < 1 { throw fail("\(p.key): \(ins[0].h)x\(ins[0].w) is too small for the padding") }
            case .conv(let p):
                s = ins[0]
                s.c = node.channels
                s.h = Self.windowOutput(s.h, kernel: p.kernel.h, stride: p.stride.h, padding: p.padding.h, dilation: p.dilation.h)
                s.w = Self.windowOutput(s.w, kernel: p.kernel.w, stride: p.stride.w, padding: p.padding.w, dilation: p.dilation.w)
                if s.h < 1 || s.w < 1 { throw fail("\(p.key): \(ins[0].h)x\(ins[0].w) is too small for the kernel") }
            case .batchNorm, .relu, .groupNorm, .scale, .exp, .channelDropout:
                s = ins[0]
            case .spatialGather:
                guard ins[0].n == ins[1].n, ins[0].h == ins[1].h, ins[0].w == ins[1].w else {
                    throw fail("gathering \(ins[0]) features with \(ins[1]) maps: their sizes differ")
                }
                s = Shape4(ins[0].n, node.channels, ins[1].c, 1)
            case .objectAttention:
                let (q, k, v) = (ins[0], ins[1], ins[2])
                guard q.n == k.n, k.n == v.n, k.h == v.h, k.w == v.w else {
                    throw fail("attention of \(q) queries over \(k) keys and \(v) values: the keys and values do not pair up")
                }
                s = Shape4(q.n, node.channels, q.h, q.w)
            case .add:
                guard ins[0] == ins[1] else { throw fail("adding \(ins[0]) to \(ins[1]); use a size the streams divide evenly (a multiple of 32 for HRNet)") }
                s = ins[0]
            case .resize(let r):
                s = ins[0]
                switch r.target {
                case .factor(let f): s.h *= f; s.w *= f
                case .like: s.h = ins[1].h; s.w = ins[1].w
                }
            case .concat:
                s = ins[0]
                s.c = node.channels
                for x in ins where x.n != s.n || x.h != s.h || x.w != s.w {
                    throw fail("concatenating \(ins[0]) with \(x)")
                }
            case .pool(let p):
                s = ins[0]
                s.h = Self.windowOutput(s.h, kernel: p.kernel, stride: p.stride, padding: p.padding)
                s.w = Self.windowOutput(s.w, kernel: p.kernel, stride: p.stride, padding: p.padding)
                if s.h < 1 || s.w < 1 { throw fail("\(ins[0].h)x\(ins[0].w) is too small for the pooling window") }
            case .globalAveragePool:
                s = ins[0]
                s.h = 1; s.w = 1
            case .linear(let p):
                let spec = parameters.first { $0.key == "\(p.key).weight" }!
                let features = ins[0].c * ins[0].h * ins[0].w
                guard features == spec.shape[1] else { throw fail("\(p.key) takes \(spec.shape[1]) features, got \(features)") }
                s = Shape4(ins[0].n, node.channels, 1, 1)
            }
            shapes.append(s)
        }
        return shapes
    }

    /// Number of multiply-adds times two (FLOP) of one forward pass for an input shape.
    public func flops(input: Shape4) throws -> Double {
        let shapes = try inferShapes(input: input)
        var total = 0.0
        for (i, node) in nodes.enumerated() {
            let out = shapes[i]
            switch node.op {
            case .conv(let p):
                // A transposed convolution multiplies every input pixel by the whole kernel.
                let x = shapes[node.inputs[0].id]
                total += p.transposed ? 2 * Double(x.count) * Double(out.c * p.kernel.h * p.kernel.w)
                    : 2 * Double(out.count) * Double(x.c / p.groups * p.kernel.h * p.kernel.w)
            case .linear:
                let x = shapes[node.inputs[0].id]
                total += 2 * Double(out.n * out.c) * Double(x.c * x.h * x.w)
            case .spatialGather:
                // (C x HW) times (HW x K)
                let x = shapes[node.inputs[0].id]
                total += 2 * Double(out.count) * Double(x.h * x.w)
            case .objectAttention:
                // (K x Ck) times (Ck x HW), then (Cv x K) times (K x HW)
                let q = shapes[node.inputs[0].id], k = shapes[node.inputs[1].id]
                total += 2 * Double(q.n * q.h * q.w * k.h * k.w) * Double(q.c + out.c)
            default: break
            }
        }
        return total
    }
}

extension Op {
    public var name: String {
        switch self {
        case .input: "input"
        case .conv(let p): "conv \(p.key)"
        case .batchNorm(let p): "batch norm \(p.key)"
        case .relu: "relu"
        case .add: "add"
        case .resize: "resize"
        case .concat: "concat"
        case .pool: "pool"
        case .globalAveragePool: "global average pool"
        case .linear(let p): "linear \(p.key)"
        case .groupNorm(let p): "group norm \(p.key)"
        case .scale(let p): "scale \(p.key)"
        case .exp: "exp"
        case .spatialGather: "spatial gather"
        case .objectAttention: "object attention"
        case .channelDropout: "channel dropout"
        }
    }
}
