import Collectives
import Datasets
import DNN
import Foundation

/// Everything an mmdetection 3.x config says about training a detector: the model, the recipe
/// (`DetectionRecipe.load`), the train pipeline's resize scales and flip probability, and where
/// the data lives. `hrnet train --config X.py` is this plus a terminal.
///
/// ```swift
/// let setup = try DetectionTrainingConfig.load(URL(fileURLWithPath: "person_detector.py"))
/// let data = try setup.trainingData(root: URL(fileURLWithPath: "synth"))
/// ```
public struct DetectionTrainingConfig: Sendable {
    public var spec: DetectorSpec
    public var recipe: DetectionRecipe
    /// `Resize` / `RandomChoiceResize` scales of the train pipeline.
    public var scales: [(width: Int, height: Int)]
    /// `RandomFlip` probability.
    public var flipProbability: Double
    public var data: DetectionDataLayout
    /// The config file, for messages.
    public var name: String

    public static func load(_ url: URL) throws -> DetectionTrainingConfig {
        let spec = try DetectorConfig.load(url)
        let (recipe, scales, flip, layout) = try DetectionRecipe.load(url)
        return DetectionTrainingConfig(spec: spec, recipe: recipe, scales: scales, flipProbability: flip, data: layout,
                                       name: url.lastPathComponent)
    }

    /// The training split's files: the config's `ann_file` and `data_prefix` under `root` (or
    /// its `data_root`), else the COCO layout under `root`: annotations/instances_SPLIT.json or
    /// person_keypoints_SPLIT.json (as `hrnet synth` writes) with images/SPLIT.
    public func trainingFiles(root: URL?) throws -> COCOSplit {
        try locate(annotations: data.trainAnnotations, images: data.trainImages, root: root, split: "train")
    }

    /// The validation split's files, found as `trainingFiles`.
    public func validationFiles(root: URL?) throws -> COCOSplit {
        try locate(annotations: data.valAnnotations, images: data.valImages, root: root, split: "val")
    }

    /// The training split as the config's pipeline reads it (its scales and flip), with the
    /// detector's classes named after the file's categories (their count must be num_classes).
    public func trainingData(root: URL?) throws -> DetectionTrainingData {
        let files = try trainingFiles(root: root)
        var data = try DetectionTrainingData.coco(annotations: files.annotations, images: files.images, preprocessing: spec.preprocessing,
                                                  scales: scales)
        data.flipProbability = flipProbability
        // Checked here too, before a caller prepares an output folder for a run that cannot start.
        _ = try DetectionTrainer.trainableHead(spec, for: data, name: name)
        return data
    }

    func locate(annotations: String?, images: String?, root: URL?, split fallback: String) throws -> COCOSplit {
        if let a = data.resolve(annotations, root: root), FileManager.default.fileExists(atPath: a.path),
           let i = data.resolve(images, root: root) {
            return COCOSplit(annotations: a, images: i)
        }
        guard let root else {
            throw DetectionError.training("\(name): \(annotations ?? "the annotations") not found: give the data set's root")
        }
        // The config's split name (instances_train2017.json -> train2017), then train / val.
        let named = annotations.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
            .map { $0.replacingOccurrences(of: "instances_", with: "") }
        for split in [named, fallback].compactMap({ $0 }) {
            for kind in [COCOSplit.Kind.instances, .keypoints] {
                if let found = try? COCOSplit(root: root, split: split, kind: kind) { return found }
            }
        }
        throw DetectionError.training("\(root.path) has neither \(annotations ?? "the config's annotations") nor annotations/instances_\(fallback).json "
                                     + "or person_keypoints_\(fallback).json")
    }
}

extension DetectionTrainer {
    /// Starting weights: a detector checkpoint (mmdet keys), or an HRNet backbone (ImageNet
    /// classification or pose keys, placed under `backbone.` as mmdet's init_cfg Pretrained
    /// does); what the file lacks keeps its value in `initial`, keys the detector lacks (a
    /// classifier, a pose head) are dropped.
    /// - Returns: the parameters and how many tensors came from the file.
    public static func startingParameters(from url: URL, initial: [String: Tensor]) throws -> (parameters: [String: Tensor], loaded: Int) {
        var loaded = try Checkpoint.loadFloat(url)
        if !loaded.keys.contains(where: { $0.hasPrefix("backbone.") }) {
            loaded = Dictionary(uniqueKeysWithValues: loaded.map { ("backbone." + $0.key, $0.value) })
        }
        var parameters = initial, taken = 0
        for (key, value) in loaded {
            guard let current = initial[key] else { continue }
            guard current.shape == value.shape else {
                throw DetectionError.training("\(url.lastPathComponent): \(key) has shape \(value.shape), the detector needs \(current.shape)")
            }
            parameters[key] = value
            taken += 1
        }
        guard taken > 0 else { throw DetectionError.training("\(url.lastPathComponent) holds none of the detector's keys (is it an HRNet checkpoint?)") }
        return (parameters, taken)
    }

    /// COCO box AP (the 12 COCOeval numbers) of the current weights on `split`. Under data
    /// parallel training the first process evaluates and every process gets its numbers.
    /// - Parameter progress: (images done, images) on the first process.
    public func evaluate(_ split: COCOSplit, threads: Int? = nil, progress: (Int, Int) -> Void = { _, _ in }) throws -> [Double] {
        var stats = [Double](repeating: 0, count: 12)
        if communicator.isRoot {
            let coco = try COCODetectionEvaluation(annotations: split.annotations, images: split.images)
            stats = try coco.run(try detector(threads: threads), progress: progress).stats
        }
        try communicator.broadcast(&stats, root: 0)
        return stats
    }
}
