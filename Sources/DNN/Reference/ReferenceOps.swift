import Foundation

/// Plain, obvious implementations of every graph op on NCHW tensors.
///
/// They are slow on purpose: no blocking, no fusion, no threads. Tests check the oneDNN
/// plans against them, and gradient checks will build on them.
public enum Reference {
    /// `nn.ConvTranspose2d` (groups 1, dilation 1): input pixel (i, j) adds its value times the
    /// kernel into output (i x stride - padding + u, j x stride - padding + v); weight (I, O, kh, kw).
    public static func transposedConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
                                        outputPadding: (Int, Int)) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ci, o, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(ci == c, "transposed conv2d: weight \(weight.shape) does not fit input \(x.shape)")
        let oh = (h - 1) * stride.0 - 2 * padding.0 + kh + outputPadding.0
        let ow = (w - 1) * stride.1 - 2 * padding.1 + kw + outputPadding.1
        var acc = [Double](repeating: 0, count: n * o * oh * ow)
        for b in 0..<n { for ic in 0..<c { for i in 0..<h { for j in 0..<w {
            let value = Double(x[b, ic, i, j])
            for oc in 0..<o { for u in 0..<kh {
                let yy = i * stride.0 - padding.0 + u
                guard yy >= 0, yy < oh else { continue }
                for v in 0..<kw {
                    let xx = j * stride.1 - padding.1 + v
                    guard xx >= 0, xx < ow else { continue }
                    acc[((b * o + oc) * oh + yy) * ow + xx] += value * Double(weight[ic, oc, u, v])
                }
            }}
        }}}}
        var y = Tensor(shape: [n, o, oh, ow], scalars: acc.map { Float($0) })
        if let bias {
            for k in 0..<y.count { y.scalars[k] += bias.scalars[(k / (oh * ow)) % o] }
        }
        return y
    }

    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
                              dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(cg * groups == c, "conv2d: weight \(weight.shape) does not fit input \(x.shape) with \(groups) groups")
        let oh = Graph.windowOutput(h, kernel: kh, stride: stride.0, padding: padding.0, dilation: dilation.0)
        let ow = Graph.windowOutput(w, kernel: kw, stride: stride.1, padding: padding.1, dilation: dilation.1)
        let og = o / groups
        var y = Tensor(zeros: [n, o, oh, ow])
        x.scalars.withUnsafeBufferPointer { xs in
        weight.scalars.withUnsafeBufferPointer { ws in
        y.scalars.withUnsafeMutableBufferPointer { ys in
            for b in 0..<n { for oc in 0..<o {
                let g = oc / og
                let b0 = bias?.scalars[oc] ?? 0
                for i in 0..<oh { for j in 0..<ow {
                    var acc: Double = 0
                    for ic in 0..<cg {
                        let xc = g * cg + ic
                        for u in 0..<kh {
                            let yy = i * stride.0 - padding.0 + u * dilation.0
                            if yy < 0 || yy >= h { continue }
                            for v in 0..<kw {
                                let xx = j * stride.1 - padding.1 + v * dilation.1
                                if xx < 0 || xx >= w { continue }
                                acc += Double(xs[((b * c + xc) * h + yy) * w + xx]) * Double(ws[((oc * cg + ic) * kh + u) * kw + v])
                            }
                        }
                    }
                    ys[((b * o + oc) * oh + i) * ow + j] = Float(acc) + b0
                }}
            }}
        }}}
        return y
    }

    /// Inference batch norm with running statistics.
    public static func batchNorm(_ x: Tensor, weight: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, eps: Float) -> Tensor {
        var y = x
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        for b in 0..<n { for ch in 0..<c {
            let inv = 1 / (variance.scalars[ch] + eps).squareRoot()
            for k in 0..<hw {
                let i = (b * c + ch) * hw + k
                y.scalars[i] = (x.scalars[i] - mean.scalars[ch]) * inv * weight.scalars[ch] + bias.scalars[ch]
            }
        }}
        return y
    }

    /// `F.group_norm`: mean and biased variance over each group's channels and pixels (in
    /// double), then (x - mean) / sqrt(var + eps) * weight + bias.
    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
        var y = x
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let perGroup = c / groups
        for b in 0..<n { for g in 0..<groups {
            let range = ((b * c + g * perGroup) * hw)..<((b * c + (g + 1) * perGroup) * hw)
            let mean = x.scalars[range].reduce(0.0) { $0 + Double($1) } / Double(range.count)
            let variance = x.scalars[range].reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(range.count)
            let inv = 1 / (variance + Double(eps)).squareRoot()
            for i in range {
                let ch = (i / hw) % c
                y.scalars[i] = Float((Double(x.scalars[i]) - mean) * inv * Double(weight.scalars[ch]) + Double(bias.scalars[ch]))
            }
        }}
        return y
    }

    public static func relu(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape, scalars: x.scalars.map { max($0, 0) })
    }

    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "add: \(a.shape) vs \(b.shape)")
        return Tensor(shape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 + $1 })
    }

    /// `F.interpolate` to (outH, outW): nearest uses PyTorch's floor(dst * in / out) rule;
    /// bilinear follows align_corners True (corner pixels aligned) or False (half-pixel
    /// centres, source index clamped at 0).
    public static func resize(_ x: Tensor, toHeight outH: Int, width outW: Int, mode: ResizeMode) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var y = Tensor(zeros: [n, c, outH, outW])
        for plane in 0..<(n * c) {
            let src = plane * h * w, dst = plane * outH * outW
            for i in 0..<outH { for j in 0..<outW {
                let v: Float
                switch mode {
                case .nearest:
                    let si = min(Int(Float(i) * Float(h) / Float(outH)), h - 1)
                    let sj = min(Int(Float(j) * Float(w) / Float(outW)), w - 1)
                    v = x.scalars[src + si * w + sj]
                case .bilinear(let alignCorners):
                    let (i0, i1, fi) = linearSource(i, inSize: h, outSize: outH, alignCorners: alignCorners)
                    let (j0, j1, fj) = linearSource(j, inSize: w, outSize: outW, alignCorners: alignCorners)
                    let a = x.scalars[src + i0 * w + j0], b = x.scalars[src + i0 * w + j1]
                    let cc = x.scalars[src + i1 * w + j0], d = x.scalars[src + i1 * w + j1]
                    v = (1 - fi) * ((1 - fj) * a + fj * b) + fi * ((1 - fj) * cc + fj * d)
                }
                y.scalars[dst + i * outW + j] = v
            }}
        }
        return y
    }

    /// Rows `rows` of `resize(x, toHeight: outH, width: outW, mode: .bilinear(alignCorners))` for
    /// one image of `channels` planes (CHW), computed alone: the same arithmetic per pixel, so the
    /// values equal the whole resize's, in `channels x rows.count x outW`. Lets a caller resize a
    /// large output in bands instead of holding all of it.
    public static func resizeRows(_ x: UnsafeBufferPointer<Float>, channels: Int, height h: Int, width w: Int,
                                  toHeight outH: Int, width outW: Int, rows: Range<Int>, alignCorners: Bool) -> [Float] {
        precondition(x.count == channels * h * w && rows.lowerBound >= 0 && rows.upperBound <= outH, "resizeRows: bad sizes")
        let bandHeight = rows.count
        var y = [Float](repeating: 0, count: channels * bandHeight * outW)
        let columns = (0..<outW).map { linearSource($0, inSize: w, outSize: outW, alignCorners: alignCorners) }
        y.withUnsafeMutableBufferPointer { out in
            for c in 0..<channels {
                let src = c * h * w, dst = c * bandHeight * outW
                for i in rows {
                    let (i0, i1, fi) = linearSource(i, inSize: h, outSize: outH, alignCorners: alignCorners)
                    for j in 0..<outW {
                        let (j0, j1, fj) = columns[j]
                        let a = x[src + i0 * w + j0], b = x[src + i0 * w + j1]
                        let cc = x[src + i1 * w + j0], d = x[src + i1 * w + j1]
                        out[dst + (i - rows.lowerBound) * outW + j] = (1 - fi) * ((1 - fj) * a + fj * b) + fi * ((1 - fj) * cc + fj * d)
                    }
                }
            }
        }
        return y
    }

    /// The two source indices and the weight of the second for output index `o` (PyTorch's rule).
    static func linearSource(_ o: Int, inSize: Int, outSize: Int, alignCorners: Bool) -> (Int, Int, Float) {
        let s: Float
        if alignCorners {
            s = outSize > 1 ? Float(o) * Float(inSize - 1) / Float(outSize - 1) : 0
        } else {
            s = max((Float(o) + 0.5) * Float(inSize) / Float(outSize) - 0.5, 0)
        }
        let i0 = min(Int(s), inSize - 1)
        let i1 = min(i0 + 1, inSize - 1)
        return (i0, i1, s - Float(i0))
    }

    public static func concat(_ xs: [Tensor]) -> Tensor {
        let (n, h, w) = (xs[0].shape[0], xs[0].shape[2], xs[0].shape[3])
        let c = xs.map { $0.shape[1] }.reduce(0, +)
        var y = Tensor(zeros: [n, c, h, w])
        for b in 0..<n {
            var offset = 0
            for x in xs {
                let size = x.shape[1] * h * w
                y.scalars.replaceSubrange((b * c * h * w + offset)..<(b * c * h * w + offset + size),
                                          with: x.scalars[(b * size)..<((b + 1) * size)])
                offset += size
            }
        }
        return y
    }

    public static func pool(_ x: Tensor, _ p: Pool) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = Graph.windowOutput(h, kernel: p.kernel, stride: p.stride, padding: p.padding)
        let ow = Graph.windowOutput(w, kernel: p.kernel, stride: p.stride, padding: p.padding)
        var y = Tensor(zeros: [n, c, oh, ow])
        for plane in 0..<(n * c) { for i in 0..<oh { for j in 0..<ow {
            var best = -Float.infinity, sum: Float = 0
            for u in 0..<p.kernel { for v in 0..<p.kernel {
                let yy = i * p.stride - p.padding + u, xx = j * p.stride - p.padding + v
                guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                let e = x.scalars[(plane * h + yy) * w + xx]
                best = max(best, e); sum += e
            }}
            y.scalars[(plane * oh + i) * ow + j] = p.kind == .max ? best : sum / Float(p.kernel * p.kernel)
        }}}
        return y
    }

    public static func globalAveragePool(_ x: Tensor) -> Tensor {
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var y = Tensor(zeros: [n, c, 1, 1])
        for plane in 0..<(n * c) {
            var s: Double = 0
            for k in 0..<hw { s += Double(x.scalars[plane * hw + k]) }
            y.scalars[plane] = Float(s / Double(hw))
        }
        return y
    }

    /// y = x W^T + b over the flattened (C, H, W); output (N, O, 1, 1).
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let n = x.shape[0], f = x.count / n, o = weight.shape[0]
        var y = Tensor(zeros: [n, o, 1, 1])
        for b in 0..<n { for k in 0..<o {
            var s: Double = 0
            for i in 0..<f { s += Double(x.scalars[b * f + i]) * Double(weight.scalars[k * f + i]) }
            y.scalars[b * o + k] = Float(s) + (bias?.scalars[k] ?? 0)
        }}
        return y
    }
}

