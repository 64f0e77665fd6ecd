import Collectives
import FileSupport
import Foundation

/// What every trainer (pose, classification, segmentation, and the ones to come) offers the
/// epoch loop: where it stands, how to train an epoch, and how to save itself.
public protocol EpochTrainer: AnyObject {
    associatedtype Report: EpochSummary
    var position: TrainingPosition { get }
    var stepsPerEpoch: Int { get }
    var plan: TrainingPlan { get }
    /// The processes training together (one by default); only the first writes files.
    var communicator: any Communicator { get }
    func learningRate(epoch: Int) -> Float
    /// Trains the next epoch (or what is left of it); stops early when `shouldStop` says so.
    func trainEpoch(onStep: (TrainingStepReport) -> Void, shouldStop: () -> Bool) throws -> Report
    func save(_ url: URL, metadata: [String: String]) throws
    /// The class names the outputs stand for, kept in the exported weights (nil: none).
    var classNames: [String]? { get }
}

extension EpochTrainer {
    public var classNames: [String]? { nil }
}

extension EpochTrainer where Self: SessionTrainer {
    public var classNames: [String]? { session.classes }
}

/// What every trainer's epoch report says.
public protocol EpochSummary {
    var completed: Bool { get }
    var meanLoss: Double { get }
    var imagesPerSecond: Double { get }
    var seconds: Double { get }
}

/// The epoch loop of a training run, the same for every task: train, evaluate every
/// `evalEvery` epochs and at the end (the first metric decides the best weights, exported to
/// best.safetensors), checkpoint atomically after each epoch (and when stopped inside one),
/// one log line per epoch (log.jsonl, log.csv), final.safetensors at the end. The caller
/// hears about each step and epoch through `Observer` and asks for a stop through it
/// (`hrnet train` wires Ctrl-C and progress bars to it).
///
/// ```swift
/// let runner = EpochRunner(folder: out, metrics: ["top1", "top5"], endEpoch: 10, evalEvery: 1)
/// let outcome = try runner.run(trainer) { epoch in [try trainer.evaluate(val).top1] }
/// ```
public struct EpochRunner {
    public let folder: URL
    public let checkpoint: URL
    /// Metric names as logged (the first one is the one kept best), e.g. ["ap"], ["top1", "top5"], ["miou", ...].
    public let metrics: [String]
    public let endEpoch: Int
    /// Evaluate after every this many epochs (and after the last); 0: never.
    public let evalEvery: Int
    /// Append to the run's logs instead of starting them.
    public var resumed: Bool
    /// The best first metric so far (a resumed run's), -1 for none.
    public var best: Double
    /// Also checkpoint inside epochs: after every this many steps, and when this many seconds
    /// passed since the last checkpoint (a killed run then loses at most that much work; an
    /// epoch on COCO is hours). nil: only at epoch ends (and when stopped).
    public var checkpointEverySteps: Int?
    public var checkpointEverySeconds: Double? = 600

    /// Hooks for a caller that shows progress or stops runs; all optional.
    public struct Observer {
        /// An epoch starts at `fromStep` of `steps` batches.
        public var epochStarted: (_ epoch: Int, _ fromStep: Int, _ steps: Int) -> Void = { _, _, _ in }
        public var step: (TrainingStepReport) -> Void = { _ in }
        /// After training an epoch (before evaluation and the checkpoint).
        public var epochTrained: () -> Void = {}
        /// After the epoch's checkpoint and log line: its loss, images/s and metrics (empty when not evaluated).
        public var epochFinished: (_ epoch: Int, _ loss: Double, _ imagesPerSecond: Double, _ metrics: [Double], _ best: Double) -> Void = { _, _, _, _, _ in }
        /// Asked before every step and after every epoch.
        public var shouldStop: () -> Bool = { false }
        public init() {}
    }

    public enum Outcome: Equatable {
        /// Trained to `endEpoch`; final.safetensors written.
        case finished(best: Double)
        /// Stopped by the observer; the checkpoint holds where (resume from it).
        case stopped(epoch: Int, insideEpoch: Bool)
    }

    public init(folder: URL, checkpoint: URL? = nil, metrics: [String], endEpoch: Int, evalEvery: Int, resumed: Bool = false, best: Double = -1) {
        precondition(!metrics.isEmpty, "a run needs at least one metric name")
        (self.folder, self.metrics, self.endEpoch, self.evalEvery, self.resumed, self.best) = (folder, metrics, endEpoch, evalEvery, resumed, best)
        self.checkpoint = checkpoint ?? folder.appendingPathComponent("checkpoint.json")
    }

