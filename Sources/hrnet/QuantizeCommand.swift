import ArgumentParser
import DNN
import Foundation
import HRNet
import Imaging
import Pose

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Calibrate a model for int8: measure activation ranges over a folder of images, write weights + table.",
        discussion: """
        Runs the model in fp32 over the calibration images and records, for every convolution, \
        the largest |x| of the value it reads and of the value it writes. Writes OUT: the fp32 \
        weights (an ordinary safetensors checkpoint) with the table in its metadata under \
        "hrnet.int8". Use it with --precision int8 --weights OUT in run, pose, eval and bench.

        Images are prepared as the network sees them: pose models get the pose pipeline's crop \
        of the whole image (the box widened to the input's aspect ratio and padded by 1.25, the \
        official affine warp), segmentation models the image resized to the input size; both \
        then RGB / 255, ImageNet mean and std. Use images like the ones you will run on: the \
        ranges are the largest values seen, and a value outside them saturates.
        """
    )

    @OptionGroup var model: ModelOptions

    @Option(help: "Calibration images: a directory, files or glob patterns (.jpg, .jpeg, .png).")
    var calib: [String]

    @Option(help: "Use at most this many images (the first, in name order).")
    var limit: Int?

    @Option(help: "Where to write the weights with the calibration table (.safetensors).")
    var out: String

    @Flag(help: "Replace OUT if it exists.")
    var force = false

    @Option(help: "Threads for oneDNN and the engine's kernels (default: all cores).")
    var threads: Int?

    @Option(help: "Skip images with more pixels than this (decompression bombs).")
    var maxPixels: Int = Image.defaultMaxPixels

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be 1...1024") }
        guard out.lowercased().hasSuffix(".safetensors") else { throw ValidationError("--out must name a .safetensors file") }
    }

    func run() throws {
        let outURL = URL(fileURLWithPath: out)
        if FileManager.default.fileExists(atPath: outURL.path) && !force {
            throw ValidationError("\(out) exists; pass --force to replace it")
        }
        var files = try ImageFiles.expand(calib)
        if let limit { files = Array(files.prefix(limit)) }
        guard !files.isEmpty else { throw ValidationError("--calib gave no images") }
        // --random-weights is for measurements (int8 against fp32 on real images): it warns.
        let (net, parameters, _) = try model.load(requireWeights: true)
        let (w, h) = net.config.imageSize
        let calibrator = try Calibrator(graph: net.graph, parameters: parameters, input: Shape4(1, 3, h, w), threads: threads)
        let progress = ProgressBar("calibrating", total: files.count)
        var skipped = 0
        for url in files {
            // One unreadable file among many calibration images is worth a warning, not a stop.
            let image: Image
            do { image = try Image.load(url, maxPixels: maxPixels) } catch {
                warn("skipping a calibration image: \(error)")
                skipped += 1
                progress.advance()
                continue
            }
            let prepared: Image
            if net.config.task == .pose {
                let crop = PersonCrop(box: 0, 0, Double(image.width), Double(image.height), aspectRatio: Double(w) / Double(h))
                prepared = image.warpAffine(crop.transform(width: w, height: h).m, width: w, height: h)
            } else {
                prepared = image.resized(width: w, height: h)
            }
            try calibrator.observe(Tensor(shape: [1, 3, h, w], scalars: prepared.normalizedCHW(mean: PoseEstimator.mean, std: PoseEstimator.std,
                                                                                                  bgr: net.config.task == .pose && !net.config.colorRGB)))
            progress.advance()
        }
        progress.finish()
        guard calibrator.images > 0 else { throw ValidationError("none of the \(files.count) calibration images could be read") }
        let table = try calibrator.table()
        try SafeTensors.write(parameters, metadata: table.metadata, to: outURL)
        print("calibrated \(table.ranges.count) convolutions on \(table.images) images"
              + (skipped > 0 ? " (\(skipped) unreadable skipped)" : "") + " -> \(out)")
    }
}
