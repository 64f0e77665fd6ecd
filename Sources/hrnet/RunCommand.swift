import ArgumentParser
import Classification
import Foundation
import HRNet

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the network on an NCHW float32 .npy batch and write its raw output as .npy.",
        discussion: """
        Pose models give heatmaps (N, joints, H/4, W/4); segmentation models give logits \
        (N, classes, H/4, W/4) (HRNet-OCR has two outputs, aux and main: the one TEST.OUTPUT_INDEX \
        names, or --output-index); classification models give logits (N, classes, 1, 1), and with \
        --top K also print each image's K most probable classes. The input is the normalized image batch (RGB, mean/std as the \
        official code), any batch size and any H, W the model accepts.
        """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions

    @Option(help: "Input batch: float32 .npy of shape (N, 3, H, W).")
    var input: String?

    @Option(help: "Instead of --input, a random batch of this many images at the config's IMAGE_SIZE.")
    var randomInput: Int?

    @Option(help: "Where to write the output .npy (replaced atomically).")
    var output: String

    @Flag(help: "Replace OUTPUT if it exists.")
    var force = false

    @Option(help: "Run the batch this many times and report the median model time.")
    var repeats: Int = 1

    @Option(help: ArgumentHelp("Which output to write for models with several (seg_hrnet_ocr: 0 the auxiliary soft object regions, 1 the main head; negative counts from the last, as Python: --output-index=-1). Default: TEST.OUTPUT_INDEX.", valueName: "index"))
    var outputIndex: Int?

    @Option(help: "Classification: print the K most probable classes of each image.")
    var top: Int?

    @Option(help: "Classification: class names, one per line, one per output (default: ImageNet-1k for 1000 classes).")
    var labels: String?

    func validate() throws {
        if (input == nil) == (randomInput == nil) { throw ValidationError("give exactly one of --input FILE or --random-input N") }
        if let n = randomInput, n < 1 { throw ValidationError("--random-input must be at least 1") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if labels != nil && top == nil { throw ValidationError("--labels needs --top K") }
    }

    func run() throws {
        let out = URL(fileURLWithPath: output)
        if FileManager.default.fileExists(atPath: out.path) && !force {
            throw ValidationError("\(output) exists; pass --force to replace it")
        }
        let (net, parameters, _) = try model.load(requireWeights: true)
        var classLabels: ClassLabels?
        if top != nil {
            guard case .classification(let spec) = net.config.architecture.head else {
                throw ClassificationError("--top needs a classification model (MODEL.NAME cls_hrnet); this is \(net.config.modelName)")
            }
            if let labels {
                classLabels = try ClassLabels(contentsOf: URL(fileURLWithPath: labels))
                try classLabels!.check(classes: spec.classes)
            } else if spec.classes == ClassLabels.imageNet.count {
                classLabels = .imageNet
            }
        }
        let x: Tensor
        if let input {
            x = try NPY.read(URL(fileURLWithPath: input))
            guard x.rank == 4 else {
                throw ValidationError("\(input): expected an NCHW batch (rank 4), got shape \(x.shape)")
            }
        } else {
            let (w, h) = net.config.imageSize
            // 3 x h x w floats per image: refuse a batch of more than 4 GB before allocating it.
            guard randomInput! * 3 * h * w <= 1 << 30 else {
                throw ValidationError("--random-input \(randomInput!) of \(w)x\(h) images is more than 4 GB of input")
            }
            var rng = SplitMix64(seed: 42)
            var t = Tensor(zeros: [randomInput!, 3, h, w])
            for i in 0..<t.count { t.scalars[i] = rng.nextUnitFloat() * 4 - 2 }
            x = t
            warn("using a random input batch of shape \(x.shape)")
        }
        let outputs = net.graph.outputs.count
        let index = outputIndex.map { $0 < 0 ? outputs + $0 : $0 } ?? net.config.outputIndex
        guard (0..<outputs).contains(index) else {
            throw ValidationError("--output-index \(outputIndex ?? index): \(net.config.modelName) has \(outputs) output\(outputs == 1 ? "" : "s")")
        }
        let compileStart = DispatchTime.now()
        let options = try compute.planOptions(weights: model.weights, graph: net.graph)
        let plan = try Plan(graph: net.graph, parameters: consume parameters, input: Shape4(x.shape)!, threads: compute.threads,
                            options: options)
        let compileMs = milliseconds(since: compileStart)
        var times: [Double] = []
        var y: [Tensor] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now()
            y = try plan.run(x)
            times.append(milliseconds(since: start))
        }
        try NPY.write(y[index], to: out)
        let median = times.sorted()[times.count / 2]
        print(String(format: "output %@ -> %@", "\(y[index].shape)", output) + (outputs > 1 ? " (output \(index) of \(outputs))" : ""))
        if let top {
            for (n, predictions) in try Scores.top(y[0], k: top, labels: classLabels).enumerated() {
                // "image 0: 281 tabby 0.4123, 285 Egyptian cat 0.2011, ..." (class index, name, probability)
                let ranked = predictions.map { p in "\(p.index)" + (p.label.map { " \($0)" } ?? "") + String(format: " %.4f", p.probability) }
                print("image \(n): " + ranked.joined(separator: ", "))
            }
        }
        print(String(format: "model: %.1f ms median of %d (%.1f GFLOP, %.1f GFLOP/s, %d threads); plan compile %.0f ms",
                     median, times.count, plan.flops / 1e9, plan.flops / 1e6 / median, plan.threads, compileMs))
    }
}

func milliseconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
}
