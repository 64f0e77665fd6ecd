import DNN
import Foundation
import Imaging

/// Object detection as mmdetection runs it at test time (`inference_detector`): the image
/// resized to fit the config's scale, normalized and padded, the network, and the head's
/// post-processing (threshold, top-k, box decoding, class-aware NMS), boxes in the original
/// image's pixels.
///
/// ```swift
/// let detector = try Detector.load(weights: URL(fileURLWithPath: "fcos_hrnetv2p_w18.pth"))  // config from its meta
/// for d in try detector.detect(Image.load(URL(fileURLWithPath: "photo.jpg"))) where d.score > 0.3 {
///     print(detector.spec.classes[d.label], d.score, d.box)
/// }
/// ```
///
/// Plans are compiled per input shape (photos of one size share one) and the three most
/// recent kept. Not for concurrent use: make one per thread.
public final class Detector {
    public struct Options: Sendable {
        public var threads: Int?
        public var plan = Plan.Options()
        public init(threads: Int? = nil, plan: Plan.Options = .init()) { (self.threads, self.plan) = (threads, plan) }
    }

    public let spec: DetectorSpec
    public let model: DetectorModel
    private let plans: PlanCache
    /// Faster R-CNN's box head, by the number of RoIs (rounded up to a multiple of 64).
    private let boxHeadPlans: PlanCache?
    private let threads: Int
    /// Seconds spent in each phase since this detector was made (plan compiles count as network).
    public struct Timing: Sendable {
        /// Resize, normalize, pad.
        public var preprocessing = 0.0
        /// The dense network, and Faster R-CNN's box head.
        public var network = 0.0
        /// Dense post-processing: FCOS's decoding and NMS, or the RPN's proposals and NMS.
        public var decoding = 0.0
        /// Faster R-CNN: RoIAlign of the proposals.
        public var roiPooling = 0.0
        /// Faster R-CNN: the box head's network (also counted in `network`).
        public var boxHead = 0.0
        /// Faster R-CNN: the box head's softmax, per-class decoding and NMS.
        public var boxDecoding = 0.0
        /// The box refiner (`refiner`): its crops, network and decoding.
        public var refinement = 0.0
        public var total: Double { preprocessing + network + decoding + roiPooling + boxDecoding + refinement }
    }
    public private(set) var timing = Timing()
    public var networkSeconds: Double { timing.network }
    public var otherSeconds: Double { timing.total - timing.network }
    public var compileSeconds: Double { plans.compileSeconds }
    public var compiledPlans: Int { plans.compiled }
    /// RoIs of the last Faster R-CNN call (all its images).
    public private(set) var lastRoICount: Int?
    /// A second stage for the people this detector finds (the embedded person detector's,
    /// `DefaultDetector.refiner`): their boxes refined after NMS. Nil: the detections as the head
    /// decodes them.
    public var refiner: BoxRefiner?

    /// `parameters` by mmdetection's keys; every key of the model must be there, of its shape
    /// (an error names `source` and every missing, unexpected or mis-shaped key).
    public init(spec: DetectorSpec, parameters: [String: Tensor], source: String = "parameters", options: Options = .init()) throws {
        self.spec = spec
        model = DetectorModel(spec: spec)
        let bound = try model.bind(parameters, source: source)
        plans = try PlanCache(graph: model.graph, parameters: bound, threads: options.threads, options: options.plan)
        boxHeadPlans = try model.boxHead.map { try PlanCache(graph: $0, parameters: bound, threads: options.threads, options: options.plan) }
        threads = max(1, options.threads ?? Threads.available)
    }

    /// Loads mmdetection's checkpoint (`{'meta', 'state_dict'}` in .pth, or .safetensors).
    public convenience init(spec: DetectorSpec, weights: URL, options: Options = .init()) throws {
        try self.init(spec: spec, parameters: try Checkpoint.loadFloat(weights), source: weights.lastPathComponent, options: options)
    }

    /// The objects in one image, best first.
    public func detect(_ image: Image) throws -> [Detection] {
        try detect([image])[0]
    }

