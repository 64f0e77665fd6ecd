import FileSupport
import ArgumentParser
import Datasets
import DNN
import Detection
import Foundation
import Imaging
import Pose

/// How a command names a detector: `--detector` an mmdetection config file or a preset name,
/// and `--detector-weights`.
struct DetectorOptions: ParsableArguments {
    @Option(name: .customLong("detector"), help: ArgumentHelp("An mmdetection Python config (its _base_ files resolved) or a preset: \(DetectorPresets.names.joined(separator: ", ")). Zoo checkpoints carry their config: --detector-weights alone is enough.", valueName: "config.py|preset"))
    var model: String?

    @Option(name: .customLong("detector-weights"), help: "mmdetection's checkpoint (.pth, zip or legacy) or .safetensors.")
    var weights: String?

    @OptionGroup var refiner: RefinerOptions

    var isGiven: Bool { model != nil || weights != nil }

    /// A config file when `model` names one that exists or ends in .py, else a preset.
    var config: String? { model.flatMap { $0.hasSuffix(".py") || FileManager.default.fileExists(atPath: $0) ? $0 : nil } }
    var preset: String? { model.flatMap { config == nil ? $0 : nil } }

    func load(threads: Int?, randomWeights: Bool = false) throws -> Detector {
        let detector = try Detector.load(config: config.map { URL(fileURLWithPath: $0) }, preset: preset, weights: weights.map { URL(fileURLWithPath: $0) },
                                         randomWeights: randomWeights, options: .init(threads: threads))
        refiner.apply(to: detector)
        return detector
    }
}

/// `--no-refiner`: the embedded person detector's first stage alone.
struct RefinerOptions: ParsableArguments {
    @Flag(help: "The embedded person detector without its box refiner: boxes as the FCOS head decodes them.")
    var noRefiner = false

    func apply(to detector: Detector) { if noRefiner { detector.refiner = nil } }
}

/// Person boxes for top-down pose from a detector (`hrnet pose` and `hrnet eval`).
struct PersonDetectorOptions: ParsableArguments {
    @OptionGroup var detector: DetectorOptions

    @Option(help: "With a detector: people scoring above this (default: MMPose's 0.3 for pictures; for AP, the config's TEST.IMAGE_THRE, 0.0 in the official files: every person the detector reports).")
    var personThreshold: Double?

    @Option(help: "With a detector: one more NMS over the people at this IoU (default: MMPose's 0.3 for pictures; for AP none, as the official test: the detector's own NMS only); 1 turns it off.")
    var personNMS: Double?

    /// What the people are for. Pictures (`hrnet pose`): MMPose's demo picks the confident people
    /// and suppresses overlaps at 0.3. AP (`hrnet eval`, the demo's score): the official test
    /// takes every person the detector reports above TEST.IMAGE_THRE and lets the re-score
    /// (box x joint scores) and OKS-NMS rank them; an NMS at 0.3 would drop people who overlap
    /// in crowds, a threshold of 0.3 the half-hidden ones.
    enum Purpose {
        case pictures
        case evaluation(imageThreshold: Double)

        var threshold: Double { if case .evaluation(let t) = self { t } else { 0.3 } }
        var nms: Double { if case .evaluation = self { 1 } else { 0.3 } }
    }

    func validate() throws {
        if detector.isGiven && detector.weights == nil && detector.preset != DefaultDetector.presetName {
            throw ValidationError("a person detector needs --detector-weights (or --detector \(DefaultDetector.presetName), the built-in one)")
        }
        for value in [personThreshold, personNMS].compactMap({ $0 }) where !(0...1).contains(value) {
            throw ValidationError("--person-threshold and --person-nms must be within 0...1")
        }
    }

    /// The detector, or nil without one (with `orDefault`, the built-in person detector).
    func load(threads: Int?, orDefault: Bool = false) throws -> Detector? {
        guard detector.isGiven || orDefault else { return nil }
        var options = detector
        if !detector.isGiven { options.model = DefaultDetector.presetName }
        return try options.load(threads: threads)
    }

