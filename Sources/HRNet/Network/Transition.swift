import DNN

/// Between stages: keeps each existing stream (a conv3x3 + BN + ReLU at `<key>.i.{0,1}` only
/// where its width changes) and derives each new, lower-resolution stream from the lowest
/// existing one by stride-2 conv3x3 + BN + ReLU steps (`<key>.i.j.{0,1}`).
enum Transition {
    static func build(_ g: Graph, key: String, streams: [Graph.Value], to channels: [Int]) -> [Graph.Value] {
        var out: [Graph.Value] = []
        for (i, c) in channels.enumerated() {
            if i < streams.count {
                let x = streams[i]
                if g.channels(of: x) == c { out.append(x); continue }
                out.append(g.relu(g.batchNorm(g.conv(x, key: "\(key).\(i).0", outChannels: c, kernel: 3), key: "\(key).\(i).1")))
            } else {
                var y = streams[streams.count - 1]
                let steps = i + 1 - streams.count
                for j in 0..<steps {
                    let width = j == steps - 1 ? c : g.channels(of: y)
                    y = g.relu(g.batchNorm(g.conv(y, key: "\(key).\(i).\(j).0", outChannels: width, kernel: 3, stride: 2),
                                           key: "\(key).\(i).\(j).1"))
                }
                out.append(y)
            }
        }
        return out
    }
}
