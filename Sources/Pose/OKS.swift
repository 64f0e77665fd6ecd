import Foundation

/// A detected person: keypoints, a score and the area used for OKS (official: the crop's
/// scale w * h * 200^2).
public struct Person: Equatable, Sendable {
    public var keypoints: [Keypoint]
    public var score: Double
    public var area: Double
    public var crop: PersonCrop?
    /// The detection the person was cropped from.
    public var box: PersonBox?
    public init(keypoints: [Keypoint], score: Double, area: Double, crop: PersonCrop? = nil, box: PersonBox? = nil) {
        (self.keypoints, self.score, self.area, self.crop, self.box) = (keypoints, score, area, crop, box)
    }
}

/// Object keypoint similarity and the NMS built on it, as the official pose code computes them.
public enum OKS {
    /// OKS of `a` against `b`: mean over joints of exp(-d^2 / (2 s^2 k^2)) with s^2 the mean
    /// area. Joints are counted where `b`'s score is above `visibility` (when given): the
    /// official oks_iou writes `list(vg > t) and list(vd > t)`, which in Python is the second
    /// list alone.
    public static func similarity(_ a: Person, _ b: Person, sigmas: [Double], visibility: Double? = nil) -> Double {
        var sum = 0.0, count = 0
        let area = (a.area + b.area) / 2 + Double.ulpOfOne
        for (j, (p, q)) in zip(a.keypoints, b.keypoints).enumerated() {
            if let t = visibility, !(q.score > t) { continue }
            let v = pow(sigmas[j] * 2, 2)
            let e = ((q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y)) / v / area / 2
            sum += exp(-e)
            count += 1
        }
        return count == 0 ? 0 : sum / Double(count)
    }

    /// Greedy NMS: keep the best-scoring person, drop every other with OKS > `threshold`, repeat.
    /// Returns the kept indices, best first. Ties keep the later index first (numpy's
    /// argsort()[::-1]).
    public static func nms(_ people: [Person], threshold: Double, sigmas: [Double], visibility: Double? = nil) -> [Int] {
        var order = people.indices.sorted { people[$0].score != people[$1].score ? people[$0].score > people[$1].score : $0 > $1 }
        var keep: [Int] = []
        while let i = order.first {
            keep.append(i)
            order = order.dropFirst().filter { similarity(people[i], people[$0], sigmas: sigmas, visibility: visibility) <= threshold }
        }
        return keep
    }

    /// Soft OKS-NMS (the official soft_oks_nms, TEST.SOFT_NMS): keep the best person, lower
    /// every other score by exp(-oks^2 / threshold) (Gaussian decay), re-sort, repeat; at most
    /// `maxDetections` (20, COCO's keypoint maxDets) are kept. Returns the kept indices in the
    /// order kept; the people keep their own scores. Ties keep the later index first.
    public static func softNMS(_ people: [Person], threshold: Double, sigmas: [Double], visibility: Double? = nil,
                               maxDetections: Int = 20) -> [Int] {
        func ranked(_ items: [(index: Int, score: Double)]) -> [(index: Int, score: Double)] {
            items.sorted { $0.score != $1.score ? $0.score > $1.score : $0.index > $1.index }
        }
        var order = ranked(people.indices.map { ($0, people[$0].score) })
        var keep: [Int] = []
        while let first = order.first, keep.count < maxDetections {
            keep.append(first.index)
            order = ranked(order.dropFirst().map { item in
                let oks = similarity(people[first.index], people[item.index], sigmas: sigmas, visibility: visibility)
                return (item.index, item.score * exp(-oks * oks / threshold))
            })
        }
        return keep
    }

    /// The official re-scoring: box score x mean of the joint scores above `threshold` (0.2).
    public static func rescore(_ p: Person, boxScore: Double, threshold: Double = 0.2) -> Double {
        let visible = p.keypoints.map(\.score).filter { $0 > threshold }
        return (visible.isEmpty ? 0 : visible.reduce(0, +) / Double(visible.count)) * boxScore
    }
}
