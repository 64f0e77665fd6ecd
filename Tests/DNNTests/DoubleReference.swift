import DNN
import Foundation

/// A plain double-precision forward pass of a graph, with batch norm in training mode (batch
/// statistics, biased variance) or eval mode (running statistics): the reference that finite
/// differences are taken of. Written straight from the definitions, slow and obvious.
struct DoubleReference {
    struct T {
        var n, c, h, w: Int
        var v: [Double]
        init(_ n: Int, _ c: Int, _ h: Int, _ w: Int, _ v: [Double]? = nil) {
            (self.n, self.c, self.h, self.w) = (n, c, h, w)
            self.v = v ?? Array(repeating: 0, count: n * c * h * w)
        }
        func at(_ b: Int, _ ch: Int, _ i: Int, _ j: Int) -> Double { v[((b * c + ch) * h + i) * w + j] }
    }

    let graph: Graph
    var train = true

    /// The batch statistics of each BN of the last run, by key (mean, biased variance, count).
    var statistics: [String: (mean: [Double], variance: [Double], count: Int)] = [:]

    init(graph: Graph, train: Bool = true) { self.graph = graph; self.train = train }

    mutating func forward(_ p: [String: [Double]], input: T) throws -> [T] {
        let shapes = try graph.inferShapes(input: Shape4(input.n, input.c, input.h, input.w))
        var values: [T?] = Array(repeating: nil, count: graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            let x = node.inputs.map { values[$0.id]! }
            let s = shapes[i]
            var y = T(s.n, s.c, s.h, s.w)
            switch node.op {
            case .input: y = input
            case .conv(let c) where c.transposed:
                let wt = p["\(c.key).weight"]!, a = x[0]
                for b in 0..<s.n { for o in 0..<s.c { for k in 0..<(s.h * s.w) { y.v[(b * s.c + o) * s.h * s.w + k] = c.hasBias ? p["\(c.key).bias"]![o] : 0 } } }
                for b in 0..<a.n { for ic in 0..<a.c { for i0 in 0..<a.h { for j0 in 0..<a.w {
                    let value = a.at(b, ic, i0, j0)
                    for o in 0..<s.c { for u in 0..<c.kernel.h { for v in 0..<c.kernel.w {
                        let yy = i0 * c.stride.h - c.padding.h + u, xx = j0 * c.stride.w - c.padding.w + v
                        guard yy >= 0, yy < s.h, xx >= 0, xx < s.w else { continue }
                        y.v[((b * s.c + o) * s.h + yy) * s.w + xx] += value * wt[((ic * s.c + o) * c.kernel.h + u) * c.kernel.w + v]
                    }}}
                }}}}
            case .conv(let c):
                let wt = p["\(c.key).weight"]!, bias = c.hasBias ? p["\(c.key).bias"] : nil
                let a = x[0], cg = a.c / c.groups, og = s.c / c.groups
                for b in 0..<s.n { for o in 0..<s.c { for i0 in 0..<s.h { for j0 in 0..<s.w {
                    var acc = bias?[o] ?? 0
                    let g = o / og
                    for ic in 0..<cg { for u in 0..<c.kernel.h { for v in 0..<c.kernel.w {
                        let yy = i0 * c.stride.h - c.padding.h + u * c.dilation.h
                        let xx = j0 * c.stride.w - c.padding.w + v * c.dilation.w
                        guard yy >= 0, yy < a.h, xx >= 0, xx < a.w else { continue }
                        acc += a.at(b, g * cg + ic, yy, xx) * wt[((o * cg + ic) * c.kernel.h + u) * c.kernel.w + v]
                    }}}
                    y.v[((b * s.c + o) * s.h + i0) * s.w + j0] = acc
                }}}}
            case .batchNorm(let bn):
                let a = x[0], gamma = p["\(bn.key).weight"]!, beta = p["\(bn.key).bias"]!
                let m = a.n * a.h * a.w
                var means: [Double] = [], vars: [Double] = []
                for ch in 0..<a.c {
                    var mean = 0.0, variance = 0.0
                    if train {
                        for b in 0..<a.n { for k in 0..<(a.h * a.w) { mean += a.v[(b * a.c + ch) * a.h * a.w + k] } }
                        mean /= Double(m)
                        for b in 0..<a.n { for k in 0..<(a.h * a.w) { let d = a.v[(b * a.c + ch) * a.h * a.w + k] - mean; variance += d * d } }
                        variance /= Double(m)
                    } else {
                        mean = p["\(bn.key).running_mean"]![ch]
                        variance = p["\(bn.key).running_var"]![ch]
                    }
                    means.append(mean); vars.append(variance)
                    let inv = 1 / (variance + Double(bn.eps)).squareRoot()
                    for b in 0..<a.n { for k in 0..<(a.h * a.w) {
                        let idx = (b * a.c + ch) * a.h * a.w + k
                        y.v[idx] = (a.v[idx] - mean) * inv * gamma[ch] + beta[ch]
                    }}
                }
                statistics[bn.key] = (means, vars, m)
            case .relu: y = x[0]; y.v = y.v.map { max($0, 0) }
            case .add: y = x[0]; for k in y.v.indices { y.v[k] += x[1].v[k] }
            case .resize(let r):
                let a = x[0]
                for plane in 0..<(a.n * a.c) { for i0 in 0..<s.h { for j0 in 0..<s.w {
                    let val: Double
                    switch r.mode {
                    case .nearest:
                        let si = min(Int(Double(i0) * Double(a.h) / Double(s.h)), a.h - 1)
                        let sj = min(Int(Double(j0) * Double(a.w) / Double(s.w)), a.w - 1)
                        val = a.v[(plane * a.h + si) * a.w + sj]
                    case .bilinear(let ac):
                        func source(_ o: Int, _ inSize: Int, _ outSize: Int) -> (Int, Int, Double) {
                            let f: Double = ac ? (outSize > 1 ? Double(o) * Double(inSize - 1) / Double(outSize - 1) : 0)
                                : max((Double(o) + 0.5) * Double(inSize) / Double(outSize) - 0.5, 0)
                            let i0 = min(Int(f), inSize - 1)
                            return (i0, min(i0 + 1, inSize - 1), f - Double(i0))
                        }
                        let (r0, r1, fy) = source(i0, a.h, s.h), (c0, c1, fx) = source(j0, a.w, s.w)
                        let q = { (yy: Int, xx: Int) in a.v[(plane * a.h + yy) * a.w + xx] }
                        val = (1 - fy) * ((1 - fx) * q(r0, c0) + fx * q(r0, c1)) + fy * ((1 - fx) * q(r1, c0) + fx * q(r1, c1))
                    }
                    y.v[(plane * s.h + i0) * s.w + j0] = val
                }}}
            case .concat:
                var off = 0
                for a in x {
                    for b in 0..<a.n { for ch in 0..<a.c { for k in 0..<(a.h * a.w) {
                        y.v[(b * s.c + off + ch) * s.h * s.w + k] = a.v[(b * a.c + ch) * a.h * a.w + k]
                    }}}
                    off += a.c
                }
            case .pool(let pl):
                let a = x[0]
                for plane in 0..<(a.n * a.c) { for i0 in 0..<s.h { for j0 in 0..<s.w {
                    var best = -Double.infinity, sum = 0.0
                    for u in 0..<pl.kernel { for v in 0..<pl.kernel {
                        let yy = i0 * pl.stride - pl.padding + u, xx = j0 * pl.stride - pl.padding + v
                        guard yy >= 0, yy < a.h, xx >= 0, xx < a.w else { continue }
                        let e = a.v[(plane * a.h + yy) * a.w + xx]
                        best = max(best, e); sum += e
                    }}
                    y.v[(plane * s.h + i0) * s.w + j0] = pl.kind == .max ? best : sum / Double(pl.kernel * pl.kernel)
                }}}
            case .globalAveragePool:
                let a = x[0], hw = a.h * a.w
                for plane in 0..<(a.n * a.c) { y.v[plane] = a.v[(plane * hw)..<((plane + 1) * hw)].reduce(0, +) / Double(hw) }
            case .linear(let l):
                let a = x[0], f = a.c * a.h * a.w, wt = p["\(l.key).weight"]!, bias = l.hasBias ? p["\(l.key).bias"] : nil
                for b in 0..<s.n { for o in 0..<s.c {
                    var acc = bias?[o] ?? 0
                    for k in 0..<f { acc += a.v[b * f + k] * wt[o * f + k] }
                    y.v[b * s.c + o] = acc
                }}
            case .groupNorm(let gn):
                let a = x[0], hw = a.h * a.w, per = a.c / gn.groups
                let wt = p["\(gn.key).weight"]!, bias = p["\(gn.key).bias"]!
                for b in 0..<a.n { for g in 0..<gn.groups {
                    let range = ((b * a.c + g * per) * hw)..<((b * a.c + (g + 1) * per) * hw)
                    let mean = a.v[range].reduce(0, +) / Double(range.count)
                    let variance = a.v[range].reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(range.count)
                    for k in range {
                        let ch = (k / hw) % a.c
                        y.v[k] = (a.v[k] - mean) / (variance + Double(gn.eps)).squareRoot() * wt[ch] + bias[ch]
                    }
                }}
            case .scale(let sc):
                let factor = p["\(sc.key).scale"]![0]
                y.v = x[0].v.map { $0 * factor }
            case .exp:
                y.v = x[0].v.map { Foundation.exp($0) }
            case .channelDropout:
                y = x[0]  // the identity: checks run the masks off (p = 0) or in eval mode
            case .spatialGather:
                let (f, pr) = (x[0], x[1]), hw = f.h * f.w
                for b in 0..<f.n { for k in 0..<pr.c {
                    let logits = (0..<hw).map { pr.v[(b * pr.c + k) * hw + $0] }
                    let top = logits.max()!, e = logits.map { Foundation.exp($0 - top) }, sum = e.reduce(0, +)
                    for ch in 0..<f.c {
                        var acc = 0.0
                        for q in 0..<hw { acc += f.v[(b * f.c + ch) * hw + q] * e[q] / sum }
                        y.v[(b * f.c + ch) * pr.c + k] = acc
                    }
                }}
            case .objectAttention(let att):
                let (q, key, v) = (x[0], x[1], x[2]), hw = q.h * q.w, centres = key.h * key.w
                for b in 0..<q.n { for pixel in 0..<hw {
                    var logits = [Double](repeating: 0, count: centres)
                    for j in 0..<centres { for c in 0..<q.c {
                        logits[j] += q.v[(b * q.c + c) * hw + pixel] * key.v[(b * key.c + c) * centres + j]
                    }}
                    logits = logits.map { $0 * Double(att.scale) }
                    let top = logits.max()!, e = logits.map { Foundation.exp($0 - top) }, sum = e.reduce(0, +)
                    for c in 0..<v.c {
                        var acc = 0.0
                        for j in 0..<centres { acc += v.v[(b * v.c + c) * centres + j] * e[j] / sum }
                        y.v[(b * v.c + c) * hw + pixel] = acc
                    }
                }}
            }
            values[i] = y
        }
        return graph.outputs.map { values[$0.id]! }
    }
}
