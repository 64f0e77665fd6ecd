import FileSupport
import ArgumentParser
import DNN
import Datasets
import Detection
import Foundation
import Imaging

struct EvalDetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-det",
        abstract: "COCO box AP of a detector on a data set split, as mmdetection's CocoMetric (pycocotools' COCOeval, bbox).",
        discussion: """
        Reads DATA/annotations/instances_SPLIT.json (or, when only that exists, \
        person_keypoints_SPLIT.json: its people, as `hrnet synth` writes them) and the images in \
        DATA/images/SPLIT (or DATA/SPLIT), detects every image with mmdetection's test pipeline, writes the COCO results \
        JSON and prints COCOeval's twelve numbers and each class's AP.
        """
    )

    @Option(help: "An mmdetection Python config (its _base_ files resolved).")
    var config: String?

    @Option(help: "A built-in detector: \(DetectorPresets.names.joined(separator: ", ")).")
    var preset: String?

    @Option(help: "mmdetection's checkpoint (.pth) or .safetensors; zoo checkpoints carry their config. With no --config, --preset or --weights: the embedded person detector (person_default).")
    var weights: String?

    @Option(help: "COCO root: annotations/ and images/ (or the split folder) below it.")
    var data: String

    @Option(help: "The split.")
    var split: String = "val2017"

    @Flag(help: "Evaluate the person category only (what top-down pose needs of a detector).")
    var personOnly = false

    @Option(help: "Evaluate only the first N images (in the annotation file's order).")
    var limit: Int?

    @Option(help: "Where to write the results JSON (default: bbox_SPLIT_results.json).")
    var outJSON: String?

    @Option(help: "Threads for oneDNN and the engine's kernels (default: all cores).")
    var threads: Int?

    @Flag(help: "Replace an existing results file.")
    var force = false

    @OptionGroup var refiner: RefinerOptions

    func validate() throws {
        if config != nil && preset != nil { throw ValidationError("give one of --config FILE and --preset NAME, not both") }
        if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
        if weights == nil, config != nil || (preset != nil && preset != DefaultDetector.presetName) {
            throw ValidationError("--weights is needed with " + (config != nil ? "--config" : "--preset \(preset ?? "")")
                                  + "; with no --config, --preset or --weights, the embedded person detector runs")
        }
    }

    func run() throws {
        let outURL = URL(fileURLWithPath: outJSON ?? "bbox_\(split)_results.json")
        if FileManager.default.fileExists(atPath: outURL.path), !force {
            throw ValidationError("\(outURL.path) exists; pass --force to replace it")
        }
        var evaluation = try COCODetectionEvaluation(data: URL(fileURLWithPath: data, isDirectory: true), split: split)
        if let limit { evaluation.limit(to: limit) }
        if personOnly { evaluation.restrict(toCategories: [1]) }
        let detector = try Detector.load(config: config.map { URL(fileURLWithPath: $0) }, preset: preset,
                                         weights: weights.map { URL(fileURLWithPath: $0) }, options: .init(threads: threads))
        refiner.apply(to: detector)
        let progress = ProgressBar("eval-det", total: evaluation.truth.imageIDs.count)
        let outcome = try evaluation.run(detector) { _, _ in progress.advance() }
        progress.finish()
        try ResultsFile.write(Data(DetectionResult.json(outcome.results).utf8), to: outURL)
        print(COCOEval(groundTruth: evaluation.truth, results: [], iouType: .bbox).format(outcome.stats))
        let names = Dictionary(zip(COCOClasses.categoryIDs, COCOClasses.names), uniquingKeysWith: { a, _ in a })
        let scored = outcome.perCategory.filter { $0.ap >= 0 }
        print("AP per class (\(scored.count) with ground truth; \(outcome.perCategory.count - scored.count) without, not shown):")
        for (id, ap) in scored {
            print("  " + (names[id] ?? "category \(id)").padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: " %6.3f", ap))
        }
        print(String(format: "%d images, %d detections in %.1f s (network %.1f s); results: %@", evaluation.truth.imageIDs.count,
                     outcome.results.count, progress.elapsedSeconds, detector.networkSeconds, outURL.path))
    }
}
