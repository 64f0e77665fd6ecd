import DNN
import Foundation
import HRNet
import Imaging

/// Top-down pose estimation as the official code runs it at test time: each person box is
/// widened to the network's aspect ratio and padded by 1.25, cropped with the official affine
/// transform, normalized, run through HRNet (with the mirrored crop too when flip testing),
/// and the heatmaps are decoded and mapped back to the image.
///
/// ```swift
/// let estimator = try PoseEstimator(config: Presets.config(named: "pose_w32_256x192"),
///                                   weights: URL(fileURLWithPath: "pose_hrnet_w32_256x192.pth"))
/// let image = try Image.load(URL(fileURLWithPath: "photo.jpg"))
/// for person in try estimator.estimate(image: image, boxes: [PersonBox(x: 40, y: 20, width: 120, height: 300)]) {
///     print(person.score, person.keypoints.map { ($0.x, $0.y, $0.score) })
/// }
/// ```
///
/// Crops of many boxes and many images go through the network together, `batchSize` at a
/// time. The estimator compiles a plan per network batch size it needs (see `networkBatch`)
/// and keeps the three most recent.
public final class PoseEstimator {
    public struct Options: Sendable {
        /// Average with the heatmaps of the mirrored crop (TEST.FLIP_TEST).
        public var flipTest: Bool
        /// Shift the flipped heatmaps one pixel right (TEST.SHIFT_HEATMAP, true in the official configs).
        public var shiftHeatmap = true
        public var decoding: HeatmapDecoder.Method = .standard
        /// People per network run (with flip test the network sees twice as many crops).
        public var batchSize = 8
        /// Joints above this score count in the re-score (TEST.IN_VIS_THRE).
        public var visibilityThreshold = 0.2
        /// OKS-NMS over the people of one image (TEST.OKS_THRE); nil keeps every person.
        public var nmsThreshold: Double? = 0.9
        /// Soft OKS-NMS (TEST.SOFT_NMS) instead of the hard one, at `nmsThreshold`.
        public var softNMS = false
        /// Box padding around the person (the official 1.25).
        public var padding = 1.25
        public var threads: Int?
        public var plan = Plan.Options()
        /// Compiled plans kept (one per network batch size; a server with flip test on and off
        /// uses up to 2 log2(batchSize) + 2).
        public var planCapacity = 3

        public init(flipTest: Bool = true) { self.flipTest = flipTest }

        /// The official test as the config's TEST keys set it.
        public init(config: HRNetConfig) {
            flipTest = config.flipTest
            let t = config.poseTest
            shiftHeatmap = t.shiftHeatmap
            decoding = t.blurKernel.map { .dark(kernel: $0) } ?? (t.postProcess ? .standard : .argmax)
            visibilityThreshold = t.visibilityThreshold
            nmsThreshold = t.oksThreshold < 1 ? t.oksThreshold : nil
            softNMS = t.softNMS
        }
    }

    public let config: HRNetConfig
    public let keypoints: KeypointSet
    public var options: Options
    /// Compiled plans by network batch size, the three most recent kept (threads and plan
    /// options as `options` had them when the estimator was made).
    private let plans: PlanCache
    /// Seconds spent in the network (plan compiles and runs) since this estimator was made;
    /// the rest of a caller's time is decoding, cropping and post-processing.
    public private(set) var networkSeconds = 0.0
    /// Told after each network batch of `estimate` (crops done, crops of the call): an image with
    /// a thousand people runs for a while, and a caller can show it.
    public var cropsDone: ((_ done: Int, _ total: Int) -> Void)?
    /// The part of `networkSeconds` spent compiling plans, and how many were compiled.
    public var compileSeconds: Double { plans.compileSeconds }
    public var compiledPlans: Int { plans.compiled }

    /// Network input and heatmap sizes (width, height).
    public var inputSize: (width: Int, height: Int) { config.imageSize }