    /// The metadata key a checkpoint keeps the best first metric under (e.g. "best_ap").
    public var bestKey: String { "best_\(metrics[0])" }

    /// Continues the run saved at `url`: the trainer takes its weights, optimizer state and
    /// position; this loop its best score so far, and it appends to the run's logs.
    /// - Returns: the checkpoint's metadata.
    @discardableResult
    public mutating func resume<T: SessionTrainer>(_ trainer: T, from url: URL) throws -> [String: String] {
        let saved = try trainer.resume(url)
        best = Double(saved[bestKey] ?? "") ?? -1
        resumed = true
        return saved
    }

    /// Runs `trainer` to `endEpoch`. `evaluate` gives the metrics (in `metrics` order) of the
    /// current weights after epoch `epoch`.
    ///
    /// Data parallel: every process runs this loop; `evaluate` is called on all of them and must
    /// give every process the same metrics; only the first process writes checkpoints, logs and
    /// weights, and a stop asked of any process stops all after the same step or epoch.
    public func run<T: EpochTrainer>(_ trainer: T, observer: Observer = Observer(), evaluate: (Int) throws -> [Double]) throws -> Outcome {
        var best = self.best
        let communicator = trainer.communicator
        let writes = communicator.isRoot
        if writes {
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw FileWriteError(folder, "the run's folder cannot be created (\(error.localizedDescription))")
            }
        }
        let log = writes ? try TrainingLog(directory: folder, append: resumed, metrics: metrics, best: bestKey) : nil
        if resumed, let log {
            let saved = (try? TrainingCheckpoint.progress(of: checkpoint))?.metadata
            let pending = saved.flatMap { m in m["log_csv"].flatMap { csv in m["log_json"].map { (json: $0, csv: csv) } } }
            try log.reconcile(finishedEpochs: trainer.position.epoch, pending: pending)
        }
        func stopAfterEpoch() throws -> Bool {
            let local = observer.shouldStop()
            return communicator.size > 1 ? try communicator.allReduceMax(local ? 1 : 0) > 0 : local
        }
        var saveFailure: Error?
        while trainer.position.epoch < endEpoch {
            let epoch = trainer.position.epoch
            // A run stopped inside this epoch goes on with its next batch.
            let from = trainer.position.epochStep
            observer.epochStarted(epoch, from, trainer.stepsPerEpoch)
            var lastSave = DispatchTime.now()
            let report = try trainer.trainEpoch(onStep: { step in
                observer.step(step)
                // Inside the epoch (its last step is saved below with the epoch's evaluation).
                guard writes, step.batch < step.batches else { return }
                let bySteps = checkpointEverySteps.map { $0 > 0 && step.step % $0 == 0 } ?? false
                let bySeconds = checkpointEverySeconds.map { Double(DispatchTime.now().uptimeNanoseconds - lastSave.uptimeNanoseconds) / 1e9 >= $0 } ?? false
                if bySteps || bySeconds {
                    do { try trainer.save(checkpoint, metadata: [bestKey: "\(best)"]) } catch { saveFailure = error }
                    lastSave = DispatchTime.now()
                }
            }, shouldStop: { saveFailure != nil || observer.shouldStop() })
            if let saveFailure { throw saveFailure }
            observer.epochTrained()
            if !report.completed {
                if writes { try trainer.save(checkpoint, metadata: [bestKey: "\(best)"]) }
                return .stopped(epoch: epoch, insideEpoch: true)
            }
            var values: [Double] = []
            if evalEvery > 0, (epoch + 1) % evalEvery == 0 || epoch + 1 == endEpoch {
                values = try evaluate(epoch)
                if let score = values.first, score > best {
                    best = score
                    if writes {
                        try TrainingCheckpoint.exportWeights(trainer.plan.parameters, to: folder.appendingPathComponent("best.safetensors"), overwrite: true,
                                                             classes: trainer.classNames)
                    }
                }
            }
            // The epoch's log line rides in the checkpoint too: a kill between the checkpoint and the log loses nothing.
            if let log {
                let rows = log.rows(epoch: epoch + 1, loss: report.meanLoss, learningRate: Double(trainer.learningRate(epoch: epoch)),
                                    imagesPerSecond: report.imagesPerSecond, seconds: report.seconds,
                                    metrics: metrics.indices.map { $0 < values.count ? values[$0] : nil }, best: best >= 0 ? best : nil)
                try trainer.save(checkpoint, metadata: [bestKey: "\(best)", "log_csv": rows.csv, "log_json": rows.json])
                try log.append(rows)
            }
            observer.epochFinished(epoch, report.meanLoss, report.imagesPerSecond, values, best)
            if try stopAfterEpoch() { return .stopped(epoch: epoch, insideEpoch: false) }
        }
        if writes {
            try TrainingCheckpoint.exportWeights(trainer.plan.parameters, to: folder.appendingPathComponent("final.safetensors"), overwrite: true,
                                                 classes: trainer.classNames)
        }
        return .finished(best: best)
    }
}

