import FileSupport
import ArgumentParser
import DNN
import Foundation
import HRNet
import Segmentation

extension TrainCommand {
    /// Segmentation: DATA in any `SegmentationDataset` layout (Cityscapes, PASCAL-Context, folder),
    /// splits named by DATASET.TRAIN_SET and TEST_SET (a list path such as
    /// list/cityscapes/train.lst names the split `train`), the official recipe
    /// (`SegmentationTrainer`), mIoU on TEST_SET after each evaluated epoch.
    func trainSegmentation(_ model: HRNetConfig, _ training: TrainingConfig, configURL: URL, parallel: DataParallel) throws {
        guard let classes = model.numClasses else { throw ValidationError("\(config) is not a segmentation model (seg_hrnet or seg_hrnet_ocr)") }
        let root = URL(fileURLWithPath: data ?? training.root, isDirectory: true)
        func split(_ name: String) -> String { URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent }
        let train = try SegmentationDataset.open(root, split: split(training.trainSet), classes: classes)
        try train.checkClasses(against: model)
        let val = evalEvery > 0 ? try SegmentationDataset.open(root, split: split(training.testSet), classes: classes) : nil
        if let val, val.classNames != train.classNames {
            throw ValidationError("\(root.path): the \(val.split) classes (\(val.classNames.joined(separator: ", "))) differ from the "
                                  + "\(train.split) classes (\(train.classNames.joined(separator: ", ")))")
        }
        let (outDir, checkpoint) = try outputFolder(configURL, parallel)

        var parameters = HRNetModel(config: model).initialParameters(seed: seed)
        if let weights {
            let (loaded, report) = try SegmentationTrainer.startingParameters(from: URL(fileURLWithPath: weights), config: model,
                                                                              resetHead: resetHead, allowPartial: allowPartial, seed: seed)
            parameters = loaded
            let head = report.missing.filter { $0.hasPrefix("last_layer.") }, others = report.missing.count - head.count
            if !head.isEmpty { ProgressBar.say("\(head.count) head keys (\(head.joined(separator: ", "))) start from initial values") }
            if others > 0 { warn("\(others) keys missing from \(weights) start from initial values") }
        }
        let trainer = try SegmentationTrainer(config: model, training: training, data: train, parameters: parameters,
                                              threads: threads(parallel.communicator), seed: seed, parallel: parallel)
        if training.segmentation.classBalance, trainer.classWeights == nil {
            warn("LOSS.CLASS_BALANCE: the official code has class weights for Cityscapes only; training \(train.layout.rawValue) data unweighted")
        }
        // The class list in the folder layout's format, for `hrnet segment` users and eval-seg data.
        let classList = train.classNames.enumerated().map { k, name in
            guard k < train.palette.colors.count else { return name }
            let (r, g, b) = train.palette.colors[k]
            return "\(name) \(r) \(g) \(b)"
        }
        if parallel.communicator.isRoot { try writeAtomically(Data((classList.joined(separator: "\n") + "\n").utf8), to: outDir.appendingPathComponent("classes.txt")) }

        let s = training.segmentation
        let runner = EpochRunner(folder: outDir, checkpoint: checkpoint, metrics: ["miou", "pixel_accuracy", "mean_accuracy"],
                                 endEpoch: training.endEpoch, evalEvery: val == nil ? 0 : evalEvery)
        try runTraining(trainer, runner, dataRoot: root, batch: training.batchSize, describe: {
            "training \(model.source): \(trainer.sampleCount) images of \(root.path) (\(train.layout.rawValue), \(train.split)), "
                     + "\(classes) classes, batch \(training.batchSize), crops \(model.imageSize.width)x\(model.imageSize.height), "
                     + "epochs \(trainer.position.epoch)..<\(training.endEpoch), \(training.optimizer.rawValue) lr \(training.learningRate) "
                     + "(\(training.lrScheduler.rawValue)), \(s.useOHEM ? "OHEM \(s.ohemThreshold)/\(s.ohemKeep)" : "cross-entropy")"
                     + (trainer.classWeights != nil ? " with Cityscapes class weights" : "") + ", out \(outDir.path)"
        }) { _ in
            guard let val else { return [] }
            let bar = ProgressBar("  eval", total: val.count)
            let matrix = try trainer.evaluate(val, threads: threads(parallel.communicator)) { done, matrix in
                bar.advance(done - bar.done, note: String(format: "mIoU %.4f", matrix.meanIoU))
            }
            bar.finish()
            return [matrix.meanIoU, matrix.pixelAccuracy, matrix.meanAccuracy]
        }
    }
}
