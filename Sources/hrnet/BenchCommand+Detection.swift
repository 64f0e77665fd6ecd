import ArgumentParser
import DNN
import Detection
import Foundation
import Imaging

extension BenchCommand {
    /// `hrnet bench --detector PRESET_OR_CONFIG ...`: one photo-sized input (default 1333x800, mmdet's test
    /// scale) through the whole detector, and the network's parts.
    func runDetector() throws {
        func say(_ message: String) { if !json { ProgressBar.say(message + "...") } }
        var (spec, parameters, _) = try Detector.resolve(config: detector.config.map { URL(fileURLWithPath: $0) }, preset: detector.preset,
                                                         weights: detector.weights.map { URL(fileURLWithPath: $0) },
                                                         randomWeights: detector.weights == nil)
        if detector.weights == nil, !json { warn("random weights (classification biases at mmdet's 0.01 prior): the timing holds, the boxes mean nothing") }
        say("measuring this machine's fp32 peak")
        let peak = try Benchmark.peakGFLOPs(threads: compute.threads)
        // A smooth synthetic photo: the network's cost depends only on the size.
        let (w, h) = (width ?? 1333, height ?? 800)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { pixels[(y * w + x) * 3 + c] = UInt8((x * (c + 1) + y * (3 - c)) % 256) } } }
        let image = try Image(width: w, height: h, pixels: pixels)
        say("timing \(runs) runs")
        let t = try Detector.benchmark(spec: spec, parameters: parameters, image: image, runs: runs, warmup: warmup, threads: compute.threads)
        parameters = [:]
        let twoStage = if case .fasterRCNN = spec.head { true } else { false }
        let name = detector.model ?? detector.weights ?? "detector"
        let rows: [(String, Double)] = [("median_ms", t.total), ("backbone_ms", t.backbone), ("neck_ms", t.neck), ("head_ms", t.head),
                                        ("other_ms", t.other), ("gflop", t.gflop), ("gflops", t.gflop * 1000 / (t.backbone + t.neck + t.head)),
                                        ("peak_gflops", peak), ("peak_rss_mb", Benchmark.peakRSSMegabytes()),
                                        ("preprocessing_ms", t.phases.preprocessing), ("network_ms", t.phases.network),
                                        ("decoding_ms", t.phases.decoding), ("roi_pooling_ms", t.phases.roiPooling),
                                        ("box_decoding_ms", t.phases.boxDecoding)]
        if json {
            let body = rows.map { "\"\($0.0)\": \(String(format: "%.3f", $0.1))" }.joined(separator: ", ")
            print("{\"model\": \"\(name)\", \"input\": \"\(t.input)\", \"threads\": \(compute.threads ?? Threads.available), \(body)}")
            return
        }
        print("\(name): image \(w)x\(h) -> input \(t.input), \(compute.threads ?? Threads.available) threads, \(runs) runs, \(t.detections) detections")
        print(String(format: "  detect: median %.1f ms; backbone %.1f + neck %.1f + head %.1f (their plans alone), the rest %.1f (pre/post-processing%@, per call)",
                     t.total, t.backbone, t.neck, t.head, t.other, !twoStage ? "" : ", RoI pooling, box head"))
        print(String(format: "  per call (mean): preprocessing %.1f, network %.1f, decoding %.1f%@ ms",
                     t.phases.preprocessing, t.phases.network, t.phases.decoding,
                     !twoStage ? "" : String(format: ", RoI pooling %.1f, box decoding %.1f", t.phases.roiPooling, t.phases.boxDecoding)))
        print(String(format: "  network %.1f GFLOP (%.1f GMAC) at %.0f GFLOP/s = %.0f%% of this machine's measured fp32 peak %.0f GFLOP/s",
                     t.gflop, t.gflop / 2, t.gflop * 1000 / (t.backbone + t.neck + t.head), 100 * t.gflop * 1000 / (t.backbone + t.neck + t.head) / peak, peak))
        print(String(format: "  peak RSS %.0f MB", Benchmark.peakRSSMegabytes()))
    }
}