    /// The boxes of each image, or nil without a detector (with `orDefault`, the built-in person detector).
    func boxes(threads: Int?, orDefault: Bool = false, for purpose: Purpose) throws -> ((Image) throws -> [PersonBox])? {
        try load(threads: threads, orDefault: orDefault).map { boxes(from: $0, for: purpose) }
    }

    /// A detector's people as `purpose` picks them, unless --person-threshold / --person-nms say otherwise.
    func boxes(from d: Detector, for purpose: Purpose) -> (Image) throws -> [PersonBox] {
        Self.boxes(from: d, threshold: personThreshold ?? purpose.threshold, nms: personNMS ?? purpose.nms)
    }

    /// A detector's people as pose boxes, picked as `purpose` picks them.
    static func boxes(from d: Detector, for purpose: Purpose) -> (Image) throws -> [PersonBox] {
        boxes(from: d, threshold: purpose.threshold, nms: purpose.nms)
    }

    /// A detector's people as pose boxes: those scoring above `threshold`, NMS at `nms` (1: none).
    /// Its box refiner, if it has one, skips the people the threshold drops.
    static func boxes(from d: Detector, threshold: Double, nms: Double) -> (Image) throws -> [PersonBox] {
        let (threshold, nms) = (Float(threshold), nms < 1 ? Float(nms) : nil)
        if let refiner = d.refiner { refiner.minimumScore = max(refiner.minimumScore, threshold) }
        return { image in
            try d.people(in: image, threshold: threshold, nmsThreshold: nms).map {
                PersonBox(x: Double($0.box.x1), y: Double($0.box.y1), width: Double($0.box.width), height: Double($0.box.height), score: Double($0.score))
            }
        }
    }
}

