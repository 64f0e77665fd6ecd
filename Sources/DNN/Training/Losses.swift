import Foundation

/// A loss value and its gradient with respect to the prediction.
public struct LossValue: Sendable {
    public var loss: Double
    public var gradient: Tensor
    /// What the loss is a mean over (labelled pixels' weights for cross-entropy; 1 where every
    /// batch of a shape has the same count): data-parallel processes weight by it (`BatchLoss`).
    public var units: Double
    public init(loss: Double, gradient: Tensor, units: Double = 1) { (self.loss, self.gradient, self.units) = (loss, gradient, units) }
}

/// The official pose loss (deep-high-resolution-net.pytorch `JointsMSELoss`): for each joint,
/// 0.5 x the mean over batch and pixels of (w * (prediction - target))^2, averaged over the
/// joints; w is the joint's target weight (visibility) when `useTargetWeight`.
/// So loss = 0.5 / (N J P) * sum (w (o - t))^2 and d/do = w^2 (o - t) / (N J P).
public struct JointsMSELoss: Sendable {
    public var useTargetWeight: Bool
    public init(useTargetWeight: Bool = true) { self.useTargetWeight = useTargetWeight }

    /// - Parameters:
    ///   - output, target: heatmaps (N, J, H, W).
    ///   - targetWeight: (N, J) or (N, J, 1) weights; required when `useTargetWeight`.
    public func callAsFunction(_ output: Tensor, target: Tensor, targetWeight: Tensor?) throws -> LossValue {
        guard output.rank == 4, target.shape == output.shape else {
            throw DNNError.loss("JointsMSELoss: heatmaps \(output.shape) and target \(target.shape) must both be (N, J, H, W)")
        }
        let (n, j) = (output.shape[0], output.shape[1])
        let p = output.shape[2] * output.shape[3]
        var weights = [Float](repeating: 1, count: n * j)
        if useTargetWeight {
            guard let tw = targetWeight, tw.count == n * j, tw.shape.first == n else {
                throw DNNError.loss("JointsMSELoss: target weight \(targetWeight?.shape.description ?? "missing") must be (\(n), \(j)) or (\(n), \(j), 1)")
            }
            weights = tw.scalars
        }
        let scale = 1 / Double(n * j * p)
        var total = 0.0
        var gradient = Tensor(zeros: output.shape)
        for k in 0..<(n * j) {
            let w = weights[k], w2 = w * w
            let gScale = Float(Double(w2) * scale)
            var sum: Double = 0
            for i in (k * p)..<((k + 1) * p) {
                let d = output.scalars[i] - target.scalars[i]
                let wd = Double(w * d)
                sum += wd * wd
                gradient.scalars[i] = gScale * d
            }
            total += sum
        }
        return LossValue(loss: 0.5 * total * scale, gradient: gradient)
    }
}

/// Online hard keypoint mining (the official `JointsOHKMMSELoss`, LOSS.USE_OHKM): per image,
/// each joint's loss 0.5 x mean over pixels of (w (o - t))^2, the `topK` largest summed and
/// divided by `topK`, then averaged over the batch. Only the chosen joints get a gradient,
/// w^2 (o - t) / (P topK N).
public struct JointsOHKMMSELoss: Sendable {
    public var useTargetWeight: Bool
    public var topK: Int
    public init(useTargetWeight: Bool = true, topK: Int = 8) { (self.useTargetWeight, self.topK) = (useTargetWeight, topK) }

    public func callAsFunction(_ output: Tensor, target: Tensor, targetWeight: Tensor?) throws -> LossValue {
        guard output.rank == 4, target.shape == output.shape else {
            throw DNNError.loss("JointsOHKMMSELoss: heatmaps \(output.shape) and target \(target.shape) must both be (N, J, H, W)")
        }
        let (n, j, p) = (output.shape[0], output.shape[1], output.shape[2] * output.shape[3])
        guard (1...j).contains(topK) else { throw DNNError.loss("JointsOHKMMSELoss: top-k \(topK) must be 1...\(j) (the joints)") }
        var weights = [Float](repeating: 1, count: n * j)
        if useTargetWeight {
            guard let tw = targetWeight, tw.count == n * j, tw.shape.first == n else {
                throw DNNError.loss("JointsOHKMMSELoss: target weight \(targetWeight?.shape.description ?? "missing") must be (\(n), \(j)) or (\(n), \(j), 1)")
            }
            weights = tw.scalars
        }
        var perJoint = [Double](repeating: 0, count: n * j)
        for k in 0..<(n * j) {
            let w = Double(weights[k])
            var sum = 0.0
            for i in (k * p)..<((k + 1) * p) {
                let d = w * Double(output.scalars[i] - target.scalars[i])
                sum += d * d
            }
            perJoint[k] = 0.5 * sum / Double(p)
        }
        var total = 0.0
        var gradient = Tensor(zeros: output.shape)
        let gScale = 1 / Double(p * topK * n)
        for b in 0..<n {
            // The topK hardest joints of this image (ties: the lower index first).
            let hardest = (0..<j).sorted { perJoint[b * j + $0] != perJoint[b * j + $1] ? perJoint[b * j + $0] > perJoint[b * j + $1] : $0 < $1 }
                .prefix(topK)
            for joint in hardest {
                let k = b * j + joint
                total += perJoint[k]
                let w2 = Double(weights[k] * weights[k])
                for i in (k * p)..<((k + 1) * p) {
                    gradient.scalars[i] = Float(w2 * gScale * Double(output.scalars[i] - target.scalars[i]))
                }
            }
        }
        return LossValue(loss: total / Double(topK) / Double(n), gradient: gradient)
    }
}

