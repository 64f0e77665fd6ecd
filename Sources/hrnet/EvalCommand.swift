import ArgumentParser
import Datasets
import DNN
import Foundation
import HRNet
import Imaging
import Pose

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "COCO keypoint AP of a pose model on a data set split, as the official test does.",
        discussion: """
        Reads DATA/annotations/person_keypoints_SPLIT.json and the images in DATA/images/SPLIT
        (or DATA/SPLIT). Person boxes are the ground truth's (the official USE_GT_BBOX: people
        with a labelled keypoint, boxes clipped to the image) unless --boxes gives a detector's
        results. Each person is re-scored (box score x mean joint score above 0.2), OKS-NMS at
        0.9 runs per image, the results JSON is written and COCOeval's numbers are printed.
        """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions

    @Option(help: "COCO root: annotations/ and images/ (or the split folder) below it.")
    var data: String

    @Option(help: "The split, e.g. val2017.")
    var split: String = "val2017"

    @Option(help: "Person detections (COCO results JSON); default: the ground-truth boxes.")
    var boxes: String?

    @Flag(help: "Use the ground-truth person boxes (the default when --boxes is not given).")
    var gtBoxes = false

    @Flag(inversion: .prefixedNo, help: "Flip test (default: the config's TEST.FLIP_TEST).")
    var flipTest: Bool?

    @Flag(help: "Decode with DARK instead of the quarter-pixel offset.")
    var dark = false

    @Flag(help: "Soft OKS-NMS (Gaussian score decay, TEST.SOFT_NMS) instead of the hard one.")
    var softNMS = false

    @Option(help: "Evaluate only the first N images (by id).")
    var limit: Int?

    @Option(help: "People per network run.")
    var batch: Int = 16

    @Option(help: "Where to write the results JSON (default: keypoints_SPLIT_results.json).")
    var outJSON: String?

    @Flag(help: "Replace the results JSON if it exists.")
    var force = false

    @Flag(help: "Print {\"stats\": [...]} instead of the table.")
    var json = false

    func validate() throws {
        if boxes != nil && gtBoxes { throw ValidationError("give --boxes FILE or --gt-boxes, not both") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if batch < 1 || batch > 4096 { throw ValidationError("--batch must be 1...4096") }
    }

    func run() throws {
        let root = URL(fileURLWithPath: data, isDirectory: true)
        let annotations = root.appendingPathComponent("annotations/person_keypoints_\(split).json")
        guard FileManager.default.fileExists(atPath: annotations.path) else {
            throw ValidationError("\(annotations.path): no such file (expected DATA/annotations/person_keypoints_\(split).json)")
        }
        let imageDir = [root.appendingPathComponent("images/\(split)"), root.appendingPathComponent(split)]
            .first { FileManager.default.fileExists(atPath: $0.path) }
        guard let imageDir else { throw ValidationError("\(root.path): neither images/\(split) nor \(split) exists") }
        let outURL = URL(fileURLWithPath: outJSON ?? "keypoints_\(split)_results.json")
        if FileManager.default.fileExists(atPath: outURL.path), !force {
            throw ValidationError("\(outURL.path) exists; pass --force to replace it")
        }

        var truth = try COCOGroundTruth.load(annotations)
        guard !truth.imageIDs.isEmpty else { throw ValidationError("\(annotations.lastPathComponent) has no images") }
        if let limit, limit < truth.imageIDs.count {
            truth.imageIDs = Array(truth.imageIDs.prefix(limit))
            let kept = Set(truth.imageIDs)
            truth.annotations = truth.annotations.filter { kept.contains($0.imageID) }
        }
        let detections = try boxes.map { try DetectionFile.load(URL(fileURLWithPath: $0)) }
        let gtBoxes = truth.personBoxesByImage()

        let (net, parameters, _) = try model.load(requireWeights: true)
        var options = PoseEstimator.Options(flipTest: flipTest ?? net.config.flipTest)
        options.decoding = dark ? .dark(kernel: 11) : .standard
        options.batchSize = batch
        options.threads = compute.threads
        options.softNMS = softNMS
        options.plan = try compute.planOptions(weights: model.weights, graph: net.graph)
        // The data set's keypoint names give the flip pairs (COCO's own names: COCO's set).
        var keypoints: KeypointSet?
        if let names = truth.keypointNames[1], names.count == net.config.numJoints {
            keypoints = .named(names, skeleton: (truth.skeletons[1] ?? []).map { $0.map { $0 - 1 } })
        }
        let estimator = try PoseEstimator(config: net.config, parameters: parameters, keypoints: keypoints, options: options)

        var results: [COCOObject] = []
        var written: [PoseResult] = []
        let progress = Progress("eval \(split)", total: truth.imageIDs.count)
        var next = 0
        while next < truth.imageIDs.count {
            // Several images per step so their crops share network runs.
            var group: [(id: Int, file: String, image: Image, boxes: [PersonBox])] = []
            var crops = 0
            while next < truth.imageIDs.count && crops < 4 * batch && group.count < 64 {
                let id = truth.imageIDs[next]
                next += 1
                let info = truth.images[id]!
                let boxes: [PersonBox]
                if let detections {
                    boxes = detections.byImageID[id] ?? detections.byFileName[info.fileName] ?? []
                } else {
                    boxes = (gtBoxes[id] ?? []).map { PersonBox(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
                }
                if boxes.isEmpty { progress.advance(); continue }
                let url = imageDir.appendingPathComponent(info.fileName)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw ValidationError("\(url.path): image \(id) of \(annotations.lastPathComponent) is missing")
                }
                // The official code reads with IMREAD_IGNORE_ORIENTATION: annotations are in stored pixels.
                let image = try Image.load(url, applyOrientation: false)
                group.append((id, info.fileName, image, boxes))
                crops += boxes.count
            }
            if group.isEmpty { continue }
            let people = try estimator.estimate(group.map { ($0.image, $0.boxes) })
            for (item, found) in zip(group, people) {
                for person in found {
                    results.append(COCOObject(imageID: item.id, categoryID: 1,
                                              keypoints: person.keypoints.flatMap { [$0.x, $0.y, $0.score] }, score: person.score))
                    written.append(PoseResult(imageID: item.id, fileName: item.file, person: person))
                }
            }
            progress.advance(group.count, note: "\(results.count) people")
        }
        progress.finish()
        try writeAtomically(Data(PoseResult.json(written).utf8), to: outURL)
        FileHandle.standardError.write(Data("results: \(outURL.path)\n".utf8))
        guard !results.isEmpty else {
            throw ValidationError("no person was found in \(truth.imageIDs.count) images: nothing to evaluate")
        }
        let eval = COCOEval(groundTruth: truth, results: COCOResults.complete(results, iouType: .keypoints), iouType: .keypoints,
                            sigmas: estimator.keypoints.sigmas)
        let stats = try eval.run()
        if json {
            print("{\"stats\": [" + stats.map { String(format: "%.17g", $0) }.joined(separator: ", ") + "]}")
        } else {
            print(eval.format(stats))
        }
    }
}
