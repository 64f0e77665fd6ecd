import ArgumentParser
import Classification
import DNN
import Foundation
import HRNet

struct EvalClsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-cls",
        abstract: "Top-1 / top-5 accuracy of a classifier on an ImageNet-style folder (one subfolder per class).",
        discussion: """
        Reads DATA/SPLIT/<class>/<image> (or DATA/<class>/<image> when DATA/SPLIT does not exist), \
        pre-processed as the official validation (resize int(size / 0.875), center crop, ImageNet \
        mean/std). Class mapping: when the labels (--labels FILE, or ImageNet-1k's for a \
        1000-class model) name every folder, folders map by name, and ImageNet folders named by \
        WordNet ID (n01440764, ...) map to their ImageNet index; so a subset of the classes can be \
        evaluated. Otherwise the sorted folder names are the class indices (torchvision's \
        ImageFolder) and their number must equal the model's classes. Every file in a class folder \
        must be a .jpg, .jpeg or .png image.
        """
    )

    @OptionGroup var model: ModelOptions

    @Option(help: "The data set root.")
    var data: String

    @Option(help: "The split folder under DATA.")
    var split: String = "val"

    @Option(help: "Class names, one per line (line i names class i); folders named by them map by name.")
    var labels: String?

    @Option(help: "Images per network run.")
    var batch: Int = 32

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if batch < 1 || batch > 1024 { throw ValidationError("--batch must be 1...1024") }
    }

    func run() throws {
        let config = try model.loadConfig()
        guard config.task == .classification, let classes = config.numClasses else {
            throw ValidationError("\(config.source) is not a classifier (MODEL.NAME cls_hrnet); hrnet eval-cls needs one")
        }
        var root = URL(fileURLWithPath: data, isDirectory: true)
        let splitRoot = root.appendingPathComponent(split, isDirectory: true)
        if FileManager.default.fileExists(atPath: splitRoot.path) { root = splitRoot }
        let folder = try ImageFolder(root: root)
        let classLabels = try labels.map { try ClassLabels(contentsOf: URL(fileURLWithPath: $0)) }
        if let classLabels { try classLabels.check(classes: classes) }
        let indices = try folder.modelIndices(classes: classes, labels: classLabels ?? (classes == ClassLabels.imageNet.count ? .imageNet : nil))
        let job = try MPIJob()
        try job.run("eval-cls") { try evaluate(folder, config: config, indices: indices, classLabels: classLabels, job: job) }
    }

    /// Under mpirun each process runs every N-th batch; the counts are added and the first prints.
    func evaluate(_ folder: ImageFolder, config: HRNetConfig, indices: [Int], classLabels: ClassLabels?, job: MPIJob) throws {
        let (net, parameters, _) = try model.load(requireWeights: true)
        let planOptions = try compute.planOptions(weights: model.weights, graph: net.graph)
        let classifier = try Classifier(config: net.config, parameters: parameters, labels: classLabels, threads: job.threads(compute.threads),
                                        options: planOptions)
        var evaluation = ClassificationEvaluation(folder: folder, preprocessing: .validation(width: config.imageSize.width,
                                                                                             height: config.imageSize.height),
                                                  indices: indices)
        evaluation.batchSize = batch
        evaluation.threads = job.threads(compute.threads) ?? 2
        evaluation.communicator = job.world
        ProgressBar.say("evaluating \(config.source) on \(folder.root.path): \(folder.count) images in \(folder.classes.count) classes")
        let bar = ProgressBar("eval-cls", total: folder.count)
        let accuracy = try evaluation.run(logits: { try classifier.logits($0) }) { done, running in
            bar.advance(done - bar.done, note: String(format: "top-1 %.4f, top-5 %.4f", running.top1, running.top5))
        }
        bar.finish()
        guard job.isRoot else { return }
        if json {
            let object: [String: Any] = ["images": accuracy.images, "classes": folder.classes.count, "top1": accuracy.top1,
                                         "top5": accuracy.top5, "loss": accuracy.meanLoss]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "top-1 %.4f (%d/%d), top-5 %.4f (%d/%d), mean cross-entropy %.4f",
                         accuracy.top1, accuracy.top1Correct, accuracy.images, accuracy.top5, accuracy.top5Correct, accuracy.images,
                         accuracy.meanLoss))
        }
    }
}