/// Mean squared error over every element (PyTorch's `nn.MSELoss()`): mean (o - t)^2, gradient 2 (o - t) / count.
public struct MSELoss: Sendable {
    public init() {}
    public func callAsFunction(_ output: Tensor, target: Tensor) throws -> LossValue {
        guard output.shape == target.shape, output.count > 0 else {
            throw DNNError.loss("MSELoss: prediction \(output.shape) and target \(target.shape) differ or are empty")
        }
        var total = 0.0
        var gradient = Tensor(zeros: output.shape)
        let scale = 2 / Float(output.count)
        for i in 0..<output.count {
            let d = output.scalars[i] - target.scalars[i]
            total += Double(d) * Double(d)
            gradient.scalars[i] = scale * d
        }
        return LossValue(loss: total / Double(output.count), gradient: gradient)
    }
}

/// Per-pixel softmax cross-entropy over (N, C, H, W) logits and (N, H, W) labels, as PyTorch's
/// `nn.CrossEntropyLoss(weight:, ignore_index: 255, label_smoothing:)` (the official segmentation
/// `CrossEntropy`; for classification, logits (N, C, 1, 1) and one label per image):
/// sum_i w[y_i] (-log p_i[y_i]) / sum_i w[y_i] over pixels whose label is not ignored.
/// With label smoothing e (PyTorch's formula, aten LossNLL.cpp cross_entropy_loss_label_smoothing):
/// (1 - e) x that + e / C x sum_i sum_c w[c] (-log p_i[c]) / sum_i w[y_i].
public struct CrossEntropyLoss: Sendable {
    public var ignoreIndex: Int32
    /// One weight per class (e.g. the official Cityscapes class weights); nil for 1.
    public var classWeights: [Float]?
    /// The share of the target spread evenly over all classes, 0..<1 (0.1 in the usual ImageNet recipes).
    public var labelSmoothing: Float

    public init(ignoreIndex: Int32 = 255, classWeights: [Float]? = nil, labelSmoothing: Float = 0) {
        self.ignoreIndex = ignoreIndex
        self.classWeights = classWeights
        self.labelSmoothing = labelSmoothing
    }

    /// - Parameter labels: N*H*W class indices (row-major), `ignoreIndex` for unlabelled pixels.
    public func callAsFunction(_ logits: Tensor, labels: [Int32]) throws -> LossValue {
        guard labelSmoothing >= 0, labelSmoothing < 1 else {
            throw DNNError.loss("CrossEntropyLoss: label smoothing \(labelSmoothing) must be within 0..<1")
        }
        let pixels = try Softmax(logits, labels: labels, ignoreIndex: ignoreIndex, classWeights: classWeights, loss: "CrossEntropyLoss")
        let kept = pixels.indices.filter { pixels.label($0) != nil }
        return pixels.loss(over: kept, normalizer: kept.reduce(0.0) { $0 + pixels.weight($1) }, smoothing: Double(labelSmoothing))
    }
}

/// The official segmentation `OhemCrossEntropy` (online hard example mining): among labelled
/// pixels, keep those whose probability of the true class is below
/// max(threshold, the `minKept`-th smallest such probability), so at least `minKept` pixels
/// count; the loss is the plain mean of their (class-weighted) cross-entropies.
public struct OHEMCrossEntropyLoss: Sendable {
    public var ignoreIndex: Int32
    public var threshold: Float
    public var minKept: Int
    public var classWeights: [Float]?

    public init(ignoreIndex: Int32 = 255, threshold: Float = 0.7, minKept: Int = 100_000, classWeights: [Float]? = nil) {
        self.ignoreIndex = ignoreIndex
        self.threshold = threshold
        self.minKept = max(1, minKept)
        self.classWeights = classWeights
    }

