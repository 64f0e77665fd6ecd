import DNN

/// The paper's core unit: parallel branches of residual blocks, then multi-scale fusion in
/// which every output stream sums what every input stream sends it.
enum HighResolutionModule {
    /// Builds `<key>.branches.b.n` and `<key>.fuse_layers.i.j`; returns all streams, or only the
    /// highest when `multiScaleOutput` is false (the last module of pose_hrnet).
    static func build(_ g: Graph, key: String, streams: [Graph.Value], spec: StageSpec,
                      multiScaleOutput: Bool, upsampling: FuseUpsampling) -> [Graph.Value] {
        // Branches: each stream through its own residual blocks.
        var x: [Graph.Value] = []
        for b in 0..<spec.branches {
            x.append(Blocks.sequence(g, streams[b], key: "\(key).branches.\(b)", kind: spec.block,
                                     planes: spec.channels[b], count: spec.blocks[b]))
        }
        if spec.branches == 1 { return x }

        // Fusion: y_i = ReLU(sum_j f_ij(x_j)), summed in the official order j = 0, 1, ...
        let width = x.map { g.channels(of: $0) }
        var fused: [Graph.Value] = []
        for i in 0..<(multiScaleOutput ? spec.branches : 1) {
            var y: Graph.Value?
            for j in 0..<spec.branches {
                let term: Graph.Value
                if j == i {
                    term = x[j]
                } else if j > i {
                    // Lower resolution: conv1x1 to this stream's width, BN, then upsample.
                    let k = "\(key).fuse_layers.\(i).\(j)"
                    let z = g.batchNorm(g.conv(x[j], key: "\(k).0", outChannels: width[i], kernel: 1), key: "\(k).1")
                    switch upsampling {
                    case .nearest: term = g.upsample(z, factor: 1 << (j - i), mode: .nearest)
                    case .bilinear(let ac): term = g.resize(z, like: x[i], mode: .bilinear(alignCorners: ac))
                    }
                } else {
                    // Higher resolution: i - j stride-2 conv3x3 + BN steps, ReLU between them.
                    var z = x[j]
                    for k in 0..<(i - j) {
                        let last = k == i - j - 1
                        let kk = "\(key).fuse_layers.\(i).\(j).\(k)"
                        z = g.batchNorm(g.conv(z, key: "\(kk).0", outChannels: last ? width[i] : width[j], kernel: 3, stride: 2),
                                        key: "\(kk).1")
                        if !last { z = g.relu(z) }
                    }
                    term = z
                }
                y = y.map { g.add($0, term) } ?? term
            }
            fused.append(g.relu(y!))
        }
        return fused
    }
}
