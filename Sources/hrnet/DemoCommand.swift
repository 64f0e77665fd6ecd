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

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The whole pose job on a few synthetic photos: boxes in, keypoints, pictures and COCO AP out.",
        discussion: """
        Writes a small synthetic keypoint set (hrnet synth) into OUT/data, runs the top-down \
        pipeline with flip test on its val images with the ground-truth person boxes, draws the \
        skeletons into OUT/pictures, writes OUT/keypoints.json and prints COCO AP. With no model \
        named it runs the embedded default model (pose_default). Use the official COCO checkpoints \
        the same way: --config w32_256x192_adam_lr1e-3.yaml \
        --weights pose_hrnet_w32_256x192.pth (or any pose model with COCO's 17 keypoints).
        """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions

    @Option(help: "Where the data, pictures and results go.")
    var out: String = "out/demo"

    @Option(help: "Synthetic images to make (a fifth are evaluated, at least one).")
    var images: Int = 30

    @Option(help: "Seed of the synthetic images.")
    var seed: UInt64 = 7

    @Flag(help: "Replace OUT's previous demo.")
    var force = false

    func validate() throws {
        if images < 1 || images > 10_000 { throw ValidationError("--images must be 1...10000") }
    }

    /// The model's config, weights and plan options; only COCO-keypoint pose models qualify.
    func loadModel() throws -> (HRNetConfig, [String: Tensor], Plan.Options) {
        let config = try model.loadConfig()
        let joints = config.numJoints ?? 0
        guard joints == KeypointSet.coco.count else {
            throw ValidationError("the demo needs a pose model with COCO's 17 keypoints; \(config.source) is not one")
        }
        let loaded = try model.load(requireWeights: true)
        let options = try compute.planOptions(weights: model.weights, graph: loaded.model.graph)
        return (config, loaded.parameters, options)
    }

    func run() throws {
        let outDir = URL(fileURLWithPath: out, isDirectory: true)
        let dataDir = outDir.appendingPathComponent("data"), pictures = outDir.appendingPathComponent("pictures")
        let results = outDir.appendingPathComponent("keypoints.json")
        if FileManager.default.fileExists(atPath: results.path), !force {
            throw ValidationError("\(outDir.path) holds a previous demo; pass --force to replace it")
        }
        let (config, parameters, planOptions) = try loadModel()

        var options = SyntheticKeypointSet.Options(images: max(images, 2))
        options.seed = seed
        options.force = true
        options.valFraction = max(0.2, 1 / Double(max(images, 2)))
        let made = try SyntheticKeypointSet.write(to: dataDir, options: options)
        ProgressBar.say("made \(made.trainImages + made.valImages) synthetic images with \(made.people) people in \(dataDir.path)")

        let truth = try COCOGroundTruth.load(dataDir.appendingPathComponent("annotations/person_keypoints_val.json"))
        var estimatorOptions = PoseEstimator.Options(config: config)
        estimatorOptions.flipTest = true
        estimatorOptions.threads = compute.threads
        estimatorOptions.plan = planOptions
        let estimator = try PoseEstimator(config: config, parameters: parameters, options: estimatorOptions)
        let evaluation = COCOPoseEvaluation(truth: truth, imageDirectory: dataDir.appendingPathComponent("images/val"))
        let progress = ProgressBar("demo", total: truth.imageIDs.count)
        let result = try evaluation.run(estimator) { done, people in progress.advance(done - progress.done, note: "\(people) people") }
        progress.finish()
        // The job a user has: photos in, skeletons out. The built-in person detector finds the
        // people, taken as the official test takes a detector's (every one above TEST.IMAGE_THRE).
        var detecting = evaluation
        let purpose = PersonDetectorOptions.Purpose.evaluation(imageThreshold: config.poseTest.imageThreshold)
        let people = PersonDetectorOptions.boxes(from: try Detector.load(preset: DefaultDetector.presetName, weights: nil,
                                                                         options: .init(threads: compute.threads)), for: purpose)
        // How many a picture would show (MMPose's demo threshold), beside the AP over them all.
        var confident = 0
        detecting.personDetector = { image in
            let found = try people(image)
            confident += found.filter { $0.score > PersonDetectorOptions.Purpose.pictures.threshold }.count
            return found
        }
        let detectedProgress = ProgressBar("demo with detected people", total: truth.imageIDs.count)
        let detected = try detecting.run(estimator) { done, people in detectedProgress.advance(done - detectedProgress.done, note: "\(people) people") }
        detectedProgress.finish()

        try OutputDirectory.prepare(pictures, files: [], force: true)
        for id in truth.imageIDs {
            guard let info = truth.images[id] else { continue }
            var picture = try Image.load(dataDir.appendingPathComponent("images/val/\(info.fileName)"), applyOrientation: false)
            PoseDrawing.draw(result.results.filter { $0.imageID == id }.map(\.person), on: &picture, keypoints: estimator.keypoints)
            try picture.write(to: pictures.appendingPathComponent(URL(fileURLWithPath: info.fileName).deletingPathExtension().lastPathComponent + ".pose.jpg"))
        }
        try writeAtomically(Data(PoseResult.json(result.results).utf8), to: results)
        print(String(format: "%d people in %d images, COCO AP %.3f (flip test, ground-truth boxes); %.3f with the people the built-in "
                     + "detector found (%d scoring above %.1f)", result.results.count, truth.imageIDs.count, result.stats[0], detected.stats[0],
                     confident, PersonDetectorOptions.Purpose.pictures.threshold))
        if model.randomWeights { print("(random weights: the keypoints and the AP mean nothing; give --config and --weights)") }
        print("pictures: \(pictures.path)\nkeypoints: \(results.path)")
    }
}