struct DetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Object detection with mmdetection's HRNetV2p detectors (FCOS, Faster R-CNN): images in, COCO detection results out.",
        discussion: """
        The model comes from --config (mmdetection's Python config), --preset, or the config that \
        mmdetection's checkpoints carry. The test pipeline is mmdetection's: resize to fit the \
        config's scale (1333x800), normalize, pad to 32, the head's threshold, top-k, NMS and \
        max_per_img. Results are COCO detection results (image_id, file_name, category_id, bbox \
        [x, y, w, h], score): `hrnet pose --boxes` reads them as they are. image_id is the id \
        --annotations gives the file name, else the number a COCO file name spells, else the \
        image's position on the command line.
        """
    )

    @Option(help: "An mmdetection Python config (its _base_ files resolved), e.g. fcos_hrnetv2p-w18-gn-head_4xb4-1x_coco.py.")
    var config: String?

    @Option(help: "A built-in detector: \(DetectorPresets.names.joined(separator: ", ")).")
    var preset: String?

    @Option(help: "mmdetection's checkpoint (.pth, zip or legacy) or .safetensors; zoo checkpoints carry their config.")
    var weights: String?

    @Flag(help: "Random weights instead of a checkpoint (for timing; the boxes mean nothing).")
    var randomWeights = false

    @Argument(help: "Images, directories of images, or quoted glob patterns.")
    var images: [String] = []

    @Option(help: "Write the COCO detection results JSON here.")
    var outJSON: String?

    @Option(help: "Write each image with its boxes drawn into this directory (<name>.det.jpg).")
    var draw: String?

    @Option(help: "Keep detections scoring at least this (the model's own threshold, 0.05 in mmdet's configs, applies first).")
    var scoreThreshold: Double = 0

    @Option(help: "Draw and print detections scoring at least this (mmdet's demo: 0.3).")
    var drawThreshold: Double = 0.3

    @Option(help: "Keep only these classes (comma-separated names, e.g. person,car).")
    var classes: String?

    @Option(help: "A COCO annotation file whose images give the image_id of each file name.")
    var annotations: String?

    @Option(help: "Images per network run (padded to the largest of them, as mmdet batches).")
    var batch: Int = 1

    @Option(help: "Threads for oneDNN and the engine's kernels (default: all cores).")
    var threads: Int?

    @Option(help: "Refuse images with more pixels than this, before decoding them.")
    var maxPixels: Int = Image.defaultMaxPixels

    @Flag(help: "Replace existing output files.")
    var force = false

    @OptionGroup var refiner: RefinerOptions

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image, directory or glob") }
        if config != nil && preset != nil { throw ValidationError("give one of --config FILE and --preset NAME, not both") }
        if weights != nil && randomWeights { throw ValidationError("--weights and --random-weights exclude each other") }
        if batch < 1 || batch > 256 { throw ValidationError("--batch must be 1...256") }
        if !(0...1).contains(scoreThreshold) || !(0...1).contains(drawThreshold) { throw ValidationError("thresholds must be within 0...1") }
        if maxPixels < 1 { throw ValidationError("--max-pixels must be positive") }
    }

    func run() throws {
        let files = try ImageFiles.expand(images)
        let outURL = outJSON.map { URL(fileURLWithPath: $0) }
        if let outURL, FileManager.default.fileExists(atPath: outURL.path), !force {
            throw ValidationError("\(outURL.path) exists; pass --force to replace it")
        }
        let drawDir = draw.map { URL(fileURLWithPath: $0, isDirectory: true) }
        if let drawDir { try OutputDirectory.prepare(drawDir, files: files.map { Self.drawnName($0) }, force: force) }
        let imageIDs = try annotations.map { try COCOGroundTruth.load(URL(fileURLWithPath: $0)) }
            .map { gt in Dictionary(gt.images.values.map { ($0.fileName, $0.id) }, uniquingKeysWith: { a, _ in a }) }

        let detector = try Detector.load(config: config.map { URL(fileURLWithPath: $0) }, preset: preset,
                                         weights: weights.map { URL(fileURLWithPath: $0) }, randomWeights: randomWeights,
                                         options: .init(threads: threads))
        refiner.apply(to: detector)
        let names = detector.spec.classes
        var wanted: Set<Int>?
        if let classes {
            let asked = classes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            wanted = Set(try asked.map { name in
                guard let i = names.firstIndex(of: name) else {
                    throw ValidationError("--classes: '\(name)' is not one of the model's classes (\(names.prefix(5).joined(separator: ", ")), ...)")
                }
                return i
            })
        }

        var results: [DetectionResult] = []
        let progress = ProgressBar("detect", total: files.count)
        var index = 0
        while index < files.count {
            let urls = Array(files[index..<min(files.count, index + batch)])
            let pictures = try urls.map { try Image.load($0, maxPixels: maxPixels) }
            let found = try detector.detect(pictures)
            for (k, (url, dets)) in zip(urls, found).enumerated() {
                let kept = dets.filter { Double($0.score) >= scoreThreshold && (wanted?.contains($0.label) ?? true) }
                let imageID = imageIDs?[url.lastPathComponent] ?? DetectionFile.imageID(of: url) ?? index + k + 1
                results += kept.map {
                    DetectionResult(imageID: imageID, fileName: url.lastPathComponent, detection: $0,
                                    categoryID: DetectionResult.categoryID(label: $0.label, classes: names))
                }
                let shown = kept.filter { Double($0.score) >= drawThreshold }
                if let drawDir {
                    var picture = pictures[k]
                    picture.drawDetections(shown, classes: names)
                    try picture.write(to: drawDir.appendingPathComponent(Self.drawnName(url)))
                }
                if outURL == nil && drawDir == nil {
                    for d in shown {
                        print(String(format: "%@ %@ %.3f [%.1f, %.1f, %.1f, %.1f]", url.lastPathComponent, names[d.label], d.score,
                                     d.box.x1, d.box.y1, d.box.x2, d.box.y2))
                    }
                }
            }
            index += urls.count
            progress.advance(urls.count, note: "\(results.count) detections")
        }
        progress.finish()
        if let outURL { try ResultsFile.write(Data(DetectionResult.json(results).utf8), to: outURL) }
        let total = progress.elapsedSeconds
        print(String(format: "%d images, %d detections in %.2f s: %.2f images/s; network %.2f s (%d plan compiles %.2f s), the rest %.2f s",
                     files.count, results.count, total, Double(files.count) / total, detector.networkSeconds, detector.compiledPlans,
                     detector.compileSeconds, detector.otherSeconds))
        if let outURL { print("results: \(outURL.path)") }
        if let drawDir { print("drawings: \(drawDir.path)") }
    }

    static func drawnName(_ url: URL) -> String { url.deletingPathExtension().lastPathComponent + ".det.jpg" }
}