    /// - Parameter keypoints: the joints' names, flip pairs and skeleton; COCO's 17 by default.
    public init(config: HRNetConfig, parameters: [String: Tensor], keypoints: KeypointSet? = nil, options: Options? = nil) throws {
        guard config.task == .pose, let joints = config.numJoints else {
            throw PoseError("\(config.source) is a \(config.task.rawValue) model; pose estimation needs MODEL.NAME pose_hrnet, pose_resnet or pose_hourglass")
        }
        let options = options ?? Options(config: config)
        let set = keypoints ?? (joints == KeypointSet.coco.count ? .coco : .unnamed(joints))
        guard set.count == joints else {
            throw PoseError("the keypoint definition has \(set.count) keypoints, the model \(config.source) predicts \(joints)")
        }
        if keypoints == nil && joints != KeypointSet.coco.count && options.flipTest {
            throw PoseError("\(config.source) predicts \(joints) keypoints, not COCO's 17: flip test needs their left/right pairs "
                            + "(give a keypoint definition, or turn flip test off)")
        }
        self.config = config
        self.keypoints = set
        self.options = options
        // A stacked hourglass returns one heatmap set per stack: the test reads the last (config.outputIndex).
        let graph = HRNetModel(config: config).graph
        graph.outputs = [graph.outputs[config.outputIndex]]
        plans = try PlanCache(graph: graph, parameters: parameters, threads: options.threads,
                              options: options.plan, capacity: options.planCapacity)
    }

    /// Loads `weights` (.pth or .safetensors) for `config`; every key must match.
    public convenience init(config: HRNetConfig, weights: URL, keypoints: KeypointSet? = nil, options: Options? = nil) throws {
        let (parameters, _) = try HRNetModel(config: config).loadWeights(weights)
        try self.init(config: config, parameters: parameters, keypoints: keypoints, options: options)
    }

    /// The people in `image`, one per box (the whole image when `boxes` is nil), re-scored and,
    /// when `options.nmsThreshold` is set, with OKS-NMS applied; best first.
    public func estimate(image: Image, boxes: [PersonBox]? = nil) throws -> [Person] {
        try estimate([(image, boxes ?? [.whole(width: image.width, height: image.height)])])[0]
    }

    /// Many images at once: crops of all of them share network runs. One result list per image.
    public func estimate(_ items: [(image: Image, boxes: [PersonBox])]) throws -> [[Person]] {
        var jobs: [(item: Int, box: PersonBox)] = []
        for (i, item) in items.enumerated() {
            for (b, box) in item.boxes.enumerated() {
                if let why = box.problem(imageWidth: item.image.width, imageHeight: item.image.height) {
                    throw PoseError("box \(b) of image \(i) \(why)")
                }
                jobs.append((i, box))
            }
        }
        var people = [[Person]](repeating: [], count: items.count)
        try forEachCrop(of: jobs.map { (items[$0.item].image, $0.box) }) { j, heatmaps, index, crop in
            people[jobs[j].item].append(person(heatmaps, index: index, crop: crop, box: jobs[j].box))
        }
        return people.map(finish)
    }

    /// Each box's crop through the network, `batchSize` boxes a run (boxes of different images
    /// share runs); `body` is given, in order, each box's place in `boxes`, its run's heatmaps,
    /// its index among them and its crop. `cropsDone` is told after each run.
    public func forEachCrop(of boxes: [(image: Image, box: PersonBox)],
                            _ body: (_ box: Int, _ heatmaps: Tensor, _ index: Int, _ crop: PersonCrop) throws -> Void) throws {
        var start = 0
        while start < boxes.count {
            let chunk = start..<min(start + max(1, options.batchSize), boxes.count)
            let crops = chunk.map { crop(for: boxes[$0].box) }
            let heatmaps = try self.heatmaps(zip(chunk, crops).map { (boxes[$0.0].image, $0.1) })
            for (k, (b, crop)) in zip(chunk, crops).enumerated() { try body(b, heatmaps, k, crop) }
            start = chunk.upperBound
            cropsDone?(start, boxes.count)
        }
    }

    /// The person in heatmap `index` of a batch of `crop`s: keypoints decoded and mapped back to
    /// the image, re-scored by the box score and the confident joints.
    public func person(_ heatmaps: Tensor, index: Int, crop: PersonCrop, box: PersonBox) -> Person {
        let joints = HeatmapDecoder.decode(heatmaps, image: index, crop: crop, method: options.decoding)
        var person = Person(keypoints: joints, score: box.score, area: crop.scale.w * crop.scale.h * 200 * 200, crop: crop, box: box)
        person.score = OKS.rescore(person, boxScore: box.score, threshold: options.visibilityThreshold)
        return person
    }

