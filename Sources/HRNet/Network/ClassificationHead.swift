import DNN

/// The classification head of cls_hrnet (HRNet-Image-Classification `cls_hrnet.py`, also timm's
/// `hrnet_*`, which has the same keys and, checked, bit-identical outputs):
///
/// 1. `incre_modules.i.0`: one Bottleneck per stream (planes 32, 64, 128, 256; x4 out), with a
///    `downsample` conv1x1 + BN where the width changes;
/// 2. from the highest resolution down: `y = incre_i(x_i) + downsamp_modules.(i-1)(y)`, where a
///    downsamp module is conv3x3 stride 2 (bias) + BN + ReLU to the next stream's width;
/// 3. `final_layer`: conv1x1 (bias) to 2048 + BN + ReLU; global average pool; `classifier`
///    (Linear 2048 -> classes). Logits come out as (N, classes, 1, 1).
enum ClassificationHead {
    /// The merged 2048-channel map at 1/32 of the input (before pooling).
    static func features(_ g: Graph, streams: [Graph.Value], spec: ClassifierSpec) -> Graph.Value {
        precondition(streams.count == spec.increPlanes.count, "classification head: \(streams.count) streams, \(spec.increPlanes.count) incre modules")
        var y: Graph.Value?
        for (i, x) in streams.enumerated() {
            let widened = Blocks.sequence(g, x, key: "incre_modules.\(i)", kind: .bottleneck, planes: spec.increPlanes[i], count: 1)
            guard let higher = y else { y = widened; continue }
            let k = "downsamp_modules.\(i - 1)"
            let down = g.relu(g.batchNorm(g.conv(higher, key: "\(k).0", outChannels: g.channels(of: widened), kernel: 3, stride: 2,
                                                 bias: spec.convBias), key: "\(k).1"))
            y = g.add(widened, down)
        }
        return g.relu(g.batchNorm(g.conv(y!, key: "final_layer.0", outChannels: spec.features, kernel: 1, bias: spec.convBias),
                                  key: "final_layer.1"))
    }

    static func build(_ g: Graph, streams: [Graph.Value], spec: ClassifierSpec) -> Graph.Value {
        let pooled = g.globalAveragePool(features(g, streams: streams, spec: spec))
        return g.linear(pooled, key: "classifier", inFeatures: spec.features, outFeatures: spec.classes)
    }
}