    public func callAsFunction(_ logits: Tensor, labels: [Int32]) throws -> LossValue {
        let pixels = try Softmax(logits, labels: labels, ignoreIndex: ignoreIndex, classWeights: classWeights, loss: "OHEMCrossEntropyLoss")
        let labelled = pixels.indices.filter { pixels.label($0) != nil }
        guard !labelled.isEmpty else { return pixels.loss(over: [], normalizer: 0) }
        let probabilities = labelled.map { pixels.trueProbability($0) }.sorted()
        let cut = max(probabilities[min(minKept, probabilities.count - 1)], threshold)
        let kept = labelled.filter { pixels.trueProbability($0) < cut }
        return pixels.loss(over: kept, normalizer: Double(kept.count))
    }
}

/// Softmax probabilities of per-pixel logits, shared by the cross-entropy losses.
struct Softmax {
    let shape: [Int]
    let classes: Int
    let planeSize: Int
    /// Probabilities in the logits' (N, C, H, W) order.
    var p: [Double]
    let labels: [Int32]
    let ignoreIndex: Int32
    let classWeights: [Float]?

    init(_ logits: Tensor, labels: [Int32], ignoreIndex: Int32, classWeights: [Float]?, loss: String) throws {
        guard logits.rank == 4 else { throw DNNError.loss("\(loss): logits must be (N, C, H, W), got \(logits.shape)") }
        shape = logits.shape
        classes = shape[1]
        planeSize = shape[2] * shape[3]
        let pixels = shape[0] * planeSize
        guard labels.count == pixels else {
            throw DNNError.loss("\(loss): \(labels.count) labels for \(pixels) pixels (logits \(shape), labels must be N*H*W)")
        }
        if let w = classWeights, w.count != classes {
            throw DNNError.loss("\(loss): \(w.count) class weights for \(classes) classes")
        }
        let c = shape[1]
        if let bad = labels.first(where: { $0 != ignoreIndex && ($0 < 0 || Int($0) >= c) }) {
            throw DNNError.loss("\(loss): label \(bad) is neither a class (0..<\(classes)) nor the ignore index \(ignoreIndex)")
        }
        self.labels = labels
        self.ignoreIndex = ignoreIndex
        self.classWeights = classWeights
        p = [Double](repeating: 0, count: logits.count)
        for i in 0..<pixels {
            let (n, q) = (i / planeSize, i % planeSize)
            var m = -Double.infinity
            for c in 0..<classes { m = max(m, Double(logits.scalars[(n * classes + c) * planeSize + q])) }
            var sum = 0.0
            for c in 0..<classes {
                let e = exp(Double(logits.scalars[(n * classes + c) * planeSize + q]) - m)
                p[(n * classes + c) * planeSize + q] = e
                sum += e
            }
            for c in 0..<classes { p[(n * classes + c) * planeSize + q] /= sum }
        }
    }

    var indices: Range<Int> { 0..<(shape[0] * planeSize) }
    func label(_ i: Int) -> Int? { labels[i] == ignoreIndex ? nil : Int(labels[i]) }
    func weight(_ i: Int) -> Double { Double(classWeights?[label(i) ?? 0] ?? 1) }
    func index(_ i: Int, _ c: Int) -> Int { (i / planeSize * classes + c) * planeSize + i % planeSize }
    func trueProbability(_ i: Int) -> Float { Float(p[index(i, label(i)!)]) }

    /// sum over `pixels` of w (-log p_y) / normalizer, and its gradient w (p - onehot) / normalizer.
    /// With `smoothing` e: (1 - e) x that + e / C x sum over `pixels` and classes c of
    /// w_c (-log p_c) / normalizer, whose gradient per pixel is e / C (W p - w) with W = sum_c w_c.
    func loss(over pixels: [Int], normalizer: Double, smoothing e: Double = 0) -> LossValue {
        var gradient = Tensor(zeros: shape)
        guard normalizer > 0 else { return LossValue(loss: 0, gradient: gradient, units: 0) }
        let classWeight = (0..<classes).map { Double(classWeights?[$0] ?? 1) }
        let weightSum = classWeight.reduce(0, +), spread = e / Double(classes)
        var total = 0.0, smooth = 0.0
        for i in pixels {
            let y = label(i)!, w = weight(i)
            total += w * -log(max(p[index(i, y)], .leastNormalMagnitude))
            for c in 0..<classes {
                let k = index(i, c)
                var g = (1 - e) * w * (p[k] - (c == y ? 1 : 0))
                if e > 0 {
                    smooth += classWeight[c] * -log(max(p[k], .leastNormalMagnitude))
                    g += spread * (weightSum * p[k] - classWeight[c])
                }
                gradient.scalars[k] = Float(g / normalizer)
            }
        }
        return LossValue(loss: ((1 - e) * total + spread * smooth) / normalizer, gradient: gradient, units: normalizer)
    }
}