extension Reference {
    /// Softmax of `count` numbers `stride` apart starting at `start`, in double.
    static func softmax(_ x: inout [Float], start: Int, count: Int, stride: Int, scale: Float = 1) {
        var top = -Double.infinity
        for i in 0..<count { top = max(top, Double(scale * x[start + i * stride])) }
        var sum = 0.0
        var e = [Double](repeating: 0, count: count)
        for i in 0..<count { e[i] = Foundation.exp(Double(scale * x[start + i * stride]) - top); sum += e[i] }
        for i in 0..<count { x[start + i * stride] = Float(e[i] / sum) }
    }

    /// OCR's class centres: out[n, c, k, 0] = sum over pixels p of softmax_p(probs[n, k]) x feats[n, c, p].
    public static func spatialGather(_ feats: Tensor, probs: Tensor) -> Tensor {
        let (n, c, k, s) = (feats.shape[0], feats.shape[1], probs.shape[1], feats.shape[2] * feats.shape[3])
        var a = probs.scalars
        for b in 0..<n { for j in 0..<k { softmax(&a, start: (b * k + j) * s, count: s, stride: 1) } }
        var y = Tensor(zeros: [n, c, k, 1])
        for b in 0..<n { for ch in 0..<c { for j in 0..<k {
            var acc = 0.0
            for p in 0..<s { acc += Double(feats.scalars[(b * c + ch) * s + p]) * Double(a[(b * k + j) * s + p]) }
            y.scalars[(b * c + ch) * k + j] = Float(acc)
        }}}
        return y
    }

