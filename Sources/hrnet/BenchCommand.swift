import ArgumentParser
import DNN
import Foundation
import HRNet

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the network: latency, throughput, GFLOP/s against this machine's measured peak, compile time, peak memory.",
        discussion: "Weights are random unless --weights is given (timing does not depend on values)."
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup(title: "Detector (instead of a pose, segmentation or classification model)") var detector: DetectorOptions

    @Option(help: "Images per batch.")
    var batch: Int = 1

    @Option(help: "Input height (default: the config's IMAGE_SIZE).")
    var height: Int?

    @Option(help: "Input width (default: the config's IMAGE_SIZE).")
    var width: Int?

    @Option(help: "Timed runs after the warm-up.")
    var runs: Int = 20

    @Option(help: "Untimed runs first.")
    var warmup: Int = 3

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Flag(help: "Also time every step of --runs more runs and print where the time goes, per op type and implementation.")
    var profile = false

    @Flag(help: "With --profile: also every step in order (its median ms, GFLOP/s, implementation and layer).")
    var steps = false

    @Flag(help: "Time training steps instead (train-mode forward, loss, backward, Adam update) on random data. Under mpirun: --batch per process, gradients summed over the processes.")
    var train = false

    @Flag(name: .customLong("sync-bn"), help: "With --train under mpirun: batch norm over the global batch (SyncBN).")
    var syncBN = false

    func validate() throws {
        guard batch >= 1, runs >= 1, warmup >= 0 else { throw ValidationError("--batch and --runs must be at least 1, --warmup at least 0") }
        if steps && !profile { throw ValidationError("--steps lists the steps of --profile: give both") }
        if let h = height, h < 1 { throw ValidationError("--height must be positive") }
        if let w = width, w < 1 { throw ValidationError("--width must be positive") }
    }

    func run() throws {
        if detector.isGiven { return try runDetector() }
        let net = HRNetModel(config: try model.loadConfig())
        let parameters = model.weights == nil ? net.graph.randomParameters(seed: 0) : try model.load(requireWeights: true).parameters
        func say(_ message: String) { if !json { ProgressBar.say(message + "...") } }
        if train { return try runTraining(net, parameters: consume parameters) }
        if detector.isGiven { return try runDetector() }

        say("measuring this machine's fp32 peak")
        let peak = try Benchmark.peakGFLOPs(threads: compute.threads)
        let bf16Peak = compute.effectivePrecision == .bf16 ? try Benchmark.peakGFLOPs(threads: compute.threads, bf16: true) : nil

        var options = try compute.planOptions(weights: model.weights, graph: net.graph, calibrateIfMissing: true)
        if compute.precision == .int8 && options.int8 == nil {
            say("calibrating int8 on 4 random inputs (the weights carry no calibration table)")
            if !json { warn("int8 ranges from random inputs: the timing holds, the outputs mean nothing") }
            options.int8 = try randomCalibration(net, parameters: parameters)
        }
        say("compiling")
        let start = DispatchTime.now()
        let plan = try net.compile(parameters: consume parameters, batch: batch, height: height, width: width, threads: compute.threads, options: options)
        try plan.execute()
        let firstCall = milliseconds(since: start)

        let times = try Benchmark.time(runs: runs, warmup: warmup, showProgress: !json) { try plan.execute() }
        let sorted = times.sorted()
        let median = sorted[sorted.count / 2]
        let gflop = plan.flops / 1e9
        let result: [(String, Double)] = [
            ("gflop", gflop), ("median_ms", median), ("min_ms", sorted[0]), ("max_ms", sorted[sorted.count - 1]),
            ("images_per_s", Double(batch) * 1000 / median), ("gflops", gflop * 1000 / median),
            ("peak_gflops", peak), ("first_call_ms", firstCall), ("peak_rss_mb", Benchmark.peakRSSMegabytes()),
        ] + (bf16Peak.map { [("peak_bf16_gflops", $0)] } ?? [])
        let stepTimes = profile ? try plan.profile(runs: runs) : []
        let ops = Plan.byOperation(stepTimes)
        if json {
            var body = result.map { "\"\($0.0)\": \(String(format: "%.3f", $0.1))" }.joined(separator: ", ")
            if profile {
                let rows = ops.map { String(format: "{\"op\": \"%@\", \"steps\": %d, \"ms\": %.3f, \"gflop\": %.4f}", $0.label, $0.steps, $0.milliseconds, $0.gflop) }
                body += ", \"profile\": [" + rows.joined(separator: ", ") + "]"
            }
            if steps {
                let rows = stepTimes.enumerated().map { k, t in
                    String(format: "{\"step\": %d, \"op\": \"%@\", \"name\": \"%@\", \"ms\": %.4f, \"gflop\": %.5f}", k, t.label, t.name,
                           t.milliseconds, t.gflop)
                }
                body += ", \"steps\": [" + rows.joined(separator: ", ") + "]"
            }
            print("{\"model\": \"\(net.config.source)\", \"batch\": \(batch), \"threads\": \(plan.threads), \(body)}")
            return
        }
        let s = plan.inputShape
        print("\(net.config.source): input \(s.n)x\(s.c)x\(s.h)x\(s.w), \(plan.threads) threads, \(runs) runs")
        print(String(format: "  %.2f GFLOP   median %.2f ms (min %.2f, max %.2f)   %.1f images/s",
                     gflop, median, sorted[0], sorted[sorted.count - 1], Double(batch) * 1000 / median))
        print(String(format: "  %.0f GFLOP/s = %.0f%% of this machine's measured fp32 peak %.0f GFLOP/s",
                     gflop * 1000 / median, 100 * gflop * 1000 / median / peak, peak))
        if let bf16Peak {
            print(String(format: "  the same large convolution in bf16: %.0f GFLOP/s (%.2fx fp32)", bf16Peak, bf16Peak / peak))
        }
        print(String(format: "  first call (compile + run) %.0f ms   peak RSS %.0f MB", firstCall, Benchmark.peakRSSMegabytes()))
        if profile {
            let total = ops.reduce(0) { $0 + $1.milliseconds }
            print("  where the time goes (ms per run, each step's median over \(runs) profiled runs):")
            for op in ops {
                let rate = op.gflop > 0 ? String(format: "%5.0f GFLOP/s", op.gflop * 1000 / op.milliseconds) : String(repeating: " ", count: 13)
                print(String(format: "  %8.2f %5.1f%%  %4d x  %@  %@", op.milliseconds, 100 * op.milliseconds / total, op.steps, rate, op.label))
            }
            print(String(format: "  %8.2f          total of the steps run one by one", total))
        }
        if steps {
            print("  every step (median ms over \(runs) profiled runs):")
            for (k, t) in stepTimes.enumerated() {
                let rate = t.gflop > 0 ? String(format: "%5.0f GFLOP/s", t.gflop * 1000 / t.milliseconds) : String(repeating: " ", count: 13)
                print(String(format: "  %4d %8.3f  %@  %@  %@", k, t.milliseconds, rate, t.label, t.name))
            }
        }
    }
}

