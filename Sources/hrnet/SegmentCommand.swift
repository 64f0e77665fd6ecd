import ArgumentParser
import DNN
import Foundation
import HRNet
import Imaging
import Segmentation

/// Test-time options shared by `segment` and `eval-seg`; each defaults to the config's TEST section.
struct SegmentationTestOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Test scales, e.g. 0.75,1,1.25 (default: the config's TEST.SCALE_LIST).", valueName: "s1,s2,..."))
    var scales: String?

    @Flag(inversion: .prefixedNo, help: "Average with the mirrored image's output (default: the config's TEST.FLIP_TEST).")
    var flip: Bool?

    @Option(help: ArgumentHelp("Window size HxW for sliding-window inference (default: the config's TEST.IMAGE_SIZE).", valueName: "HxW"))
    var crop: String?

    @Option(help: "The long side of an image at scale 1 (default: the config's TEST.BASE_SIZE).")
    var baseSize: Int?

    @Option(help: ArgumentHelp("Window placement: official (overlapping, padded; BaseDataset) or cityscapes (whole image at scales <= 1, non-overlapping windows above). Default: by DATASET.DATASET.",
                               valueName: "official|cityscapes"))
    var windows: String?

    func options(for config: HRNetConfig) throws -> Segmenter.Options {
        var o = Segmenter.Options(config: config)
        if let scales {
            let list = scales.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !list.isEmpty, list.allSatisfy({ $0 != nil && $0! > 0 && $0! <= 16 }) else {
                throw ValidationError("--scales '\(scales)' must be comma-separated numbers in (0, 16]")
            }
            o.scales = list.map { $0! }
        }
        if let flip { o.flip = flip }
        if let crop {
            let hw = crop.lowercased().split(separator: "x").compactMap { Int($0) }
            guard hw.count == 2, hw[0] >= 2, hw[1] >= 2 else { throw ValidationError("--crop '\(crop)' must be HxW, e.g. 512x1024") }
            o.crop = (hw[0], hw[1])
        }
        if let baseSize {
            guard baseSize > 0 && baseSize <= 100_000 else { throw ValidationError("--base-size must be 1...100000") }
            o.baseSize = baseSize
        }
        if let windows {
            guard let p = WindowPolicy(rawValue: windows) else { throw ValidationError("--windows must be official or cityscapes") }
            o.policy = p
        }
        return o
    }

}

extension Segmenter.Options {
    var summary: String {
        "scales \(scales.map { String(format: "%g", $0) }.joined(separator: ",")), flip \(flip ? "on" : "off"), "
            + "base size \(baseSize), windows \(crop.height)x\(crop.width) (\(policy.rawValue))"
    }
}

