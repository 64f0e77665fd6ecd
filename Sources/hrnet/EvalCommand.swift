import FileSupport
import ArgumentParser
import Datasets
import DNN
import Detection
import Foundation
import HRNet
import Imaging
import Pose
import PoseTraining

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "COCO keypoint AP (or MPII PCKh) of a pose model on a data set split, as the official test does.",
        discussion: """
        COCO: reads DATA/annotations/person_keypoints_SPLIT.json and the images in DATA/images/SPLIT \
        (or DATA/SPLIT). Person boxes are the ground truth's (the official USE_GT_BBOX: people \
        with a labelled keypoint, boxes clipped to the image) unless --boxes gives a detector's \
        results. Each person is re-scored (box score x mean joint score above 0.2), OKS-NMS at \
        0.9 runs per image, the results JSON is written and COCOeval's numbers are printed. \
        MPII (the config's DATASET.DATASET is mpii; split default valid): every person of \
        DATA/annot/SPLIT.json is cropped at its center and scale (images in DATA/images), the \
        predictions are written (--out-json, default pred_SPLIT.json: N x 16 x [x, y], 1-based \
        as the official pred.mat) and scored by PCKh against DATA/annot/gt_SPLIT.mat; the \
        official table is printed (Head ... Ankle, Mean, Mean@0.1).
        """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup(title: "Person detector (instead of boxes)") var people: PersonDetectorOptions

    @Option(help: "COCO root: annotations/ and images/ (or the split folder) below it.")
    var data: String

    @Option(help: "The split (default: val2017; MPII: valid).")
    var split: String?

    @Option(help: "Person detections (COCO results JSON); default: the ground-truth boxes.")
    var boxes: String?

    @Flag(help: "Use the ground-truth person boxes (the default when --boxes is not given).")
    var gtBoxes = false

    @Flag(help: "Detect the people with the built-in person detector (the whole pipeline, as on photos; or --detector for another).")
    var detect = false

    @Flag(inversion: .prefixedNo, help: "Flip test (default: the config's TEST.FLIP_TEST).")
    var flipTest: Bool?

    @Flag(help: "Decode heatmaps with DARK (distribution-aware refinement) instead of the quarter-pixel offset, blurring with an 11-pixel Gaussian (what a config with TEST.BLUR_KERNEL does by default, at its kernel).")
    var dark = false

    @Flag(help: "Soft OKS-NMS (Gaussian score decay, TEST.SOFT_NMS) instead of the hard one.")
    var softNMS = false

    @Option(help: "Evaluate only the first N images (by id; MPII: the first N people).")
    var limit: Int?

    @Option(help: "People per network run.")
    var batch: Int = 16

    @Option(help: "Where to write the results JSON (default: keypoints_SPLIT_results.json; MPII: pred_SPLIT.json).")
    var outJSON: String?

    @Flag(help: "Replace the results JSON if it exists.")
    var force = false

    @Flag(help: "Print {\"stats\": [...]} (MPII: {\"pckh\": {...}, \"per_joint\": [...]}) instead of the table.")
    var json = false

    func validate() throws {
        if boxes != nil && gtBoxes { throw ValidationError("give --boxes FILE or --gt-boxes, not both") }
        if detect && (boxes != nil || gtBoxes) { throw ValidationError("--detect finds the people: give it or boxes (--boxes, --gt-boxes), not both") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if batch < 1 || batch > 4096 { throw ValidationError("--batch must be 1...4096") }
    }

    func run() throws {
        if try model.loadConfig().dataset.lowercased() == "mpii" { return try runMPII() }
        let split = self.split ?? "val2017"
        let root = URL(fileURLWithPath: data, isDirectory: true)
        let located = try COCOSplit(root: root, split: split, kind: .keypoints)
        let (annotations, imageDir) = (located.annotations, located.images)
        let outURL = URL(fileURLWithPath: outJSON ?? "keypoints_\(split)_results.json")
        if FileManager.default.fileExists(atPath: outURL.path), !force {
            throw ValidationError("\(outURL.path) exists; pass --force to replace it")
        }

        let job = try MPIJob()
        try job.run("eval") { try runCOCO(annotations: annotations, imageDir: imageDir, outURL: outURL, split: split, job: job) }
    }

    /// COCO keypoint AP; under mpirun each process runs every N-th image and the first scores and writes.
    func runCOCO(annotations: URL, imageDir: URL, outURL: URL, split: String, job: MPIJob) throws {
        var truth = try COCOGroundTruth.load(annotations)
        guard !truth.imageIDs.isEmpty else { throw ValidationError("\(annotations.lastPathComponent) has no images") }
        if let limit { truth.limit(to: limit) }
        let (net, parameters, _) = try model.load(requireWeights: true)
        let imageThreshold = net.config.poseTest.imageThreshold
        let detections = try boxes.map { try DetectionFile.load(URL(fileURLWithPath: $0), minScore: imageThreshold) }
        var options = PoseEstimator.Options(config: net.config, flipTest: flipTest, dark: dark, softNMS: softNMS)
        options.batchSize = batch
        options.threads = job.threads(compute.threads)
        options.plan = try compute.planOptions(weights: model.weights, graph: net.graph)
        if (people.detector.isGiven || detect) && (boxes != nil || gtBoxes) { throw ValidationError("give a detector or boxes (--boxes, --gt-boxes), not both") }
        var evaluation = COCOPoseEvaluation(truth: truth, imageDirectory: imageDir, detections: detections)
        evaluation.personDetector = try people.boxes(threads: job.threads(compute.threads), orDefault: detect,
                                                       for: .evaluation(imageThreshold: imageThreshold))
        evaluation.groupCrops = 4 * batch
        evaluation.communicator = job.world
        // The data set's keypoint names give the flip pairs (COCO's own names: COCO's set).
        let estimator = try PoseEstimator(config: net.config, parameters: parameters,
                                          keypoints: evaluation.keypoints(joints: net.config.numJoints ?? 0), options: options)
        let progress = ProgressBar("eval \(split)", total: truth.imageIDs.count)
        let result = try evaluation.run(estimator) { images, people in
            progress.advance(images - progress.done, note: "\(people) people")
        }
        progress.finish()
        guard job.isRoot else { return }
        // The numbers first: a results file that cannot be written does not take them with it.
        if json {
            print("{\"stats\": [" + result.stats.map { String(format: "%.17g", $0) }.joined(separator: ", ") + "]}")
        } else {
            print(COCOEval(groundTruth: truth, results: [], iouType: .keypoints).format(result.stats))
        }
        try ResultsFile.write(Data(PoseResult.json(result.results).utf8), to: outURL)
        FileHandle.standardError.write(Data("results: \(outURL.path)\n".utf8))
    }

    /// MPII: PCKh of the people of DATA/annot/SPLIT.json against DATA/annot/gt_SPLIT.mat.
    func runMPII() throws {
        let split = self.split ?? "valid"
        if boxes != nil || gtBoxes || detect { throw ValidationError("MPII is evaluated at the annotated centers and scales: --boxes, --gt-boxes and --detect are for COCO") }
        if softNMS { throw ValidationError("--soft-nms is for COCO (MPII evaluates every annotated person, without NMS)") }
        let root = URL(fileURLWithPath: data, isDirectory: true)
        let outURL = URL(fileURLWithPath: outJSON ?? "pred_\(split).json")
        if FileManager.default.fileExists(atPath: outURL.path), !force {
            throw ValidationError("\(outURL.path) exists; pass --force to replace it")
        }
        let job = try MPIJob()
        try job.run("eval") { try runMPII(root: root, split: split, outURL: outURL, job: job) }
    }

    /// Under mpirun each process predicts every N-th batch of people; the first writes and prints.
    func runMPII(root: URL, split: String, outURL: URL, job: MPIJob) throws {
        var evaluation = try MPIIPoseEvaluation.load(root: root, split: split)
        if let limit { evaluation = evaluation.prefix(limit) }
        evaluation.communicator = job.world
        let (net, parameters, _) = try model.load(requireWeights: true)
        var options = PoseEstimator.Options(config: net.config, flipTest: flipTest, dark: dark)
        options.batchSize = batch
        options.threads = job.threads(compute.threads)
        options.plan = try compute.planOptions(weights: model.weights, graph: net.graph)
        let estimator = try PoseEstimator(config: net.config, parameters: parameters, keypoints: .mpii, options: options)
        let progress = ProgressBar("eval \(split)", total: evaluation.dataset.count, unit: "people")
        let (pckh, predictions) = try evaluation.run(estimator) { progress.advance($0 - progress.done) }
        progress.finish()
        guard job.isRoot else { return }
        try ResultsFile.write(Data(MPIIPoseEvaluation.predictionsJSON(predictions).utf8), to: outURL)
        FileHandle.standardError.write(Data("predictions: \(outURL.path)\n".utf8))
        if json {
            func number(_ v: Double) -> String { v.isFinite ? String(format: "%.17g", v) : "null" }
            print("{\"pckh\": {" + pckh.summary.map { "\"\($0.name)\": \(number($0.value))" }.joined(separator: ", ") + "}, "
                  + "\"per_joint\": [" + pckh.perJoint.map(number).joined(separator: ", ") + "]}")
        } else {
            print(pckh.format())
        }
    }
}
