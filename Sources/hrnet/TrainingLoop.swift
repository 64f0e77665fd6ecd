import ArgumentParser
import DNN
import Foundation
import PoseTraining
import Classification
import Segmentation

/// What the epoch loop needs from a trainer, whatever its task.
protocol EpochRun {
    var position: TrainingPosition { get }
    var stepsPerEpoch: Int { get }
    var parameters: ParameterStore { get }
    func learningRate(epoch: Int) -> Float
    /// Trains the next epoch; `onStep` gets each step's loss and rate.
    func trainEpoch(onStep: (Double, Float) -> Void, shouldStop: () -> Bool) throws -> EpochOutcome
    func save(_ url: URL, metadata: [String: String]) throws
}

struct EpochOutcome {
    var completed: Bool
    var meanLoss: Double
    var imagesPerSecond: Double
    var seconds: Double
}

/// The members the three trainers (pose, classification, segmentation) already share, so one
/// adapter serves them all.
protocol EpochTrainer: AnyObject {
    associatedtype Report: EpochSummary
    var position: TrainingPosition { get }
    var stepsPerEpoch: Int { get }
    var plan: TrainingPlan { get }
    func learningRate(epoch: Int) -> Float
    func trainEpoch(onStep: (TrainingStepReport) -> Void, shouldStop: () -> Bool) throws -> Report
    func save(_ url: URL, metadata: [String: String]) throws
}

/// What every trainer's epoch report says.
protocol EpochSummary {
    var completed: Bool { get }
    var meanLoss: Double { get }
    var imagesPerSecond: Double { get }
    var seconds: Double { get }
}

extension PoseTrainer: EpochTrainer {}
extension PoseTrainer.EpochReport: EpochSummary {}
extension ClassificationTrainer: EpochTrainer {}
extension ClassificationTrainer.EpochReport: EpochSummary {}
extension SegmentationTrainer: EpochTrainer {}
extension SegmentationTrainer.EpochReport: EpochSummary {}

/// Any trainer as the epoch loop sees it.
struct TrainerRun<Trainer: EpochTrainer>: EpochRun {
    let trainer: Trainer
    var position: TrainingPosition { trainer.position }
    var stepsPerEpoch: Int { trainer.stepsPerEpoch }
    var parameters: ParameterStore { trainer.plan.parameters }
    func learningRate(epoch: Int) -> Float { trainer.learningRate(epoch: epoch) }
    func trainEpoch(onStep: (Double, Float) -> Void, shouldStop: () -> Bool) throws -> EpochOutcome {
        let r = try trainer.trainEpoch(onStep: { onStep($0.loss, $0.learningRate) }, shouldStop: shouldStop)
        return EpochOutcome(completed: r.completed, meanLoss: r.meanLoss, imagesPerSecond: r.imagesPerSecond, seconds: r.seconds)
    }
    func save(_ url: URL, metadata: [String: String]) throws { try trainer.save(url, metadata: metadata) }
}

/// The epoch loop `hrnet train` runs for every task: train, evaluate every `evalEvery` epochs
/// and at the end (the first metric decides the best weights, kept in best.safetensors),
/// checkpoint atomically after each epoch, log a line, stop cleanly on Ctrl-C, export
/// final.safetensors.
struct TrainingLoop {
    let folder: URL
    let checkpoint: URL
    /// Metric names as logged (the first one is the one kept best), e.g. ["ap"], ["top1", "top5"], ["miou", ...].
    let metrics: [String]
    let endEpoch: Int
    let evalEvery: Int
    let resumed: Bool
    var best: Double

    var bestKey: String { "best_\(metrics[0])" }
    /// How the metric reads in messages.
    var displayName: String { ["ap": "AP", "pckh": "PCKh", "top1": "top-1", "top5": "top-5", "miou": "mIoU"][metrics[0]] ?? metrics[0] }

    init(folder: URL, checkpoint: URL, metrics: [String], endEpoch: Int, evalEvery: Int, resumed: Bool, best: Double) {
        (self.folder, self.checkpoint, self.metrics, self.endEpoch, self.evalEvery, self.resumed, self.best) =
            (folder, checkpoint, metrics, endEpoch, evalEvery, resumed, best)
    }