    /// OCR's object attention: each pixel's weights over the K centres, softmax(scale x q.k),
    /// sum the values' columns.
    public static func objectAttention(query q: Tensor, key: Tensor, value v: Tensor, scale: Float) -> Tensor {
        let (n, ck, s) = (q.shape[0], q.shape[1], q.shape[2] * q.shape[3])
        let (k, cv) = (key.shape[2] * key.shape[3], v.shape[1])
        var w = [Float](repeating: 0, count: n * k * s)
        for b in 0..<n { for j in 0..<k { for p in 0..<s {
            var acc = 0.0
            for c in 0..<ck { acc += Double(q.scalars[(b * ck + c) * s + p]) * Double(key.scalars[(b * ck + c) * k + j]) }
            w[(b * k + j) * s + p] = Float(acc)
        }}}
        for b in 0..<n { for p in 0..<s { softmax(&w, start: b * k * s + p, count: k, stride: s, scale: scale) } }
        var y = Tensor(zeros: [n, cv, q.shape[2], q.shape[3]])
        for b in 0..<n { for c in 0..<cv { for p in 0..<s {
            var acc = 0.0
            for j in 0..<k { acc += Double(v.scalars[(b * cv + c) * k + j]) * Double(w[(b * k + j) * s + p]) }
            y.scalars[(b * cv + c) * s + p] = Float(acc)
        }}}
        return y
    }
}

