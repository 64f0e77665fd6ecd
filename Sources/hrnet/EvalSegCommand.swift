import FileSupport
import ArgumentParser
import DNN
import Foundation
import HRNet
import Imaging
import Segmentation

struct EvalSegCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-seg",
        abstract: "Evaluate a segmentation model on a labelled data set: confusion matrix, IoU per class, mIoU, accuracies.",
        discussion: """
        --data is a Cityscapes folder (leftImg8bit/, gtFine/ *_labelIds.png), a PASCAL-Context \
        folder (JPEGImages/, SegmentationClassContext/, ImageSets/SegmentationContext/<split>.txt) \
        or your own data (classes.txt, images/<split>/, labels/<split>/ with class ids, 255 = \
        ignore; `hrnet synth-seg` writes one). The layout is found from the folders. Predictions \
        follow the official test procedure (see `hrnet segment --help`); metrics are the official \
        ones: IoU = TP / max(1, TP + FP + FN) per class, mIoU the mean over all classes, pixel \
        accuracy, and mean of per-class accuracies, over pixels not labelled ignore.
        """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var test: SegmentationTestOptions

    @Option(help: "The data set's root folder.")
    var data: String

    @Option(help: "The split: val, train, test... (a folder or list name in the layout).")
    var split: String = "val"

    @Option(help: ArgumentHelp("cityscapes, pascal-context or folder (default: found from the folders).", valueName: "layout"))
    var layout: String?

    @Option(help: "Evaluate only the first N images.")
    var limit: Int?

    @Option(help: "Also write the metrics, per-class IoU and the confusion matrix as JSON here.")
    var json: String?

    @Flag(help: "Replace an existing --json file.")
    var force = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
        if let layout, SegmentationDataset.Layout(rawValue: layout) == nil {
            throw ValidationError("--layout must be one of \(SegmentationDataset.Layout.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let config = try model.loadConfig()
        guard let classes = config.numClasses else { throw ValidationError("\(config.source) is not a segmentation model (seg_hrnet or seg_hrnet_ocr)") }
        let dataset = try SegmentationDataset.open(URL(fileURLWithPath: data), split: split,
                                                   layout: layout.flatMap(SegmentationDataset.Layout.init(rawValue:)),
                                                   classes: classes)
        try dataset.checkClasses(against: config)
        let jsonURL = json.map { URL(fileURLWithPath: $0) }
        if let jsonURL, FileManager.default.fileExists(atPath: jsonURL.path), !force {
            throw ValidationError("\(jsonURL.path) exists; pass --force to replace it")
        }
        let job = try MPIJob()
        try job.run("eval-seg") { try evaluate(dataset, config: config, classes: classes, jsonURL: jsonURL, job: job) }
    }

    /// Under mpirun each process segments every N-th image; the matrices are added and the first prints and writes.
    func evaluate(_ dataset: SegmentationDataset, config: HRNetConfig, classes: Int, jsonURL: URL?, job: MPIJob) throws {
        let (net, parameters, _) = try model.load(requireWeights: true)
        let options = try test.options(for: config)
        let segmenter = try Segmenter(model: net, parameters: parameters, options: options, threads: job.threads(compute.threads),
                                      planOptions: try compute.planOptions(weights: model.weights, graph: net.graph))
        let count = min(dataset.count, limit ?? dataset.count)
        ProgressBar.say("eval-seg: \(count) images of \(dataset.root.path) (\(dataset.layout.rawValue), \(split)); \(options.summary)")
        let progress = ProgressBar("eval-seg", total: count)
        let matrix = try dataset.evaluate(segmenter, limit: count, communicator: job.world) { done, matrix in
            progress.advance(done - progress.done, note: String(format: "mIoU %.4f", matrix.meanIoU))
        }
        progress.finish()
        guard job.isRoot else { return }

        let names = dataset.classNames
        let width = max(12, names.map(\.count).max() ?? 0)
        print("class".padding(toLength: width, withPad: " ", startingAt: 0) + "     IoU    pixels")
        let iou = matrix.iou, truth = matrix.truthCounts
        for c in 0..<classes {
            print(names[c].padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %6.2f  %8d", 100 * iou[c], truth[c]))
        }
        print(String(format: "mIoU %.2f  pixel accuracy %.2f  mean accuracy %.2f  (%d images, %d labelled pixels, %.1f s)",
                     100 * matrix.meanIoU, 100 * matrix.pixelAccuracy, 100 * matrix.meanAccuracy, count,
                     truth.reduce(0, +), progress.elapsedSeconds))
        if classes <= 12 {
            print("confusion matrix (rows: truth, columns: prediction):")
            for r in 0..<classes {
                print(names[r].padding(toLength: width, withPad: " ", startingAt: 0)
                      + (0..<classes).map { String(format: " %9d", matrix[r, $0]) }.joined())
            }
        }
        let present = truth.filter { $0 > 0 }.count
        if present < classes {
            print(String(format: "(mIoU counts the %d classes absent from these labels as 0, as the official code; over the %d present: %.2f)",
                         classes - present, present, 100 * matrix.meanIoUOfPresentClasses))
        }
        if let jsonURL {
            let object: [String: Any] = [
                "mean_iou": matrix.meanIoU, "mean_iou_present_classes": matrix.meanIoUOfPresentClasses, "pixel_accuracy": matrix.pixelAccuracy, "mean_accuracy": matrix.meanAccuracy,
                "images": count, "classes": names, "iou": iou,
                "confusion": (0..<classes).map { r in (0..<classes).map { matrix[r, $0] } },
            ]
            let bytes = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            try writeAtomically(bytes, to: jsonURL)
            print("metrics: \(jsonURL.path)")
        }
    }
}
