import Benchmark
import HRNet

/// The main inference cases, random weights (timing does not depend on values), 2 threads
/// as the project's reference machine. Each measures `Plan.execute`, compile excluded.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .peakMemoryResident], warmupIterations: 3,
                                           maxDuration: .seconds(10), maxIterations: 50)

    let cases: [(String, Int, Plan.Options)] = [
        ("pose_w32_256x192", 1, .init()), ("pose_w32_256x192", 8, .init()),
        ("pose_w32_256x192", 1, .init(bf16: true)),
        ("pose_w48_384x288", 1, .init()), ("seg_w48_cityscapes", 1, .init()),
    ]
    for (preset, batch, options) in cases {
        let name = "\(preset) batch \(batch) \(options.bf16 ? "bf16" : "fp32")"
        Benchmark(name) { (benchmark: Benchmark, plan: Plan) in
            do {
                for _ in benchmark.scaledIterations { try plan.execute() }
            } catch {
                benchmark.error("\(error)")
            }
        } setup: {
            if options.bf16 && !hasNativeBF16 { throw GraphError("no AVX512-BF16") }
            let model = HRNetModel(config: try Presets.config(named: preset))
            return try model.compile(parameters: model.graph.randomParameters(), batch: batch, threads: 2, options: options)
        }
    }
}
