import ArgumentParser
import Collectives
import DNN
import Foundation
import HRNet

extension BenchCommand {
    /// `hrnet bench --train`: full training steps (forward in train mode, loss, backward, Adam
    /// update) on random data of the model's shape, after the warm-up.
    func runTraining(_ net: HRNetModel, parameters: consuming [String: Tensor]) throws {
        let base = net.inputShape(batch: batch)
        let input = Shape4(batch, 3, height ?? base.h, width ?? base.w)
        if !json { ProgressBar.say("compiling the training plan...") }
        let start = DispatchTime.now()
        if compute.precision == .bf16 {  // auto trains in fp32
            throw ValidationError("--train runs fp32 only (oneDNN 2.6's bf16 convolutions measured slower than fp32 here)")
        }
        let options: TrainingPlan.Options
        switch compute.convolution {
        case .auto: options = TrainingPlan.Options()
        case .direct: options = .direct
        case .winograd: options = TrainingPlan.Options(winograd: true, winogradMinimumPixels: 1, winogradMinimumChannels: 1)
        }
        // Under mpirun: --batch per process, gradients summed over the processes after each backward (timed apart).
        let job = try MPIJob()
        let world = job.world
        let trainer = try TrainingPlan(graph: net.graph, parameters: consume parameters, input: input, threads: job.threads(compute.threads),
                                       options: options, synchronizeBatchNorm: world.size > 1 && syncBN ? world : nil)
        let compileMs = milliseconds(since: start)
        var rng = SplitMix64(seed: 1)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() * 2 - 1 })
        }
        let x = random(input.dims)
        /// A loss for an output of shape `out`: random targets (heatmaps, or labels at its size).
        func makeLoss(_ out: Shape4) -> (Tensor) throws -> LossValue {
            switch net.config.task {
            case .pose:
                let target = Tensor(shape: out.dims, scalars: random(out.dims).scalars.map { abs($0) })
                let weight = Tensor(shape: [out.n, out.c, 1], repeating: 1)
                return { try JointsMSELoss()($0, target: target, targetWeight: weight) }
            default:
                let labels = (0..<(out.n * out.h * out.w)).map { _ in Int32(rng.next() % UInt64(out.c)) }
                return { try CrossEntropyLoss()($0, labels: labels) }
            }
        }
        // One loss per output (HRNet-OCR's aux and main; U-Net's at half and full size; each hourglass stack).
        let losses = trainer.outputShapes.map(makeLoss)
        let adam = Adam(learningRate: 1e-4)
        var outside: [String: Double] = [:]
        var allReduceMs: [Double] = []
        func step() throws {
            let outputs = try trainer.forward(x)
            var t = DispatchTime.now()
            let gradients = try zip(outputs, losses).map { try $1($0).gradient }
            outside["loss [swift]", default: 0] += milliseconds(since: t)
            try trainer.backward(gradients)
            if world.size > 1 {
                t = DispatchTime.now()
                try trainer.parameters.combineGradients(over: world, share: 1 / Double(world.size), averageStatistics: !syncBN)
                let ms = milliseconds(since: t)
                outside["all-reduce [mpi]", default: 0] += ms
                allReduceMs.append(ms)
            }
            t = DispatchTime.now()
            adam.update(trainer.parameters)
            outside["adam [swift]", default: 0] += milliseconds(since: t)
        }
        let firstStart = DispatchTime.now()
        try step()
        let firstStepMs = milliseconds(since: firstStart)
        if profile { trainer.profile = [:]; outside = [:] }
        let cpuStart = processCPUMilliseconds()
        let times = try Benchmark.time(runs: runs, warmup: warmup, showProgress: !json, step)
        // CPU time of all threads per step: on a machine shared with other work, wall time
        // swings with the load while this mostly does not (OpenMP spin-waits do count).
        let cpuPerStep = (processCPUMilliseconds() - cpuStart) / Double(runs + warmup)
        if profile, var totals = trainer.profile {
            totals.merge(outside) { $0 + $1 }
            let all = totals.values.reduce(0, +)
            let floor = trainer.profileFloor
            let floorAll = floor.values.reduce(0, +)
            FileHandle.standardError.write(Data("    mean ms/step          floor ms/step (sum of each step's fastest run)\n".utf8))
            for (k, v) in totals.sorted(by: { $0.value > $1.value }) {
                let f = floor[k] ?? v / Double(runs + warmup)
                FileHandle.standardError.write(Data(String(format: "%8.1f %5.1f%%   %8.1f %5.1f%%  %@\n", v / Double(runs + warmup), 100 * v / all,
                                                           f, 100 * f / floorAll, k).utf8))
            }
            FileHandle.standardError.write(Data(String(format: "%8.1f          %8.1f         total\n", all / Double(runs + warmup), floorAll).utf8))
        }
        // The slowest process sets the pace: every process's median, the largest, on the first.
        let sorted = times.sorted()
        let median = try world.allReduceMax(sorted[sorted.count / 2])
        guard job.isRoot else { return }
        let processes = world.size, globalBatch = batch * processes
        let gflop = 3 * trainer.flops * Double(processes) / 1e9
        let allReduce = allReduceMs.isEmpty ? 0 : allReduceMs.sorted()[allReduceMs.count / 2]
        let result: [(String, Double)] = [("processes", Double(processes)), ("all_reduce_ms", allReduce),
                                          ("gradient_mb", Double(trainer.parameters.count) * 4 / 1e6)] + [
            ("median_ms", median), ("min_ms", sorted[0]), ("max_ms", sorted[sorted.count - 1]),
            ("images_per_s", Double(globalBatch) * 1000 / median), ("gflops", gflop * 1000 / median),
            ("compile_ms", compileMs), ("first_step_ms", firstStepMs), ("arena_mb", Double(trainer.arenaBytes) / 1e6),
            ("peak_rss_mb", Benchmark.peakRSSMegabytes()), ("cpu_ms_per_step", cpuPerStep),
        ]
        if json {
            let body = result.map { "\"\($0.0)\": \(String(format: "%.3f", $0.1))" }.joined(separator: ", ")
            print("{\"model\": \"\(net.config.source)\", \"mode\": \"train\", \"batch\": \(batch), \"threads\": \(trainer.threads), \(body)}")
            return
        }
        print("\(net.config.source) training: input \(input), \(trainer.threads) threads, \(runs) steps (forward, loss, backward, Adam)"
              + (processes > 1 ? ", \(processes) processes (global batch \(globalBatch))" : ""))
        print(String(format: "  median %.0f ms per step (min %.0f, max %.0f)   %.2f images/s   ~%.0f GFLOP/s (3x forward FLOP)",
                     median, sorted[0], sorted[sorted.count - 1], Double(globalBatch) * 1000 / median, gflop * 1000 / median))
        if processes > 1 {
            print(String(format: "  all-reduce of %.1f MB of gradients: median %.1f ms per step (not overlapped with backward)",
                         Double(trainer.parameters.count) * 4 / 1e6, allReduce))
        }
        print(String(format: "  compile %.0f ms, first step %.0f ms   arena %.0f MB   peak RSS %.0f MB   CPU %.0f ms per step",
                     compileMs, firstStepMs, Double(trainer.arenaBytes) / 1e6, Benchmark.peakRSSMegabytes(), cpuPerStep))
    }

    /// User plus system CPU time of the whole process so far (every thread).
    private func processCPUMilliseconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func ms(_ t: timeval) -> Double { Double(t.tv_sec) * 1000 + Double(t.tv_usec) / 1000 }
        return ms(usage.ru_utime) + ms(usage.ru_stime)
    }
}
