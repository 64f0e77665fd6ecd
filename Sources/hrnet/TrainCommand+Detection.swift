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
        var spec = try DetectorConfig.load(configURL)
        var (recipe, scales, flip, layout) = try DetectionRecipe.load(configURL)
        if let epochs { recipe.epochs = epochs }
        if let batch { recipe.batchSize = batch }
        if let lr { recipe.learningRate = Float(lr) }
        let root = data.map { URL(fileURLWithPath: $0, isDirectory: true) }
        let train = try locate(layout, annotations: layout.trainAnnotations, images: layout.trainImages, root: root, split: "train")
        let trainData = try DetectionTrainingData.coco(annotations: train.annotations, images: train.images, preprocessing: spec.preprocessing,
                                                       scales: scales)
        var dataWithFlip = trainData
        dataWithFlip.flipProbability = flip
        guard case .fcos(let head) = spec.head else { throw ValidationError("\(config): only FCOS detectors train here") }
        guard head.classes == trainData.classNames.count else {
            throw ValidationError("\(train.annotations.lastPathComponent) has \(trainData.classNames.count) categories "
                                  + "(\(trainData.classNames.prefix(4).joined(separator: ", "))); \(config) has model.bbox_head.num_classes "
                                  + "\(head.classes): set num_classes=\(trainData.classNames.count)")
        }
        spec.classes = trainData.classNames
        let evaluation = evalEvery == 0 ? nil
            : try locate(layout, annotations: layout.valAnnotations, images: layout.valImages, root: root, split: "val")
        let (outDir, checkpoint) = try outputFolder(configURL, parallel)

        var parameters = DetectorModel(spec: spec).initialParameters(seed: seed)
        if let weights {
            let (loaded, report) = try startingDetectorParameters(URL(fileURLWithPath: weights), spec: spec, initial: parameters)
            parameters = loaded
            ProgressBar.say(report)
        }
        let trainer = try DetectionTrainer(spec: spec, recipe: recipe, data: dataWithFlip, parameters: parameters,
                                           name: configURL.lastPathComponent, threads: threads(parallel.communicator), seed: seed,
                                           parallel: parallel)
        let runner = EpochRunner(folder: outDir, checkpoint: checkpoint, metrics: ["ap", "ap50"], endEpoch: recipe.epochs,
                                 evalEvery: evaluation == nil ? 0 : evalEvery)
        let communicator = parallel.communicator
        try runTraining(trainer, runner, dataRoot: root, batch: recipe.batchSize, describe: {
            "training \(configURL.lastPathComponent): \(trainData.count) images of \(train.annotations.lastPathComponent), "
                + "\(trainData.classNames.count) classes, batch \(recipe.batchSize), inputs \(trainData.canvas.width)x\(trainData.canvas.height), "
                + "epochs \(trainer.position.epoch)..<\(recipe.epochs), SGD lr \(recipe.learningRate), out \(outDir.path)"
        }) { _ in
            guard let evaluation else { return [] }
            // The first process evaluates; the others get its numbers.
            var values: [Double] = [0, 0]
            if communicator.isRoot {
                let coco = try COCODetectionEvaluation(annotations: evaluation.annotations, images: evaluation.images)
                let bar = ProgressBar("  eval", total: coco.truth.imageIDs.count)
                let outcome = try coco.run(try trainer.detector(threads: threads(communicator))) { done, _ in bar.advance(done - bar.done) }
                bar.finish()
                values = [outcome.stats[0], outcome.stats[1]]
            }
            try communicator.broadcast(&values, root: 0)
            return values
        }
    }

    /// A split's annotation file and image folder: the config's paths under --data (or its
    /// data_root), else the COCO layout under --data (instances, then person_keypoints files).
    func locate(_ layout: DetectionDataLayout, annotations: String?, images: String?, root: URL?,
                split fallback: String) throws -> (annotations: URL, images: URL) {
        if let a = layout.resolve(annotations, root: root), FileManager.default.fileExists(atPath: a.path),
           let i = layout.resolve(images, root: root) {
            return (a, i)
        }
        guard let root else {
            throw ValidationError("\(annotations ?? "the annotations") not found: pass --data (the data set's root)")
        }
        // The config's split name (instances_train2017.json -> train2017), then train / val.
        let named = annotations.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
            .map { $0.replacingOccurrences(of: "instances_", with: "") }
        for split in [named, fallback].compactMap({ $0 }) {
            for kind in [COCOSplit.Kind.instances, .keypoints] {
                if let found = try? COCOSplit(root: root, split: split, kind: kind) { return (found.annotations, found.images) }
            }
        }
        throw ValidationError("\(root.path) has neither \(annotations ?? "the config's annotations") nor annotations/instances_\(fallback).json "
                              + "or person_keypoints_\(fallback).json")
    }

    /// Starting weights: a detector checkpoint (mmdet keys), or an HRNet backbone (ImageNet
    /// classification keys, placed under `backbone.` as mmdet's init_cfg Pretrained does);
    /// what the file lacks keeps its initial value. - Returns: the parameters and a report line.
    func startingDetectorParameters(_ url: URL, spec: DetectorSpec, initial: [String: Tensor]) throws -> ([String: Tensor], String) {
        var loaded = try Checkpoint.loadFloat(url)
        if !loaded.keys.contains(where: { $0.hasPrefix("backbone.") }) {
            loaded = Dictionary(uniqueKeysWithValues: loaded.map { ("backbone." + $0.key, $0.value) })
        }
        var parameters = initial, taken = 0
        for (key, value) in loaded {
            guard let current = initial[key] else { continue }
            guard current.shape == value.shape else {
                throw ValidationError("\(url.lastPathComponent): \(key) has shape \(value.shape), the detector needs \(current.shape)")
            }
            parameters[key] = value
            taken += 1
        }
        guard taken > 0 else { throw ValidationError("\(url.lastPathComponent) holds none of the detector's keys (is it an HRNet checkpoint?)") }
        return (parameters, "\(url.lastPathComponent): \(taken) of \(initial.count) tensors; the rest start from mmdet's initial values")
    }
}
