import DNN

/// mmdet's HRFPN neck, keys `reduction_conv.conv` and `fpn_convs.i.conv` under `neck.`:
/// the multi-resolution streams become one map at the highest resolution (the HRNetV2
/// representation), reduced to `outChannels`, then pooled into a feature pyramid.
enum HRFPN {
    static func build(_ g: Graph, streams: [Graph.Value], spec: HRFPNSpec) -> [Graph.Value] {
        // Bilinear x2^i, half-pixel (F.interpolate with scale_factor, align_corners False).
        let upsampled = streams.enumerated().map { i, x in
            i == 0 ? x : g.upsample(x, factor: 1 << i, mode: .bilinear(alignCorners: false))
        }
        let reduced = g.conv(g.concat(upsampled), key: "reduction_conv.conv", outChannels: spec.outChannels, kernel: 1, bias: true)
        return (0..<spec.levels).map { i in
            var level = reduced
            if i > 0 {
                let k = 1 << i
                level = spec.pooling == .average ? g.avgPool(reduced, kernel: k, stride: k) : g.maxPool(reduced, kernel: k, stride: k)
            }
            return g.conv(level, key: "fpn_convs.\(i).conv", outChannels: spec.outChannels, kernel: 3, stride: spec.stride,
                          padding: 1, bias: true)
        }
    }
}
