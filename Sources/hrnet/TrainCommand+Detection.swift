import ArgumentParser
import Collectives
import Datasets
import Detection
import DNN
import Foundation

extension TrainCommand {
    /// Detection: an mmdetection 3.x FCOS-HRNetV2p config (`DetectorConfig` for the model,
    /// `DetectionRecipe.load` for the training), COCO-format data (the config's ann_file and
    /// data_prefix under --data or its data_root; else DATA/annotations/instances_SPLIT.json or
    /// person_keypoints_SPLIT.json, as `hrnet synth` writes), box AP on the val split.
    func trainDetector(configURL: URL, parallel: DataParallel) throws {
        if resetHead { throw ValidationError("--reset-head is for classifiers and segmentation; a detector's classes are model.bbox_head.num_classes") }
        var setup = try DetectionTrainingConfig.load(configURL)
        if let epochs { setup.recipe.epochs = epochs }
        if let batch { setup.recipe.batchSize = batch }
        if let lr { setup.recipe.learningRate = Float(lr) }
        let root = data.map { URL(fileURLWithPath: $0, isDirectory: true) }
        let trainData = try setup.trainingData(root: root)
        let evaluation = evalEvery == 0 ? nil : try setup.validationFiles(root: root)
        let (outDir, checkpoint) = try outputFolder(configURL, parallel)

        var parameters = DetectorModel(spec: setup.spec).initialParameters(seed: seed)
        if let weights {
            let (loaded, taken) = try DetectionTrainer.startingParameters(from: URL(fileURLWithPath: weights), initial: parameters)
            ProgressBar.say("\(URL(fileURLWithPath: weights).lastPathComponent): \(taken) of \(parameters.count) tensors; the rest start from mmdet's initial values")
            parameters = loaded
        }
        let recipe = setup.recipe
        let trainer = try DetectionTrainer(spec: setup.spec, recipe: recipe, data: trainData, parameters: parameters,
                                           name: configURL.lastPathComponent, threads: threads(parallel.communicator), seed: seed,
                                           parallel: parallel)
        let runner = EpochRunner(folder: outDir, checkpoint: checkpoint, metrics: ["ap", "ap50"], endEpoch: recipe.epochs,
                                 evalEvery: evaluation == nil ? 0 : evalEvery)
        try runTraining(trainer, runner, dataRoot: root, batch: recipe.batchSize, describe: {
            "training \(configURL.lastPathComponent): \(trainData.count) images of \(trainData.name), "
                + "\(trainData.classNames.count) classes, batch \(recipe.batchSize), inputs \(trainData.canvas.width)x\(trainData.canvas.height), "
                + "epochs \(trainer.position.epoch)..<\(recipe.epochs), SGD lr \(recipe.learningRate), out \(outDir.path)"
        }) { _ in
            guard let evaluation else { return [] }
            var bar: ProgressBar?
            let stats = try trainer.evaluate(evaluation, threads: threads(parallel.communicator)) { done, total in
                if bar == nil { bar = ProgressBar("  eval", total: total) }
                bar?.advance(done - (bar?.done ?? 0))
            }
            bar?.finish()
            return [stats[0], stats[1]]
        }
    }
}
