import Foundation

/// Which arithmetic pays on this CPU: bf16 convolutions (AVX512-BF16 or AMX) are about twice as
/// fast as fp32 on some CPUs (a Zen 5 class EPYC) and slower on others (an Intel Xeon without AMX
/// measured 147 against 234 GFLOP/s), so `--precision auto` measures instead of guessing.
public enum Arithmetic {
    /// bf16 must beat fp32 by this factor to be chosen (it costs ~1e-2 relative accuracy).
    public static let bf16Advantage = 1.25

    /// GFLOP/s of one large 3x3 convolution (256 -> 256 channels at 64x64, direct) in fp32 or
    /// bf16: what oneDNN reaches here, median of `runs` after two warm-ups.
    public static func convolutionGFLOPs(threads: Int?, bf16: Bool, runs: Int = 5) throws -> Double {
        let g = Graph()
        g.outputs = [g.conv(g.input(channels: 256), key: "c", outChannels: 256, kernel: 3)]
        var options = Plan.Options.direct
        options.bf16 = bf16
        let plan = try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(1, 256, 64, 64), threads: threads, options: options)
        for _ in 0..<2 { try plan.execute() }
        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let start = DispatchTime.now()
            try plan.execute()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
        }
        return plan.flops / 1e9 / times.sorted()[times.count / 2]
    }

    nonisolated(unsafe) private static var measured: [Int: Double?] = [:]
    private static let lock = NSLock()

    /// bf16 throughput over fp32 on this CPU (nil: no native bf16), measured once per process
    /// and thread count (~0.1 s).
    public static func bf16Speedup(threads: Int?) throws -> Double? {
        guard hasNativeBF16 else { return nil }
        let key = threads ?? 0
        lock.lock()
        defer { lock.unlock() }
        if let known = measured[key] { return known }
        let speedup = try convolutionGFLOPs(threads: threads, bf16: true) / convolutionGFLOPs(threads: threads, bf16: false)
        measured[key] = speedup
        return speedup
    }

    /// Whether `auto` precision means bf16 here: native bf16 at least `bf16Advantage` x fp32.
    public static func prefersBF16(threads: Int?) -> Bool {
        guard let s = try? bf16Speedup(threads: threads) else { return false }
        return s >= bf16Advantage
    }
}