    /// The objects in each image; the images run as one network batch (each padded to the
    /// batch's largest size, as mmdet batches them).
    public func detect(_ images: [Image]) throws -> [[Detection]] {
        guard !images.isEmpty else { return [] }
        var clock = ContinuousClock.now
        func lap() -> Double {
            let now = ContinuousClock.now
            defer { clock = now }
            let d = (now - clock).components
            return Double(d.seconds) + Double(d.attoseconds) * 1e-18
        }
        let (batch, geometry) = try spec.preprocessing.input(images)
        timing.preprocessing += lap()
        let outputs = try plans.run(batch)
        timing.network += lap()
        let found: [[Detection]]
        switch spec.head {
        case .fcos(let head):
            let levels = stride(from: 0, to: outputs.count, by: 3).map { (outputs[$0], outputs[$0 + 1], outputs[$0 + 2]) }
            found = geometry.indices.map { FCOSDecoder.decode(levels: levels, image: $0, spec: head, geometry: geometry[$0]) }
            timing.decoding += lap()
        case .fasterRCNN(let head):
            found = try twoStage(outputs, geometry: geometry, spec: head, lap: lap)
        }
        guard let refiner, let person = spec.classes.firstIndex(of: "person") else { return found }
        defer { timing.refinement += lap() }
        return try refiner.refine(found, in: images, label: person)
    }

    /// Proposals from the RPN, their pooled features through the box head (all images' RoIs in
    /// one run), then each image's detections.
    private func twoStage(_ outputs: [Tensor], geometry: [ImageGeometry], spec: FasterRCNNSpec, lap: () -> Double) throws -> [[Detection]] {
        let features = Array(outputs.prefix(spec.roiStrides.count))
        let rest = outputs.dropFirst(spec.roiStrides.count)
        let levels = stride(from: rest.startIndex, to: rest.endIndex, by: 2).map { (rest[$0], rest[$0 + 1]) }
        let proposals = geometry.indices.map { FasterRCNNDecoder.proposals(levels: levels, image: $0, spec: spec, geometry: geometry[$0]) }
        let rois = proposals.enumerated().flatMap { n, list in list.map { (batch: n, box: $0.box) } }
        lastRoICount = rois.count
        timing.decoding += lap()
        guard !rois.isEmpty, let boxHeadPlans else { return geometry.map { _ in [] } }
        // Pad the RoI batch to a multiple of 64 so a few plans serve every count.
        let batch = FasterRCNNDecoder.pool(features: features, rois: rois, spec: spec, threads: threads, paddedTo: (rois.count + 63) / 64 * 64,
                                           channelsLast: true)
        timing.roiPooling += lap()
        let head = try boxHeadPlans.run(batch)
        let boxHead = lap()
        timing.network += boxHead
        timing.boxHead += boxHead
        defer { timing.boxDecoding += lap() }
        var start = 0
        return proposals.enumerated().map { n, list in
            defer { start += list.count }
            return FasterRCNNDecoder.detections(classLogits: head[0], deltas: head[1], rows: start..<(start + list.count),
                                                rois: list.map(\.box), spec: spec, geometry: geometry[n])
        }
    }
}

extension Detector {
    /// The people in an image for top-down pose, as MMPose's demo picks them from a
    /// detector: class "person" scoring above `threshold` (MMPose: 0.3; FCOS scores are
    /// class x centerness probabilities and run lower than a softmax's), then, unless nil,
    /// one more NMS over them at `nmsThreshold` (MMPose: 0.3).
    public func people(in image: Image, threshold: Float = 0.3, nmsThreshold: Float? = 0.3) throws -> [Detection] {
        guard let person = spec.classes.firstIndex(of: "person") else {
            throw DetectionError("the detector has no 'person' class (its classes: \(spec.classes.prefix(5).joined(separator: ", ")), ...)")
        }
        let found = try detect(image).filter { $0.label == person && $0.score > threshold && $0.box.width > 0 && $0.box.height > 0 }
        guard let nmsThreshold else { return found }
        return NMS.suppress(found.map(\.box), scores: found.map(\.score), iouThreshold: nmsThreshold).map { found[$0] }
    }
}
