import DNN
import Foundation
import Imaging

/// Where a detector's time goes on one image: the whole `detect` call, and the network split
/// into backbone, neck and dense head (each timed as a plan of the graph up to it), and the rest:
/// pre- and post-processing (and, for Faster R-CNN, RoI pooling and the box head) per call.
public struct DetectorTiming: Sendable {
    /// Medians in milliseconds.
    public var total, backbone, neck, head, other: Double
    /// Multiply-adds x 2 of the dense network, and of the box head at the RoIs the image gave.
    public var gflop: Double
    public var input: Shape4
    public var detections: Int
    /// The detector's own phases, per call (ms): preprocessing, network, decoding, RoI pooling, box decoding.
    public var phases: Detector.Timing
}

extension Detector {
    /// Times `detect` on `image` (`runs` after `warmup`), and the network's parts on its input.
    public static func benchmark(spec: DetectorSpec, parameters: [String: Tensor], image: Image, runs: Int, warmup: Int,
                                 threads: Int?) throws -> DetectorTiming {
        func median(_ body: () throws -> Void) rethrows -> Double {
            for _ in 0..<warmup { try body() }
            var times: [Double] = []
            for _ in 0..<runs {
                let t = ContinuousClock.now
                try body()
                let d = (ContinuousClock.now - t).components
                times.append((Double(d.seconds) + Double(d.attoseconds) * 1e-18) * 1000)
            }
            return times.sorted()[times.count / 2]
        }
        let detector = try Detector(spec: spec, parameters: parameters, options: .init(threads: threads))
        var found: [Detection] = []
        let total = try median { found = try detector.detect(image) }
        let calls = Double(warmup + runs)
        var phases = detector.timing
        for path in [\Detector.Timing.preprocessing, \.network, \.decoding, \.roiPooling, \.boxHead, \.boxDecoding] { phases[keyPath: path] *= 1000 / calls }
        let (input, _) = try spec.preprocessing.input([image])
        var parts: [Double] = []
        var gflop = 0.0
        for output in [DetectorModel.Output.backbone, .neck, .head] {
            let model = DetectorModel(spec: spec, output: output)
            let plan = try Plan(graph: model.graph, parameters: try model.bind(parameters), input: Shape4(input.shape)!, threads: threads)
            parts.append(try median { try plan.execute() })
            gflop = plan.flops / 1e9
        }
        if let head = detector.model.boxHead, let rois = detector.lastRoICount {
            gflop += try head.flops(input: Shape4((rois + 63) / 64 * 64, head.channels(of: head.inputValue!), 7, 7)) / 1e9
        }
        // The rest as the detect calls measured it (their phases besides the network), not the
        // total less the parts' plans timed apart: this VM's speed drifts between the two timings
        // by more than the rest takes (it came out negative).
        let other = phases.preprocessing + phases.decoding + phases.roiPooling + phases.boxHead + phases.boxDecoding
        return DetectorTiming(total: total, backbone: parts[0], neck: parts[1] - parts[0], head: parts[2] - parts[1],
                              other: other, gflop: gflop, input: Shape4(input.shape)!, detections: found.count,
                              phases: phases)
    }
}
