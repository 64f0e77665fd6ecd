import DNN

/// Residual blocks of ResNet, with the official key names (`conv1 bn1 conv2 bn2 [conv3 bn3]`,
/// `downsample.0` conv1x1 and `downsample.1` BN where the shape changes).
enum Blocks {
    /// One residual block of `kind` under `key`; `downsample` when in and out channels or
    /// resolution differ.
    static func residual(_ g: Graph, _ x: Graph.Value, key: String, kind: BlockKind, planes: Int, stride: Int = 1) -> Graph.Value {
        let inChannels = g.channels(of: x)
        let out = planes * kind.expansion
        var y: Graph.Value
        switch kind {
        case .basic:
            y = g.relu(g.batchNorm(g.conv(x, key: "\(key).conv1", outChannels: planes, kernel: 3, stride: stride), key: "\(key).bn1"))
            y = g.batchNorm(g.conv(y, key: "\(key).conv2", outChannels: planes, kernel: 3), key: "\(key).bn2")
        case .bottleneck:
            y = g.relu(g.batchNorm(g.conv(x, key: "\(key).conv1", outChannels: planes, kernel: 1), key: "\(key).bn1"))
            y = g.relu(g.batchNorm(g.conv(y, key: "\(key).conv2", outChannels: planes, kernel: 3, stride: stride), key: "\(key).bn2"))
            y = g.batchNorm(g.conv(y, key: "\(key).conv3", outChannels: out, kernel: 1), key: "\(key).bn3")
        }
        var residual = x
        if stride != 1 || inChannels != out {
            residual = g.batchNorm(g.conv(x, key: "\(key).downsample.0", outChannels: out, kernel: 1, stride: stride),
                                   key: "\(key).downsample.1")
        }
        return g.relu(g.add(y, residual))
    }

    /// `count` blocks in a row (`<key>.0`, `<key>.1`, ...), the first one changing the shape
    /// (and, with `stride` 2, halving the map: ResNet's `_make_layer`).
    static func sequence(_ g: Graph, _ x: Graph.Value, key: String, kind: BlockKind, planes: Int, count: Int, stride: Int = 1) -> Graph.Value {
        var y = x
        for n in 0..<count { y = residual(g, y, key: "\(key).\(n)", kind: kind, planes: planes, stride: n == 0 ? stride : 1) }
        return y
    }
}
