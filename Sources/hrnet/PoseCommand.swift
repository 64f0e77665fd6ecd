import FileSupport
import ArgumentParser
import DNN
import Detection
import Foundation
import HRNet
import Imaging
import Pose

struct PoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pose",
        abstract: "Top-down pose estimation on images: person boxes in, COCO keypoints out.",
        discussion: """
        IMAGE may be a file (JPEG or PNG), a directory (its .jpg/.jpeg/.png files) or a quoted \
        glob ('photos/*.jpg'). Boxes come from a COCO detection-results JSON (--boxes: image_id, \
        or file_name, bbox, score, category_id 1), from --box, or from a detector (--detector); with \
        none, the built-in person detector finds the people (trained on `hrnet synth` figures, as the \
        default pose model; --whole-image takes the whole image as one box instead). Results are COCO keypoint results (image_id, category_id 1, keypoints \
        [x, y, score] per joint, score = box score x mean joint score above 0.2), after OKS-NMS \
        at 0.9, as the official test pipeline. The image_id is the detection file's, else the \
        number a COCO file name spells, else the image's position on the command line.
        """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup(title: "Person detector (instead of boxes)") var people: PersonDetectorOptions

    @Argument(help: "Images, directories of images, or quoted glob patterns.")
    var images: [String] = []

    @Option(help: "Person boxes: a COCO detection-results JSON.")
    var boxes: String?

    @Option(name: .customLong("box"), help: ArgumentHelp("A person box x,y,w,h in pixels, for every image (repeatable).", valueName: "x,y,w,h"))
    var boxList: [String] = []

    @Option(help: "Leave out detections scoring below this (TEST.IMAGE_THRE).")
    var minBoxScore: Double = 0

    @Flag(inversion: .prefixedNo, help: "Average with the mirrored crop's heatmaps (default: the config's TEST.FLIP_TEST).")
    var flipTest: Bool?

    @Flag(help: "Decode heatmaps with DARK (distribution-aware refinement) instead of the quarter-pixel offset, blurring with an 11-pixel Gaussian (what a config with TEST.BLUR_KERNEL does by default, at its kernel).")
    var dark = false

    @Option(help: "OKS-NMS threshold over each image's people (default: the config's TEST.OKS_THRE, 0.9 in the official files); 1 keeps everyone.")
    var oksThreshold: Double?

    @Flag(help: "Soft OKS-NMS (Gaussian score decay, TEST.SOFT_NMS) instead of the hard one.")
    var softNMS = false

    @Option(help: "Keypoint names, flip pairs and skeleton (YAML or JSON); default COCO's 17 for 17-joint models.")
    var keypoints: String?

    @Option(help: "Write the COCO results JSON here.")
    var outJSON: String?

    @Option(help: "Write each image with its skeletons drawn into this directory (<name>.pose.jpg).")
    var draw: String?

    @Option(help: "People per network run (with flip test the network sees twice as many crops).")
    var batch: Int = 8

    @Option(help: "Refuse images with more pixels than this, before decoding them.")
    var maxPixels: Int = Image.defaultMaxPixels

    @Flag(help: "Replace existing output files.")
    var force = false

    @Flag(help: "With no boxes and no detector: the whole image is one person (instead of the built-in person detector).")
    var wholeImage = false

    @OptionGroup var bad: BadImageOptions

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image, directory or glob") }
        if batch < 1 || batch > 4096 { throw ValidationError("--batch must be 1...4096") }
        if boxes != nil && !boxList.isEmpty { throw ValidationError("give --boxes FILE or --box, not both") }
        if people.detector.isGiven && (boxes != nil || !boxList.isEmpty) { throw ValidationError("give a detector or boxes (--boxes, --box), not both") }
        if let oksThreshold, !(0...1).contains(oksThreshold) { throw ValidationError("--oks-threshold must be within 0...1") }
        if maxPixels < 1 { throw ValidationError("--max-pixels must be positive") }
    }

    func run() throws {
        let files = try ImageFiles.expand(images)
        let manual = try boxList.map(Self.parseBox)
        let detections = try boxes.map { try DetectionFile.load(URL(fileURLWithPath: $0), minScore: minBoxScore) }
        if let detections, let boxes {
            let stray = detections.unmatched(by: files)
            if stray > 0 {
                warn("\(stray) of the \(detections.count) boxes in \(boxes) belong to none of the \(files.count) images given "
                     + "(another split's file? boxes match by file_name, else by the image id in a COCO file name)")
            }
        }
        let outURL = outJSON.map { URL(fileURLWithPath: $0) }
        if let outURL, FileManager.default.fileExists(atPath: outURL.path), !force {
            throw ValidationError("\(outURL.path) exists; pass --force to replace it")
        }
        let drawDir = draw.map { URL(fileURLWithPath: $0, isDirectory: true) }
        if let drawDir { try OutputDirectory.prepare(drawDir, files: files.map { Self.drawnName($0) }, force: force) }

        let (net, parameters, _) = try model.load(requireWeights: true)
        if model.isDefaultModel && model.weights == nil {
            ProgressBar.say("hrnet: note: the embedded default model knows synthetic figures (hrnet synth), not photos; for photos give an "
                            + "official checkpoint, e.g. --preset pose_w32_256x192 --weights pose_hrnet_w32_256x192.pth")
        }
        var options = PoseEstimator.Options(config: net.config, flipTest: flipTest, dark: dark, softNMS: softNMS)
        options.batchSize = batch
        if let oksThreshold { options.nmsThreshold = oksThreshold < 1 ? oksThreshold : nil }
        options.threads = compute.threads
        options.plan = try compute.planOptions(weights: model.weights, graph: net.graph)
        let keypointSet = try keypoints.map { try KeypointSet.load(URL(fileURLWithPath: $0)) }
        let estimator = try PoseEstimator(config: net.config, parameters: parameters, keypoints: keypointSet, options: options)
        // No boxes of any kind: the built-in person detector (unless --whole-image).
        let detector = try people.load(threads: compute.threads, orDefault: boxes == nil && manual.isEmpty && !wholeImage)
        let personDetector = detector.map { people.boxes(from: $0, for: .pictures) }

        var results: [PoseResult] = []
        let progress = ProgressBar("pose", total: files.count)
        // Many people in a group of images: the bar's note counts the crops.
        estimator.cropsDone = { done, total in if total > 4 * batch { progress.advance(0, note: "people \(done)/\(total)") } }
        // Images go through in groups whose boxes fill about four network batches, so crops of
        // several images share runs (few padded ones) while memory stays bounded by the group.
        let skipped = BadImageOptions.Skipped()
        try estimator.stream(count: files.count, groupCrops: 4 * batch, item: { index in
            let url = files[index]
            guard let image = try bad.image(url, skipped: skipped, load: { try Image.load($0, maxPixels: maxPixels) }) else { return nil }
            var boxes = detections?.boxes(forFile: url) ?? (manual.isEmpty ? [.whole(width: image.width, height: image.height)] : manual)
            if let personDetector { boxes = try personDetector(image) }
            if let why = PersonBox.problem(among: boxes, imageWidth: image.width, imageHeight: image.height) {
                throw ValidationError("\(url.path): \(why)")
            }
            return PoseEstimator.StreamItem(boxes: boxes, image: { image })
        }, deliver: { index, image, found in
            let url = files[index]
            let imageID = DetectionFile.imageID(of: url) ?? index + 1
            results += found.map { PoseResult(imageID: imageID, fileName: url.lastPathComponent, person: $0) }
            if let drawDir {
                var picture = image
                PoseDrawing.draw(found, on: &picture, keypoints: estimator.keypoints)
                try picture.write(to: drawDir.appendingPathComponent(Self.drawnName(url)))
            }
        }, progress: { done in progress.advance(done - progress.done, note: "\(results.count) people") })
        let networkSeconds = estimator.networkSeconds
        progress.finish()
        bad.report(skipped, of: files.count)
        if let outURL { try ResultsFile.write(Data(PoseResult.json(results).utf8), to: outURL) }
        let total = progress.elapsedSeconds
        print(String(format: "%d images, %d people in %.2f s: %.2f images/s; network %.2f s (%.0f%%; %d plan compiles %.2f s), the rest %.0f%%",
                     files.count, results.count, total, Double(files.count) / total, networkSeconds,
                     100 * networkSeconds / total, estimator.compiledPlans, estimator.compileSeconds, 100 * (1 - networkSeconds / total)))
        if let detector {
            let t = detector.timing
            let refiner = detector.refiner.map { String(format: ", box refiner %.3f s (network %.3f s)", t.refinement, $0.networkSeconds) } ?? ""
            print(String(format: "person detector %.3f s of it: network %.3f s%@, the rest %.3f s",
                         t.total, t.network, refiner, t.total - t.network - t.refinement))
        }
        if let outURL { print("results: \(outURL.path)") }
        if let drawDir { print("drawings: \(drawDir.path)") }
        if outURL == nil && drawDir == nil {
            for r in results { print(r.summary(names: estimator.keypoints.names)) }
        }
    }

    static func drawnName(_ url: URL) -> String { url.deletingPathExtension().lastPathComponent + ".pose.jpg" }

    static func parseBox(_ text: String) throws -> PersonBox {
        let v = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 4, let x = v[0], let y = v[1], let w = v[2], let h = v[3], w > 0, h > 0,
              [x, y, w, h].allSatisfy(\.isFinite) else {
            throw ValidationError("--box '\(text)' must be x,y,w,h with a positive width and height")
        }
        return PersonBox(x: x, y: y, width: w, height: h)
    }
}