    /// - Parameter evaluate: the metrics (in `metrics` order) of the current weights after an epoch.
    func run(_ run: EpochRun, evaluate: (Int) throws -> [Double]) throws {
        var best = self.best
        let log = try TrainingLog(directory: folder, append: resumed, metrics: metrics, best: bestKey)
        let stop = StopSignal()
        while run.position.epoch < endEpoch {
            let epoch = run.position.epoch
            // A run stopped inside this epoch goes on with its next batch.
            let from = run.position.epochStep
            let bar = Progress("epoch \(epoch + 1)/\(endEpoch)" + (from > 0 ? " from step \(from + 1)" : ""),
                               total: run.stepsPerEpoch - from, unit: "steps")
            let report = try run.trainEpoch(onStep: { loss, lr in
                bar.advance(note: String(format: "loss %.6f, lr %.2g", loss, lr))
            }, shouldStop: { stop.requested })
            bar.finish()
            if !report.completed {
                try run.save(checkpoint, metadata: [bestKey: "\(best)"])
                Progress.say("stopped during epoch \(epoch + 1); saved \(checkpoint.path) (resume with --resume)")
                throw ExitCode(130)
            }
            var values: [Double] = []
            if evalEvery > 0, (epoch + 1) % evalEvery == 0 || epoch + 1 == endEpoch {
                values = try evaluate(epoch)
                if let score = values.first, score > best {
                    best = score
                    try TrainingCheckpoint.exportWeights(run.parameters, to: folder.appendingPathComponent("best.safetensors"), overwrite: true)
                }
            }
            try run.save(checkpoint, metadata: [bestKey: "\(best)"])
            try log.append(epoch: epoch + 1, loss: report.meanLoss, learningRate: Double(run.learningRate(epoch: epoch)),
                           imagesPerSecond: report.imagesPerSecond, seconds: report.seconds,
                           metrics: metrics.indices.map { $0 < values.count ? values[$0] : nil }, best: best >= 0 ? best : nil)
            Progress.say(String(format: "epoch %d: loss %.6f, %.1f images/s", epoch + 1, report.meanLoss, report.imagesPerSecond)
                         + (values.first.map { String(format: ", %@ %.4f (best %.4f)", displayName, $0, best) } ?? ""))
            if stop.requested {
                Progress.say("stopped after epoch \(epoch + 1); saved \(checkpoint.path) (resume with --resume)")
                throw ExitCode(130)
            }
        }
        try TrainingCheckpoint.exportWeights(run.parameters, to: folder.appendingPathComponent("final.safetensors"), overwrite: true)
        print("trained to epoch \(endEpoch): \(folder.appendingPathComponent("final.safetensors").path)"
              + (best >= 0 ? String(format: ", best %@ %.4f in best.safetensors", displayName, best) : ""))
    }
}

/// Ctrl-C asks the run to stop at the next step (a second Ctrl-C ends the process at once).
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    private let source: DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [unowned self] in
            self.lock.lock()
            let again = self.flag
            self.flag = true
            self.lock.unlock()
            if again { exit(130) }
            FileHandle.standardError.write(Data("\nhrnet: stopping after this step (Ctrl-C again to quit now)\n".utf8))
        }
        source.resume()
    }

    var requested: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}

/// One line per epoch in log.jsonl and log.csv (appended on resume; each rewrite is atomic).
/// Columns: epoch, loss, lr, images_per_s, seconds, the task's metrics, the best first metric.
struct TrainingLog {
    let jsonl: URL, csv: URL
    let columns: [String]

    init(directory: URL, append: Bool, metrics: [String], best: String) throws {
        jsonl = directory.appendingPathComponent("log.jsonl")
        csv = directory.appendingPathComponent("log.csv")
        columns = ["epoch", "loss", "lr", "images_per_s", "seconds"] + metrics + [best]
        if !append || !FileManager.default.fileExists(atPath: csv.path) {
            try writeAtomically(Data(), to: jsonl)
            try writeAtomically(Data((columns.joined(separator: ",") + "\n").utf8), to: csv)
        }
    }

    func append(epoch: Int, loss: Double, learningRate: Double, imagesPerSecond: Double, seconds: Double, metrics: [Double?], best: Double?) throws {
        func number(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "null" } ?? "null" }
        let values = [String(epoch), number(loss), number(learningRate), number(imagesPerSecond), number(seconds)]
            + metrics.map(number) + [number(best)]
        let json = "{" + zip(columns, values).map { "\"\($0)\": \($1)" }.joined(separator: ", ") + "}\n"
        let row = values.map { $0 == "null" ? "" : $0 }.joined(separator: ",") + "\n"
        for (url, text) in [(jsonl, json), (csv, row)] {
            let old = (try? Data(contentsOf: url)) ?? Data()
            try writeAtomically(old + Data(text.utf8), to: url)
        }
    }
}
