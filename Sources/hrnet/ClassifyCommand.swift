import ArgumentParser
import Classification
import DNN
import Foundation
import HRNet
import Imaging

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Classify images with an HRNet classifier (cls_hrnet / timm hrnet_*): top-k classes with probabilities.",
        discussion: """
        Pre-processing is the standard ImageNet evaluation (the official valid.py, torchvision): \
        the shorter side resized to int(size / 0.875) (256 for 224) with PIL's bilinear filter, \
        a center crop of MODEL.IMAGE_SIZE, ImageNet mean/std. Images are read as torchvision reads \
        them (stored pixels, no EXIF rotation). IMAGE arguments are files, folders (their .jpg, \
        .jpeg and .png files) or glob patterns. A 1000-class model gets ImageNet-1k's names; other \
        models take --labels FILE (one name per line, line i naming class i; hrnet train writes \
        OUT/classes.txt).
        """
    )

    @OptionGroup var model: ModelOptions

    @Argument(help: "Images, folders or glob patterns.")
    var images: [String] = []

    @Option(help: "Classes to print per image.")
    var top: Int = 5

    @Option(help: "Class names, one per line (line i names class i).")
    var labels: String?

    @Flag(help: "Print JSON (one object per image: file, top classes with index, label, probability, logit).")
    var json = false

    @Option(help: "Images per network run.")
    var batch: Int = 16

    @OptionGroup var compute: ComputeOptions

    @OptionGroup var bad: BadImageOptions

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one IMAGE (a file, folder or glob pattern)") }
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if batch < 1 || batch > 1024 { throw ValidationError("--batch must be 1...1024") }
    }

    func run() throws {
        let files = try ImageFiles.expand(images)
        let config = try model.loadConfig()
        guard config.task == .classification, let classes = config.numClasses else {
            throw ValidationError("\(config.source) is not a classifier (MODEL.NAME cls_hrnet); hrnet classify needs one")
        }
        let classLabels = try labels.map { try ClassLabels(contentsOf: URL(fileURLWithPath: $0)) }
        if let classLabels { try classLabels.check(classes: classes) }
        let (net, parameters, _) = try model.load(requireWeights: true)
        let planOptions = try compute.planOptions(weights: model.weights, graph: net.graph)
        let classifier = try Classifier(config: net.config, parameters: parameters, labels: classLabels, threads: compute.threads,
                                        options: planOptions)
        let pre = ClassificationPreprocessing.validation(width: config.imageSize.width, height: config.imageSize.height)
        let bar = ProgressBar("classify", total: files.count, enabled: files.count > batch)
        var results: [[String: Any]] = []
        let skipped = BadImageOptions.Skipped()
        for start in stride(from: 0, to: files.count, by: batch) {
            let group = files[start..<min(start + batch, files.count)]
            var chunk: [URL] = [], decoded: [Image] = []
            for url in group {
                let image = try bad.image(url, skipped: skipped) { url in
                    do { return try Image.load(url, applyOrientation: false) } catch {
                        throw ValidationError("\(url.path): cannot be read as an image (\(error))")
                    }
                }
                if let image { chunk.append(url); decoded.append(image) }
            }
            bar.advance(group.count - chunk.count)   // the skipped ones
            guard !decoded.isEmpty else { continue }
            let ranked = try classifier.classify(pre.batch(decoded, threads: compute.threads ?? 2), top: min(top, classes))
            for (url, predictions) in zip(chunk, ranked) {
                if json {
                    results.append(["file": url.path, "top": predictions.map { p -> [String: Any] in
                        var entry: [String: Any] = ["index": p.index, "probability": Double(p.probability), "logit": Double(p.logit)]
                        if let label = p.label { entry["label"] = label }
                        return entry
                    }])
                } else {
                    // "photo.jpg: 281 tabby 0.4123, 285 Egyptian cat 0.2011, ..." (class index, name, probability)
                    let text = predictions.map { p in "\(p.index)" + (p.label.map { " \($0)" } ?? "") + String(format: " %.4f", p.probability) }
                    print("\(url.path): " + text.joined(separator: ", "))
                }
            }
            bar.advance(chunk.count)
        }
        bar.finish()
        bad.report(skipped, of: files.count)
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