extension Graph {
    /// Runs the graph op by op with the reference kernels (for tests; slow).
    public func referenceForward(parameters p: [String: Tensor], input: Tensor) throws -> [Tensor] {
        guard let s = Shape4(input.shape) else { throw DNNError.graph("input must be NCHW, got shape \(input.shape)") }
        let shapes = try inferShapes(input: s)
        var values: [Tensor?] = Array(repeating: nil, count: nodes.count)
        func param(_ key: String) throws -> Tensor {
            guard let t = p[key] else { throw DNNError.graph("parameter \(key) is missing") }
            return t
        }
        for (i, node) in nodes.enumerated() {
            let x = node.inputs.map { values[$0.id]! }
            switch node.op {
            case .input: values[i] = input
            case .conv(let c) where c.transposed:
                values[i] = Reference.transposedConv2d(x[0], weight: try param("\(c.key).weight"),
                                                       bias: c.hasBias ? try param("\(c.key).bias") : nil,
                                                       stride: c.stride, padding: c.padding, outputPadding: c.outputPadding)
            case .conv(let c):
                values[i] = Reference.conv2d(x[0], weight: try param("\(c.key).weight"),
                                             bias: c.hasBias ? try param("\(c.key).bias") : nil,
                                             stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
            case .batchNorm(let b):
                values[i] = Reference.batchNorm(x[0], weight: try param("\(b.key).weight"), bias: try param("\(b.key).bias"),
                                                mean: try param("\(b.key).running_mean"),
                                                variance: try param("\(b.key).running_var"), eps: b.eps)
            case .relu: values[i] = Reference.relu(x[0])
            case .add: values[i] = Reference.add(x[0], x[1])
            case .resize(let r): values[i] = Reference.resize(x[0], toHeight: shapes[i].h, width: shapes[i].w, mode: r.mode)
            case .concat: values[i] = Reference.concat(x)
            case .pool(let p): values[i] = Reference.pool(x[0], p)
            case .globalAveragePool: values[i] = Reference.globalAveragePool(x[0])
            case .linear(let l):
                values[i] = Reference.linear(x[0], weight: try param("\(l.key).weight"),
                                             bias: l.hasBias ? try param("\(l.key).bias") : nil)
            case .groupNorm(let n):
                values[i] = Reference.groupNorm(x[0], groups: n.groups, weight: try param("\(n.key).weight"),
                                                bias: try param("\(n.key).bias"), eps: n.eps)
            case .scale(let c):
                let factor = try param("\(c.key).scale").scalars[0]
                values[i] = Tensor(shape: x[0].shape, scalars: x[0].scalars.map { $0 * factor })
            case .exp: values[i] = Tensor(shape: x[0].shape, scalars: x[0].scalars.map { Foundation.exp($0) })
            case .spatialGather: values[i] = Reference.spatialGather(x[0], probs: x[1])
            case .objectAttention(let a): values[i] = Reference.objectAttention(query: x[0], key: x[1], value: x[2], scale: a.scale)
            case .channelDropout: values[i] = x[0]
            }
        }
        return outputs.map { values[$0.id]! }
    }
}