/// One line per epoch in log.jsonl and log.csv (appended on resume; each rewrite is atomic).
/// Columns: epoch, loss, lr, images_per_s, seconds, the task's metrics, the best first metric.
public struct TrainingLog {
    public let jsonl: URL, csv: URL
    public let columns: [String]

    public init(directory: URL, append: Bool, metrics: [String], best: String) throws {
        jsonl = directory.appendingPathComponent("log.jsonl")
        csv = directory.appendingPathComponent("log.csv")
        columns = ["epoch", "loss", "lr", "images_per_s", "seconds"] + metrics + [best]
        if !append || !FileManager.default.fileExists(atPath: csv.path) {
            try writeAtomically(Data(), to: jsonl)
            try writeAtomically(Data((columns.joined(separator: ",") + "\n").utf8), to: csv)
        }
    }

    /// One epoch's line in both formats (JSON object, CSV row), without writing it.
    public func rows(epoch: Int, loss: Double, learningRate: Double, imagesPerSecond: Double, seconds: Double, metrics: [Double?],
                     best: Double?) -> (json: String, csv: String) {
        func number(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "null" } ?? "null" }
        let values = [String(epoch), number(loss), number(learningRate), number(imagesPerSecond), number(seconds)]
            + metrics.map(number) + [number(best)]
        let json = "{" + zip(columns, values).map { "\"\($0)\": \($1)" }.joined(separator: ", ") + "}\n"
        return (json, values.map { $0 == "null" ? "" : $0 }.joined(separator: ",") + "\n")
    }

    public func append(_ rows: (json: String, csv: String)) throws {
        for (url, text) in [(jsonl, rows.json), (csv, rows.csv)] {
            let old = (try? Data(contentsOf: url)) ?? Data()
            try writeAtomically(old + Data(text.utf8), to: url)
        }
    }

    public func append(epoch: Int, loss: Double, learningRate: Double, imagesPerSecond: Double, seconds: Double, metrics: [Double?], best: Double?) throws {
        try append(rows(epoch: epoch, loss: loss, learningRate: learningRate, imagesPerSecond: imagesPerSecond, seconds: seconds,
                        metrics: metrics, best: best))
    }

    /// Makes the logs agree with a resumed checkpoint that finished `epochs` epochs: rows of
    /// later epochs (logged by a run killed before its checkpoint) go, and the last epoch's row,
    /// lost by a kill between the checkpoint's commit and the log write, comes back from
    /// `pending` (the rows the checkpoint carries).
    public func reconcile(finishedEpochs epochs: Int, pending: (json: String, csv: String)?) throws {
        func epoch(csvLine line: Substring) -> Int? { line.split(separator: ",", maxSplits: 1).first.flatMap { Int($0) } }
        func epoch(jsonLine line: Substring) -> Int? {
            guard let r = line.range(of: "\"epoch\": ") else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }
        let csvLines = ((try? String(contentsOf: csv, encoding: .utf8)) ?? "").split(separator: "\n")
        let jsonLines = ((try? String(contentsOf: jsonl, encoding: .utf8)) ?? "").split(separator: "\n")
        var keptCSV = [csvLines.first.map(String.init) ?? columns.joined(separator: ",")]
        keptCSV += csvLines.dropFirst().filter { (epoch(csvLine: $0) ?? 0) <= epochs }.map(String.init)
        var keptJSON = jsonLines.filter { (epoch(jsonLine: $0) ?? 0) <= epochs }.map(String.init)
        let lastLogged = keptCSV.dropFirst().last.flatMap { epoch(csvLine: Substring($0)) } ?? 0
        if lastLogged < epochs, let pending, epoch(csvLine: Substring(pending.csv)) == epochs {
            keptCSV.append(pending.csv.trimmingCharacters(in: .newlines))
            keptJSON.append(pending.json.trimmingCharacters(in: .newlines))
        }
        try writeAtomically(Data((keptCSV.joined(separator: "\n") + "\n").utf8), to: csv)
        try writeAtomically(Data((keptJSON.isEmpty ? "" : keptJSON.joined(separator: "\n") + "\n").utf8), to: jsonl)
    }
}
