/// Where a plan's time goes: each step's median over several timed runs (`Plan.profile()` times
/// one), and the same summed per op type. `hrnet bench --profile [--steps]` prints these.
extension Plan {
    /// One step of a profile.
    public struct StepTiming: Sendable {
        /// The op type and implementation, e.g. "convolution 3x3 [jit_fp32_wino_2x3:avx512_core]".
        public let label: String
        /// The step's name: convolutions by their layer's checkpoint key (`stepNames`).
        public let name: String
        /// Median over the runs.
        public let milliseconds: Double
        /// Multiply-adds x 2 (convolutions and linear layers; 0 elsewhere).
        public let gflop: Double
    }

    /// Every step's median time over `runs` runs, in step order.
    public func profile(runs: Int) throws -> [StepTiming] {
        guard runs >= 1 else { throw DNNError.graph("a profile needs at least one run, not \(runs)") }
        var samples = [[Double]](repeating: [], count: stepLabels.count)
        for _ in 0..<runs {
            for (i, t) in try profile().enumerated() { samples[i].append(t) }
        }
        return samples.indices.map { k in
            StepTiming(label: stepLabels[k], name: stepNames[k], milliseconds: samples[k].sorted()[runs / 2] * 1000,
                       gflop: stepFlops[k] / 1e9)
        }
    }

    /// The steps summed per op type (`label`): how many, their median times and GFLOP, the most time first.
    public static func byOperation(_ steps: [StepTiming]) -> [(label: String, steps: Int, milliseconds: Double, gflop: Double)] {
        var sums: [String: (steps: Int, milliseconds: Double, gflop: Double)] = [:]
        for s in steps {
            sums[s.label, default: (0, 0, 0)].steps += 1
            sums[s.label, default: (0, 0, 0)].milliseconds += s.milliseconds
            sums[s.label, default: (0, 0, 0)].gflop += s.gflop
        }
        return sums.map { (label: $0.key, steps: $0.value.steps, milliseconds: $0.value.milliseconds, gflop: $0.value.gflop) }
            .sorted { $0.milliseconds > $1.milliseconds }
    }
}
