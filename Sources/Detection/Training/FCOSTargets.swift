import Foundation

/// A ground-truth object of a training image: its box in the network input's pixels and its
/// class index (0-based, the head's channel).
public struct GroundTruthBox: Sendable, Equatable {
    public var box: BoundingBox
    public var label: Int
    public init(box: BoundingBox, label: Int) { (self.box, self.label) = (box, label) }
}

/// What FCOS learns at each point of each level (mmdet's `FCOSHead.get_targets`): a point is
/// positive for the smallest-area box that contains it (or, with centre sampling, whose centre
/// region contains it) and whose largest distance from the point lies in the level's regress
/// range; its targets are that box's class and the distances left, top, right, bottom.
public struct FCOSTargets: Sendable {
    /// mmdet's FCOS defaults: ((-1, 64), (64, 128), (128, 256), (256, 512), (512, 1e8)).
    public static let defaultRegressRanges: [(Float, Float)] = [(-1, 64), (64, 128), (128, 256), (256, 512), (512, 1e8)]

    public struct Options: Sendable {
        public var regressRanges: [(Float, Float)] = FCOSTargets.defaultRegressRanges
        /// Centre sampling (`center_sampling=True`): positives only within `radius` x stride of the box centre.
        public var centerSampling = false
        public var centerSampleRadius: Float = 1.5
        /// Distances divided by the level's stride (`norm_on_bbox`).
        public var normOnBox = false
        public init() {}
    }

    /// Per level, per image, per point (row-major over the level's map): the class, or nil for background.
    public var labels: [[[Int?]]]
    /// Per level, per image, per point: left, top, right, bottom (meaningful for positives).
    public var distances: [[[SIMD4<Float>]]]

    /// Targets of a batch: `boxes[n]` are image n's objects; `sizes[l]` the (height, width) of level l's map.
    public init(boxes: [[GroundTruthBox]], sizes: [(h: Int, w: Int)], strides: [Int], options: Options = Options()) throws {
        guard sizes.count == strides.count, options.regressRanges.count >= strides.count else {
            throw DetectionError.training("FCOS targets: \(sizes.count) levels, \(strides.count) strides and "
                                         + "\(options.regressRanges.count) regress ranges")
        }
        var labels: [[[Int?]]] = [], distances: [[[SIMD4<Float>]]] = []
        for (l, size) in sizes.enumerated() {
            let stride = Float(strides[l]), range = options.regressRanges[l]
            var levelLabels: [[Int?]] = [], levelDistances: [[SIMD4<Float>]] = []
            for image in boxes {
                var imageLabels = [Int?](repeating: nil, count: size.h * size.w)
                var imageDistances = [SIMD4<Float>](repeating: .zero, count: size.h * size.w)
                let areas = image.map { $0.box.width * $0.box.height }
                for y in 0..<size.h {
                    for x in 0..<size.w {
                        // Points sit at the centres of the level's cells.
                        let px = (Float(x) + 0.5) * stride, py = (Float(y) + 0.5) * stride
                        var best: (area: Float, index: Int)?
                        for (k, object) in image.enumerated() {
                            let b = object.box
                            let d = SIMD4<Float>(px - b.x1, py - b.y1, b.x2 - px, b.y2 - py)
                            let inside: Bool
                            if options.centerSampling {
                                inside = Self.insideCenter(px, py, box: b, radius: stride * options.centerSampleRadius)
                            } else {
                                inside = d.min() > 0
                            }
                            let reach = d.max()
                            guard inside, reach >= range.0, reach <= range.1 else { continue }
                            // The smallest box wins; the first of equal areas (torch.min's index).
                            if best == nil || areas[k] < best!.area { best = (areas[k], k) }
                        }
                        if let best {
                            let b = image[best.index].box, p = y * size.w + x
                            imageLabels[p] = image[best.index].label
                            var d = SIMD4<Float>(px - b.x1, py - b.y1, b.x2 - px, b.y2 - py)
                            if options.normOnBox { d /= stride }
                            imageDistances[p] = d
                        }
                    }
                }
                levelLabels.append(imageLabels)
                levelDistances.append(imageDistances)
            }
            labels.append(levelLabels)
            distances.append(levelDistances)
        }
        (self.labels, self.distances) = (labels, distances)
    }

    /// mmdet's centre sampling: the point lies in the box centre +- radius, clipped to the box.
    static func insideCenter(_ px: Float, _ py: Float, box b: BoundingBox, radius: Float) -> Bool {
        let cx = (b.x1 + b.x2) / 2, cy = (b.y1 + b.y2) / 2
        let x1 = max(cx - radius, b.x1), y1 = max(cy - radius, b.y1), x2 = min(cx + radius, b.x2), y2 = min(cy + radius, b.y2)
        return min(px - x1, py - y1, x2 - px, y2 - py) > 0
    }

    /// Positive points over the whole batch.
    public var positives: Int { labels.reduce(0) { $0 + $1.reduce(0) { $0 + $1.reduce(0) { $0 + ($1 == nil ? 0 : 1) } } } }

    /// The centerness targets of the positives, summed (the box loss's normalizer).
    public var centernessSum: Double {
        var total = 0.0
        for (l, level) in labels.enumerated() {
            for (n, image) in level.enumerated() {
                for (p, label) in image.enumerated() where label != nil { total += Double(Self.centerness(distances[l][n][p])) }
            }
        }
        return total
    }

    /// FCOS's centerness target of distances: sqrt(min(l, r) / max(l, r) x min(t, b) / max(t, b)).
    public static func centerness(_ d: SIMD4<Float>) -> Float {
        let lr = min(d[0], d[2]) / max(d[0], d[2]), tb = min(d[1], d[3]) / max(d[1], d[3])
        return (lr * tb).squareRoot()
    }
}

