import FileSupport
import ArgumentParser
import Classification
import DNN
import Foundation
import HRNet

extension TrainCommand {
    /// Classification: DATA/TRAIN_SET and DATA/TEST_SET image folders, the official recipe
    /// (`ClassificationTrainer`), top-1/top-5 on TEST_SET after each evaluated epoch.
    func trainClassifier(_ model: HRNetConfig, _ training: TrainingConfig, configURL: URL, parallel: DataParallel) throws {
        let root = URL(fileURLWithPath: data ?? training.root, isDirectory: true)
        let train = try ImageFolder(root: root.appendingPathComponent(training.trainSet, isDirectory: true))
        let val = evalEvery > 0 ? try ImageFolder(root: root.appendingPathComponent(training.testSet, isDirectory: true)) : nil
        if let val, val.classes != train.classes {
            throw ValidationError("\(val.root.path) has the classes \(val.classes.joined(separator: ", ")); "
                                  + "\(train.root.path) has \(train.classes.joined(separator: ", ")) (the folders must match)")
        }
        guard model.numClasses == train.classes.count else {
            throw ValidationError("\(train.root.path) has \(train.classes.count) class folders but \(config) has MODEL.NUM_CLASSES "
                                  + "\(model.numClasses ?? 0): set MODEL.NUM_CLASSES: \(train.classes.count)"
                                  + (weights != nil && !resetHead ? " and pass --reset-head to fine-tune the pretrained weights" : ""))
        }
        let (outDir, checkpoint) = try outputFolder(configURL, parallel)

        var parameters = HRNetModel(config: model).initialParameters(seed: seed)
        if let weights {
            let (loaded, report) = try ClassificationTrainer.startingParameters(from: URL(fileURLWithPath: weights), config: model,
                                                                                resetHead: resetHead, allowPartial: allowPartial, seed: seed)
            parameters = loaded
            let others = report.missing.filter { !$0.hasPrefix("classifier.") }
            if !others.isEmpty { warn("\(others.count) keys missing from \(weights) start from initial values") }
            if resetHead { ProgressBar.say("--reset-head: classifier.weight and classifier.bias start from initial values") }
        }
        let trainer = try ClassificationTrainer(config: model, training: training, data: train, parameters: parameters,
                                                threads: threads(parallel.communicator), seed: seed, parallel: parallel)
        // The class names, for `hrnet classify --labels OUT/classes.txt`.
        if parallel.communicator.isRoot { try writeAtomically(Data((train.classes.joined(separator: "\n") + "\n").utf8), to: outDir.appendingPathComponent("classes.txt")) }
        let runner = EpochRunner(folder: outDir, checkpoint: checkpoint, metrics: ["top1", "top5"], endEpoch: training.endEpoch,
                                 evalEvery: val == nil ? 0 : evalEvery)
        try runTraining(trainer, runner, dataRoot: root, batch: training.batchSize, describe: {
            "training \(model.source): \(train.count) images in \(train.classes.count) classes, batch \(training.batchSize), "
                + "epochs \(trainer.position.epoch)..<\(training.endEpoch), \(training.optimizer.rawValue) lr \(training.learningRate) "
                + "(\(training.lrScheduler.rawValue)), out \(outDir.path)"
        }) { _ in
            guard let val else { return [] }
            let bar = ProgressBar("  eval", total: val.count)
            let accuracy = try trainer.evaluate(val, batchSize: 32, threads: threads(parallel.communicator)) { done, running in
                bar.advance(done - bar.done, note: String(format: "top-1 %.4f", running.top1))
            }
            bar.finish()
            return [accuracy.top1, accuracy.top5]
        }
    }
}