extension BenchCommand {
    /// A calibration table from random inputs, uniform in [-2, 2] like normalized pixels, for timing only.
    func randomCalibration(_ net: HRNetModel, parameters: [String: Tensor]) throws -> QuantizationTable {
        let s = net.inputShape(batch: 1)
        let input = Shape4(1, 3, height ?? s.h, width ?? s.w)
        let calibrator = try Calibrator(graph: net.graph, parameters: parameters, input: input, threads: compute.threads)
        var rng = SplitMix64(seed: 11)
        for _ in 0..<4 {
            var x = Tensor(zeros: input.dims)
            for i in 0..<x.count { x.scalars[i] = rng.nextUnitFloat() * 4 - 2 }
            try calibrator.observe(x)
        }
        return try calibrator.table()
    }
}

/// Timing helpers shared by `bench` and `run`.
enum Benchmark {
    static func time(runs: Int, warmup: Int, showProgress: Bool, _ body: () throws -> Void) throws -> [Double] {
        for _ in 0..<warmup { try body() }
        let progress = ProgressBar("timing", total: runs, unit: "runs", enabled: showProgress)
        var times: [Double] = []
        for _ in 0..<runs {
            let t = DispatchTime.now()
            try body()
            times.append(milliseconds(since: t))
            progress.advance()
        }
        progress.finish()
        return times
    }

    /// Throughput of one large 3x3 convolution (256 -> 256 channels at 64x64): what oneDNN
    /// reaches on this machine, the yardstick for the model's GFLOP/s.
    /// With `bf16`, the same convolution in bf16 (what AVX512-BF16 gives over fp32 on this CPU).
    static func peakGFLOPs(threads: Int?, bf16: Bool = false) throws -> Double {
        try Arithmetic.convolutionGFLOPs(threads: threads, bf16: bf16, runs: 10)
    }

    /// The process's peak resident memory (Linux: VmHWM of /proc/self/status).
    static func peakRSSMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}