struct SegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Semantic segmentation of images with an HRNetV2 (seg_hrnet) or HRNet-OCR (seg_hrnet_ocr) model.",
        discussion: """
        Runs the official test procedure: each scale resizes the image so its long side is \
        TEST.BASE_SIZE x scale (OpenCV bilinear), images larger than the window (TEST.IMAGE_SIZE) \
        run in sliding windows, logits are upsampled to the input, optionally averaged with the \
        mirrored image, exp'd, resized to the image and summed over scales; the arg-max is the \
        class. With --out DIR, writes for each image <name>.labels.png (8-bit class ids: train \
        ids, or Cityscapes label ids with --label-ids), <name>.color.png (the data set's palette) \
        and with --overlay <name>.overlay.jpg (the colours blended over the photo). Without \
        --out, prints each image's class areas.
        """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var test: SegmentationTestOptions

    @Argument(help: "Images, directories of images, or quoted glob patterns.")
    var images: [String] = []

    @Option(help: "Write label, colour (and overlay) PNGs into this directory.")
    var out: String?

    @Flag(help: "Also write <name>.overlay.jpg: the class colours blended over the photo.")
    var overlay = false

    @Option(help: "Overlay opacity of the class colours, 0...1.")
    var alpha: Double = 0.5

    @Flag(help: "Write Cityscapes label ids (7 road ... 33 bicycle) instead of train ids (Cityscapes models only).")
    var labelIds = false

    @Option(help: "Class names and colours for your own data: a classes.txt (name [R G B] per line).")
    var classes: String?

    @Option(help: "Refuse images with more pixels than this, before decoding them.")
    var maxPixels: Int = Image.defaultMaxPixels

    @Flag(help: "Replace existing output files.")
    var force = false

    @OptionGroup var bad: BadImageOptions

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image, directory or glob") }
        if !(0...1).contains(alpha) { throw ValidationError("--alpha must be within 0...1") }
        if overlay && out == nil { throw ValidationError("--overlay needs --out DIR") }
        if maxPixels < 1 { throw ValidationError("--max-pixels must be positive") }
    }

    func run() throws {
        let files = try ImageFiles.expand(images)
        let config = try model.loadConfig()
        guard let classCount = config.numClasses else {
            throw ValidationError("\(config.source) is a \(config.modelName) model; segment needs seg_hrnet or seg_hrnet_ocr")
        }
        if labelIds && !(config.dataset.lowercased() == "cityscapes" && classCount == 19) {
            throw ValidationError("--label-ids needs a 19-class Cityscapes model; \(config.source) has DATASET \(config.dataset), \(classCount) classes")
        }
        let (names, palette) = try Self.classes(config: config, file: classes)
        let outDir = out.map { URL(fileURLWithPath: $0, isDirectory: true) }
        if let outDir {
            let produced = files.flatMap { url -> [String] in
                let stem = url.deletingPathExtension().lastPathComponent
                return [stem + ".labels.png", stem + ".color.png"] + (overlay ? [stem + ".overlay.jpg"] : [])
            }
            try OutputDirectory.prepare(outDir, files: produced, force: force)
        }
        let (net, parameters, _) = try model.load(requireWeights: true)
        let options = try test.options(for: config)
        let segmenter = try Segmenter(model: net, parameters: parameters, options: options, threads: compute.threads,
                                      planOptions: try compute.planOptions(weights: model.weights, graph: net.graph))
        ProgressBar.say("segment: \(files.count) images; \(options.summary)")
        let progress = ProgressBar("segment", total: files.count)
        // Inside a large image (many windows, several scales) the bar's note counts its windows.
        segmenter.windowDone = { done, total in if total > 1 { progress.advance(0, note: "image \(progress.done + 1): window \(done)/\(total)") } }
        var networkSeconds = 0.0
        let skipped = BadImageOptions.Skipped()
        for url in files {
            guard let image = try bad.image(url, skipped: skipped, load: { try Image.load($0, maxPixels: maxPixels) }) else {
                progress.advance()
                continue
            }
            let start = DispatchTime.now()
            let labels = try segmenter.labels(image)
            networkSeconds += Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            let stem = url.deletingPathExtension().lastPathComponent
            if let outDir {
                let stored = labelIds ? try Cityscapes.labelIDs(fromTrainIDs: labels) : labels
                try stored.writePNG(to: outDir.appendingPathComponent(stem + ".labels.png"))
                try palette.colorize(labels).write(to: outDir.appendingPathComponent(stem + ".color.png"))
                if overlay {
                    try palette.overlay(labels, on: image, alpha: alpha).write(to: outDir.appendingPathComponent(stem + ".overlay.jpg"))
                }
            } else {
                print("\(url.lastPathComponent): " + Self.areas(labels, names: names))
            }
            progress.advance()
        }
        progress.finish()
        bad.report(skipped, of: files.count)
        let total = progress.elapsedSeconds
        print(String(format: "%d images in %.2f s: %.2f s/image; segmentation %.2f s (network runs %.2f s, %d plan compiles %.2f s, pre/post-processing %.2f s)",
                     files.count, total, total / Double(max(1, files.count)), networkSeconds, segmenter.networkSeconds,
                     segmenter.compiledPlans, segmenter.compileSeconds,
                     networkSeconds - segmenter.networkSeconds - segmenter.compileSeconds))
        if let outDir { print("outputs: \(outDir.path)") }
    }

    /// The class names and palette: a classes.txt when given, else the data set's by DATASET.DATASET.
    static func classes(config: HRNetConfig, file: String?) throws -> ([String], Palette) {
        let n = config.numClasses ?? 0
        if let file {
            let (names, colors) = try SegmentationDataset.readClassList(URL(fileURLWithPath: file))
            guard names.count == n else {
                throw ValidationError("\(file) lists \(names.count) classes but \(config.source) has DATASET.NUM_CLASSES \(n)")
            }
            let palette = colors.contains { $0 == nil } ? Palette.voc(count: n) : Palette(colors: colors.map { $0! })
            return (names, palette)
        }
        return (DatasetClassNames.names(dataset: config.dataset, classes: n), Palette.forDataset(config.dataset, classes: n))
    }

    /// "road 41.2%, car 12.0%, ..." (classes above 0.5% of the image, largest first).
    static func areas(_ map: LabelMap, names: [String]) -> String {
        var counts = [Int](repeating: 0, count: 256)
        for v in map.labels { counts[Int(v)] += 1 }
        let total = Double(map.labels.count)
        return counts.enumerated().filter { Double($0.element) / total >= 0.005 }.sorted { $0.element > $1.element }
            .map { String(format: "%@ %.1f%%", $0.offset < names.count ? names[$0.offset] : "class \($0.offset)", 100 * Double($0.element) / total) }
            .joined(separator: ", ")
    }
}