    /// One image's people as `estimate` returns them: OKS-NMS (when `options.nmsThreshold`), best first.
    public func finish(_ found: [Person]) -> [Person] {
        guard let t = options.nmsThreshold else { return found.sorted { $0.score > $1.score } }
        let keep = options.softNMS ? OKS.softNMS(found, threshold: t, sigmas: keypoints.sigmas)
            : OKS.nms(found, threshold: t, sigmas: keypoints.sigmas)
        return keep.map { found[$0] }
    }

    /// The crop for a box: widened to the input's aspect ratio, padded.
    public func crop(for box: PersonBox) -> PersonCrop {
        PersonCrop(box: box.x, box.y, box.width, box.height,
                   aspectRatio: Double(inputSize.width) / Double(inputSize.height), padding: options.padding)
    }

    /// Heatmaps (N, joints, H/4, W/4) of crops, flip-test averaged when the options say so.
    public func heatmaps(_ crops: [(image: Image, crop: PersonCrop)]) throws -> Tensor {
        let (w, h) = inputSize
        let n = crops.count, plane = 3 * h * w
        // Plans are compiled for a few batch sizes only (the full batch, or a power of two
        // under it); a smaller chunk runs padded with blank crops, whose outputs are dropped.
        let padded = Self.networkBatch(for: n, batchSize: max(options.batchSize, n))
        let copies = options.flipTest ? 2 : 1
        let bgr = !config.colorRGB
        var input = Tensor(zeros: [padded * copies, 3, h, w])
        input.scalars.withUnsafeMutableBufferPointer { buffer in
            let base = UnsafeSendablePointer(buffer.baseAddress!)
            // Crops are independent: prepare them on all cores.
            DispatchQueue.concurrentPerform(iterations: n) { i in
                let (image, crop) = crops[i]
                let pixels = image.warpAffine(crop.transform(width: w, height: h).m, width: w, height: h)
                    .normalizedCHW(mean: Self.mean, std: Self.std, bgr: bgr)
                let plain = base.pointer + i * plane
                pixels.withUnsafeBufferPointer { plain.update(from: $0.baseAddress!, count: plane) }
                if copies == 2 {
                    // The mirrored crop, as the official code flips the normalized input.
                    let mirrored = base.pointer + (padded + i) * plane
                    for row in 0..<(3 * h) {
                        for x in 0..<w { mirrored[row * w + x] = plain[row * w + w - 1 - x] }
                    }
                }
            }
        }
        let started = DispatchTime.now()
        let output = try plan(batch: padded * copies).run(input)[0]
        networkSeconds += Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let map = output.count / output.shape[0]
        func images(from first: Int) -> Tensor {
            Tensor(shape: [n] + output.shape.dropFirst(), scalars: Array(output.scalars[(first * map)..<((first + n) * map)]))
        }
        guard copies == 2 else { return images(from: 0) }
        return FlipTest.average(images(from: 0), FlipTest.flipBack(images(from: padded), pairs: keypoints.flipPairs, shift: options.shiftHeatmap))
    }

    /// The batch a chunk of `count` crops runs at: `batchSize` when full, else the next power
    /// of two (at most `batchSize`), so a stream of images compiles at most log2(batchSize) + 1 plans.
    static func networkBatch(for count: Int, batchSize: Int) -> Int {
        guard count < batchSize else { return count }
        var p = 1
        while p < count { p *= 2 }
        return min(p, batchSize)
    }

    /// ImageNet statistics, as the official pose code normalizes (RGB).
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    public static let std: [Float] = [0.229, 0.224, 0.225]

    private func plan(batch: Int) throws -> Plan {
        try plans.plan(for: Shape4(batch, 3, config.imageSize.height, config.imageSize.width))
    }
}

/// A pointer that may cross into `concurrentPerform` (each iteration writes its own rows).
struct UnsafeSendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}

/// A pose request that cannot be carried out; says which box or model and why.
public struct PoseError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
