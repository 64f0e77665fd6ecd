import ArgumentParser
import Datasets
import DNN
import Foundation
import HRNet
import Pose
import PoseTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a pose HRNet from an official experiment file on a COCO-format keypoint data set.",
        discussion: """
        Reads TRAIN, LOSS, DATASET and MODEL of the experiment YAML (batch, optimizer, LR and its
        steps, epochs, augmentation, sigma, OHKM). The data set is DATA/annotations/
        person_keypoints_{TRAIN_SET,TEST_SET}.json with images in DATA/images/SPLIT (or DATA/SPLIT);
        any number of keypoints (from the category; left/right pairs by name). Every epoch
        (--eval-every) the model is evaluated on TEST_SET with the ground-truth boxes and the best
        AP is kept. OUT holds checkpoint.json (resume with --resume OUT/checkpoint.json),
        best.safetensors and final.safetensors (official key names), log.jsonl and log.csv.
        Ctrl-C stops after the current step and saves a checkpoint.
        """
    )

    @Option(help: "The official experiment YAML (MODEL.NAME pose_hrnet).")
    var config: String

    @Option(help: "The data set root (default: the file's DATASET.ROOT).")
    var data: String?

    @Option(help: "Where checkpoints and logs go (default: output/<config name>).")
    var out: String?

    @Option(help: "Start from these weights (.pth or .safetensors) instead of PyTorch's initial values.")
    var weights: String?

    @Flag(help: "With --weights: keys the checkpoint lacks start from initial values.")
    var allowPartial = false

    @Option(help: "Continue the run saved in this checkpoint.json.")
    var resume: String?

    @Option(help: "Train to this epoch (default: TRAIN.END_EPOCH).")
    var epochs: Int?

    @Option(help: "Images per step (default: TRAIN.BATCH_SIZE_PER_GPU).")
    var batch: Int?

    @Option(help: "Learning rate (default: TRAIN.LR).")
    var lr: Double?

    @Option(help: "Evaluate AP every N epochs (0: never).")
    var evalEvery: Int = 1

    @Option(help: "Seed of the shuffle, augmentation and initial weights.")
    var seed: UInt64 = 0

    @Option(help: "Threads that decode and augment images.")
    var workers: Int = 2

    @OptionGroup var compute: ComputeOptions

    @Flag(help: "Start over in OUT even if it holds a previous run.")
    var force = false

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let batch, batch < 1 || batch > 4096 { throw ValidationError("--batch must be 1...4096") }
        if let lr, !(lr > 0) { throw ValidationError("--lr must be positive") }
        if evalEvery < 0 { throw ValidationError("--eval-every must be 0 or more") }
        if workers < 1 || workers > 64 { throw ValidationError("--workers must be 1...64") }
        if weights != nil && resume != nil { throw ValidationError("--weights starts a run; --resume continues one: give one") }
    }

    func run() throws {
        let configURL = URL(fileURLWithPath: config)
        let model = try HRNetConfig.load(configURL)
        guard model.task == .pose else { throw ValidationError("\(config): hrnet train takes pose models (MODEL.NAME pose_hrnet)") }
        var training = try TrainingConfig.load(configURL)
        if let epochs { training.endEpoch = epochs }
        if let batch { training.batchSize = batch }
        if let lr { training.learningRate = lr }
        guard training.endEpoch > training.beginEpoch else {
            throw ValidationError("--epochs \(training.endEpoch) must be above TRAIN.BEGIN_EPOCH \(training.beginEpoch)")
        }

        // Data: DATA/annotations/person_keypoints_SPLIT.json + DATA/images/SPLIT.
        let root = URL(fileURLWithPath: data ?? training.root, isDirectory: true)
        func split(_ name: String) throws -> (annotations: URL, images: URL) {
            let annotations = root.appendingPathComponent("annotations/person_keypoints_\(name).json")
            guard FileManager.default.fileExists(atPath: annotations.path) else {
                throw ValidationError("\(annotations.path): no such file (expected DATA/annotations/person_keypoints_\(name).json)")
            }
            let images = [root.appendingPathComponent("images/\(name)"), root.appendingPathComponent(name)]
                .first { FileManager.default.fileExists(atPath: $0.path) }
            guard let images else { throw ValidationError("\(root.path): neither images/\(name) nor \(name) exists") }
            return (annotations, images)
        }
        let trainSplit = try split(training.trainSet)
        var augmentation = PoseAugmentation(imageSize: model.imageSize, heatmapSize: model.heatmapSize)
        augmentation.sigma = model.sigma
        augmentation.scaleFactor = training.scaleFactor
        augmentation.rotationFactor = training.rotationFactor
        augmentation.flip = training.flip
        augmentation.halfBodyProbability = training.halfBodyProbability
        augmentation.halfBodyJoints = training.halfBodyJoints
        let dataset = try KeypointDataset.coco(annotations: trainSplit.annotations, images: trainSplit.images,
                                               aspectRatio: augmentation.aspectRatio)
        let trainData = try PoseTrainingData(dataset: dataset, augmentation: augmentation, seed: seed)

        // Output folder: never mix two runs without being told to.
        let outDir = URL(fileURLWithPath: out ?? "output/\(configURL.deletingPathExtension().lastPathComponent)", isDirectory: true)
        let checkpoint = outDir.appendingPathComponent("checkpoint.json")
        if resume == nil, !force, let existing = try? FileManager.default.contentsOfDirectory(atPath: outDir.path), !existing.isEmpty {
            throw ValidationError("\(outDir.path) holds a previous run; --resume \(checkpoint.path) continues it, --force starts over")
        }
        try OutputDirectory.prepare(outDir, files: [], force: true)

        let graph = HRNetModel(config: model).graph
        var parameters = graph.initialParameters(seed: seed)
        if let weights {
            let (loaded, report) = try HRNetModel(config: model).loadWeights(URL(fileURLWithPath: weights), allowPartial: allowPartial)
            parameters = loaded
            if !report.missing.isEmpty { warn("\(report.missing.count) keys missing from \(weights) start from initial values") }
        }
        let trainer = try PoseTrainer(config: model, training: training, data: trainData, parameters: parameters,
                                      threads: compute.threads, seed: seed)
        trainer.workers = workers
        var best = -1.0
        if let resume {
            let meta = try trainer.resume(URL(fileURLWithPath: resume))
            best = Double(meta["best_ap"] ?? "") ?? -1
            Progress.say("resumed \(resume) at epoch \(trainer.epoch), step \(trainer.step)")
        }

        let evaluation = try evalEvery > 0 ? makeEvaluation(split(training.testSet)) : nil
        let log = try TrainingLog(directory: outDir, append: resume != nil)
        let stop = StopSignal()
        Progress.say("training \(model.source): \(dataset.count) people, batch \(training.batchSize), epochs \(trainer.epoch)..<\(training.endEpoch), "
                     + "\(training.optimizer.rawValue) lr \(training.learningRate), out \(outDir.path)")
        while trainer.epoch < training.endEpoch {
            let epoch = trainer.epoch
            let bar = Progress("epoch \(epoch + 1)/\(training.endEpoch)", total: trainData.count / training.batchSize, unit: "steps")
            let report = try trainer.trainEpoch(onStep: { s in
                bar.advance(note: String(format: "loss %.6f, lr %.2g", s.loss, s.learningRate))
            }, shouldStop: { stop.requested })
            bar.finish()
            if !report.completed {
                try trainer.save(checkpoint, metadata: ["best_ap": "\(best)"])
                Progress.say("stopped during epoch \(epoch + 1); saved \(checkpoint.path) (resume with --resume)")
                throw ExitCode(130)
            }
            var ap: Double?
            if let evaluation, (epoch + 1) % evalEvery == 0 || epoch + 1 == training.endEpoch {
                ap = try evaluate(trainer, evaluation)
                if let ap, ap > best {
                    best = ap
                    try TrainingCheckpoint.exportWeights(trainer.plan.parameters, to: outDir.appendingPathComponent("best.safetensors"), overwrite: true)
                }
            }
            try trainer.save(checkpoint, metadata: ["best_ap": "\(best)"])
            try log.append(epoch: epoch + 1, loss: report.meanLoss, learningRate: Double(trainer.learningRate(epoch: epoch)),
                           imagesPerSecond: report.imagesPerSecond, seconds: report.seconds, ap: ap, bestAP: best >= 0 ? best : nil)
            Progress.say(String(format: "epoch %d: loss %.6f, %.1f images/s", epoch + 1, report.meanLoss, report.imagesPerSecond)
                         + (ap.map { String(format: ", AP %.4f (best %.4f)", $0, best) } ?? ""))
            if stop.requested {
                Progress.say("stopped after epoch \(epoch + 1); saved \(checkpoint.path) (resume with --resume)")
                throw ExitCode(130)
            }
        }
        try TrainingCheckpoint.exportWeights(trainer.plan.parameters, to: outDir.appendingPathComponent("final.safetensors"), overwrite: true)
        print("trained to epoch \(training.endEpoch): \(outDir.appendingPathComponent("final.safetensors").path)"
              + (best >= 0 ? String(format: ", best AP %.4f in best.safetensors", best) : ""))
    }

    func makeEvaluation(_ split: (annotations: URL, images: URL)) throws -> COCOPoseEvaluation {
        let truth = try COCOGroundTruth.load(split.annotations)
        guard !truth.imageIDs.isEmpty else { throw ValidationError("\(split.annotations.path) has no images to evaluate on") }
        return COCOPoseEvaluation(truth: truth, imageDirectory: split.images)
    }

    /// AP of the current weights on the evaluation split (flip test as TEST.FLIP_TEST, GT boxes).
    func evaluate(_ trainer: PoseTrainer, _ evaluation: COCOPoseEvaluation) throws -> Double {
        var options = PoseEstimator.Options(flipTest: trainer.config.flipTest)
        options.batchSize = 16
        options.threads = compute.threads
        let joints = trainer.config.numJoints ?? 0
        var keypoints = evaluation.keypoints(joints: joints) ?? trainer.data.dataset.keypoints
        if keypoints.count != joints { keypoints = .unnamed(joints) }
        let estimator = try PoseEstimator(config: trainer.config, parameters: trainer.weights, keypoints: keypoints, options: options)
        let bar = Progress("  eval", total: evaluation.truth.imageIDs.count)
        let result = try evaluation.run(estimator) { images, people in bar.advance(images - bar.done, note: "\(people) people") }
        bar.finish()
        return result.stats[0]
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
struct TrainingLog {
    let jsonl: URL, csv: URL
    static let columns = "epoch,loss,lr,images_per_s,seconds,ap,best_ap"

    init(directory: URL, append: Bool) throws {
        jsonl = directory.appendingPathComponent("log.jsonl")
        csv = directory.appendingPathComponent("log.csv")
        if !append || !FileManager.default.fileExists(atPath: csv.path) {
            try writeAtomically(Data(), to: jsonl)
            try writeAtomically(Data((Self.columns + "\n").utf8), to: csv)
        }
    }

    func append(epoch: Int, loss: Double, learningRate: Double, imagesPerSecond: Double, seconds: Double, ap: Double?, bestAP: Double?) throws {
        func number(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "null" } ?? "null" }
        let json = "{\"epoch\": \(epoch), \"loss\": \(number(loss)), \"lr\": \(number(learningRate)), \"images_per_s\": \(number(imagesPerSecond)), "
            + "\"seconds\": \(number(seconds)), \"ap\": \(number(ap)), \"best_ap\": \(number(bestAP))}\n"
        let row = [String(epoch), number(loss), number(learningRate), number(imagesPerSecond), number(seconds), number(ap), number(bestAP)]
            .map { $0 == "null" ? "" : $0 }.joined(separator: ",") + "\n"
        for (url, text) in [(jsonl, json), (csv, row)] {
            let old = (try? Data(contentsOf: url)) ?? Data()
            try writeAtomically(old + Data(text.utf8), to: url)
        }
    }
}
