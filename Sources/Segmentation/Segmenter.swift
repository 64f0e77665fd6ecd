import DNN
import Foundation
import HRNet
import Imaging

/// The official HRNet segmentation test, on the CPU: normalization, single- or multi-scale
/// (TEST.SCALE_LIST) inference with optional flip averaging, sliding windows of the test crop
/// (TEST.IMAGE_SIZE), logits upsampled to the input and the outputs resized to the image,
/// arg-max (HRNet-Semantic-Segmentation lib/datasets/base_dataset.py `inference` and
/// `multi_scale_inference`, lib/datasets/cityscapes.py; see `WindowPolicy`).
///
/// How each step matches the official code:
/// - The photo is RGB (the official code reads BGR with cv2 and reverses the channels), scaled
///   by 1/255, minus the ImageNet mean, over the std, in float32.
/// - Each scale resizes the normalized float image with cv2.resize INTER_LINEAR
///   (`OpenCVResize.linear`, float path) so that the long side is `int(base * scale + 0.5)`.
/// - Each network run's logits are upsampled inside the compiled plan to the run's input size
///   (the graph's bilinear resize with the config's ALIGN_CORNERS, = F.interpolate), averaged
///   with the mirrored run's mirrored logits when flipping (one batch of two), then exp'd.
/// - Window outputs are summed, divided by the window count per pixel, cropped to the scaled
///   image, resized to the image size (bilinear, ALIGN_CORNERS; `Reference.resize` = F.interpolate)
///   and summed over scales.
///
/// A plan is compiled once per network input shape and reused (all windows of a scale share one).
/// Not thread-safe: use one `Segmenter` per thread.
public final class Segmenter {
    public struct Options: Sendable {
        /// TEST.SCALE_LIST.
        public var scales: [Double]
        /// TEST.FLIP_TEST.
        public var flip: Bool
        /// TEST.BASE_SIZE: the long side at scale 1.
        public var baseSize: Int
        /// TEST.IMAGE_SIZE as (height, width): the window size.
        public var crop: (height: Int, width: Int)
        public var policy: WindowPolicy
        public var mean: [Float] = [0.485, 0.456, 0.406]
        public var std: [Float] = [0.229, 0.224, 0.225]

        public init(scales: [Double], flip: Bool, baseSize: Int, crop: (height: Int, width: Int), policy: WindowPolicy) {
            (self.scales, self.flip, self.baseSize, self.crop, self.policy) = (scales, flip, baseSize, crop, policy)
        }

        /// The official test settings of a config.
        public init(config: HRNetConfig) {
            self.init(scales: config.testScales, flip: config.flipTest, baseSize: config.testBaseSize,
                      crop: (config.testImageSize.height, config.testImageSize.width),
                      policy: WindowPolicy.forDataset(config.dataset))
        }

        func validate() throws {
            guard !scales.isEmpty, scales.allSatisfy({ $0 > 0 && $0 <= 16 }) else {
                throw SegmentationError("scales must be in (0, 16], got \(scales)")
            }
            guard baseSize > 0, baseSize <= 100_000 else { throw SegmentationError("base size must be 1...100000, got \(baseSize)") }
            guard crop.height >= 2, crop.width >= 2, crop.height <= 100_000, crop.width <= 100_000 else {
                throw SegmentationError("crop size must be at least 2 x 2, got \(crop.height) x \(crop.width)")
            }
            guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
                throw SegmentationError("mean and std need 3 entries each, std positive")
            }
        }
    }

    public let config: HRNetConfig
    public let classes: Int
    public var options: Options
    public let threads: Int?
    public let planOptions: Plan.Options
    /// Seconds spent compiling plans, and how many were compiled.
    public var compileSeconds: Double { plans.compileSeconds }
    public var compiledPlans: Int { plans.compiled }
    /// Seconds inside network runs (`Plan.run`), the rest of `segment` being pre/post-processing.
    public private(set) var networkSeconds = 0.0
    /// Told after each network window of `segment` (windows done, windows of the image over all
    /// scales): a large image at several scales runs for minutes, and a caller can show it.
    public var windowDone: ((_ done: Int, _ total: Int) -> Void)?

    /// The largest scaled image accepted (its scores alone take classes x 4 bytes a pixel).
    public static let maxScaledPixels = 64 * 1024 * 1024

    private let alignCorners: Bool
    /// Plans by input shape, the most recent kept.
    private let plans: PlanCache
    /// At most this many plans are kept, so a folder of photos of many sizes does not hold one
    /// set of packed weights per size.
    public var maxCachedPlans: Int {
        get { plans.capacity }
        set { plans.capacity = newValue }
    }

    /// - Parameter parameters: the model's weights by checkpoint key (see `HRNetModel.loadWeights`).
    public init(model: HRNetModel, parameters: [String: Tensor], options: Options? = nil, threads: Int? = nil,
                planOptions: Plan.Options = .init()) throws {
        guard case .segmentation(let classes, _, let alignCorners, _) = model.config.architecture.head else {
            throw SegmentationError("\(model.config.source): MODEL.NAME is \(model.config.modelName); segmentation needs seg_hrnet, seg_hrnet_ocr or seg_unet")
        }
        guard classes <= 255 else { throw SegmentationError("\(model.config.source): \(classes) classes; label maps hold at most 255 (255 is ignore)") }
        self.config = model.config
        self.classes = classes
        self.alignCorners = alignCorners
        self.options = options ?? Options(config: model.config)
        try self.options.validate()
        self.threads = threads
        self.planOptions = planOptions
        // The network, then its logits upsampled to the input's size (official `inference`).
        let g = HRNetGraph.build(model.config.architecture)
        // seg_hrnet_ocr returns [aux, main]: the test reads TEST.OUTPUT_INDEX's (official `inference`).
        guard let input = g.inputValue, g.outputs.indices.contains(model.config.outputIndex) else {
            throw SegmentationError("the network has no input or no output \(model.config.outputIndex)")
        }
        let logits = g.outputs[model.config.outputIndex]
        g.outputs = [g.resize(logits, like: input, mode: .bilinear(alignCorners: alignCorners))]
        plans = try PlanCache(graph: g, parameters: parameters, threads: threads, options: planOptions, capacity: 4)
    }

    // MARK: - Steps

    /// The network input for a photo: RGB, (x / 255 - mean) / std, CHW float32.
    public func normalize(_ image: Image) -> [Float] {
        image.normalizedCHW(mean: options.mean, std: options.std)
    }

    private func plan(batch: Int, height: Int, width: Int) throws -> Plan {
        try plans.plan(for: Shape4(batch, 3, height, width))
    }

    /// One network run: logits upsampled to the input (`classes x height x width`), before exp,
    /// for a normalized CHW input. With `flip`, the mean of these and the mirrored run's mirrored logits.
    public func logits(normalized x: [Float], height: Int, width: Int, flip: Bool) throws -> [Float] {
        precondition(x.count == 3 * height * width, "input does not match 3 x \(height) x \(width)")
        let plane = height * width
        var batch = x
        if flip {
            batch += [Float](repeating: 0, count: x.count)
            batch.withUnsafeMutableBufferPointer { b in
                for r in 0..<(3 * height) {
                    let row = r * width
                    for j in 0..<width { b[x.count + row + j] = b[row + width - 1 - j] }
                }
            }
        }
        let plan = try plan(batch: flip ? 2 : 1, height: height, width: width)
        let start = DispatchTime.now()
        var out = try plan.run(Tensor(shape: [flip ? 2 : 1, 3, height, width], scalars: batch))[0].scalars
        networkSeconds += Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        guard flip else { return out }
        // The mean in place over the first image's logits (each element reads only itself and
        // the second image's), which then are the result: no third full-size array.
        let n = classes * plane
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<(classes * height) {
                let row = r * width
                for j in 0..<width { o[row + j] = (o[row + j] + o[n + row + width - 1 - j]) * 0.5 }
            }
        }
        out.removeLast(n)
        return out
    }

    /// The official multi-scale test on a normalized CHW image: `classes x height x width` scores.
    public func scores(normalized x: [Float], height: Int, width: Int) throws -> [Float] {
        var total = [Float](repeating: 0, count: classes * height * width)
        let (classes, alignCorners, plane) = (self.classes, self.alignCorners, height * width)
        let workers = max(1, min(classes, threads ?? Threads.available))
        try eachScale(normalized: x, height: height, width: width) { preds, sh, sw in
            // Each worker resizes (the same arithmetic as Reference.resize) and adds its own classes.
            total.withUnsafeMutableBufferPointer { t in
                preds.withUnsafeBufferPointer { p in
                    nonisolated(unsafe) let (t, p) = (t, p)
                    DispatchQueue.concurrentPerform(iterations: workers) { k in
                        let range = (classes * k / workers)..<(classes * (k + 1) / workers)
                        guard !range.isEmpty else { return }
                        let at = range.lowerBound * plane
                        if sh == height && sw == width {
                            for i in at..<(range.upperBound * plane) { t[i] += p[i] }
                            return
                        }
                        let part = UnsafeBufferPointer(rebasing: p[(range.lowerBound * sh * sw)..<(range.upperBound * sh * sw)])
                        let resized = Reference.resizeRows(part, channels: range.count, height: sh, width: sw, toHeight: height,
                                                           width: width, rows: 0..<height, alignCorners: alignCorners)
                        for (i, v) in resized.enumerated() { t[at + i] += v }
                    }
                }
            }
        }
        return total
    }

    /// Bytes of float scores one band of `labels` holds.
    public var bandBytes = 64 << 20

    /// The labels of `segment(image)`, equal to them pixel for pixel, without holding the
    /// `classes x height x width` scores of a large image: when the scales' own outputs (bounded by
    /// TEST.BASE_SIZE) are smaller than the full-size scores, each band of output rows is resized
    /// from them, summed over scales and arg-maxed on its own (a 10000 x 10000 photo with 19
    /// classes needed 16 GB; now the scales' outputs and one band).
    public func labels(_ image: Image) throws -> LabelMap {
        let (height, width) = (image.height, image.width)
        // (In Double: sizes from options are checked against the pixel limit only later.)
        let scaledPixels = options.scales.reduce(0.0) { n, s in
            let (sh, sw) = scaledSize(height: height, width: width, baseSize: options.baseSize, scale: s)
            return n + Double(sh) * Double(sw)
        }
        guard scaledPixels < Double(height) * Double(width) else { return try segment(image).labels }
        var perScale: [(preds: [Float], sh: Int, sw: Int)] = []
        try eachScale(normalized: normalize(image), height: height, width: width) { perScale.append(($0, $1, $2)) }
        let bandRows = max(1, min(height, bandBytes / max(1, classes * width * 4)))
        var labels = [UInt8](repeating: 0, count: height * width)
        for top in stride(from: 0, to: height, by: bandRows) {
            let rows = top..<min(height, top + bandRows)
            var band = [Float](repeating: 0, count: classes * rows.count * width)
            for (preds, sh, sw) in perScale {
                let part: [Float]
                if sh == height && sw == width {
                    part = (0..<classes).flatMap { c in preds[(c * height + rows.lowerBound) * width ..< (c * height + rows.upperBound) * width] }
                } else {
                    part = preds.withUnsafeBufferPointer {
                        Reference.resizeRows($0, channels: classes, height: sh, width: sw, toHeight: height, width: width,
                                             rows: rows, alignCorners: alignCorners)
                    }
                }
                for k in 0..<band.count { band[k] += part[k] }
            }
            let bandLabels = SegmentationPrediction.argmax(band, classes: classes, height: rows.count, width: width).labels
            labels.replaceSubrange(rows.lowerBound * width ..< rows.upperBound * width, with: bandLabels)
        }
        return LabelMap(unchecked: width, height, labels)
    }

    /// Runs every scale of the official multi-scale test and hands over its averaged window
    /// scores, `classes x sh x sw` at the scale's size (before the resize to the image).
    func eachScale(normalized x: [Float], height: Int, width: Int, _ body: ([Float], Int, Int) throws -> Void) throws {
        let pad = (0..<3).map { Float(-Double(options.mean[$0]) / Double(options.std[$0])) }
        // Every scale's size checked and its windows laid out first (so progress has a total).
        let plan = try options.scales.map { scale in
            let (sh, sw) = scaledSize(height: height, width: width, baseSize: options.baseSize, scale: scale)
            guard sh * sw <= Self.maxScaledPixels else {
                throw SegmentationError("scale \(scale) of a \(width) x \(height) image with base size \(options.baseSize) gives "
                                        + "\(sw) x \(sh), above the limit of \(Self.maxScaledPixels) pixels; lower --scales or --base-size")
            }
            return (sh: sh, sw: sw, layout: WindowLayout(height: sh, width: sw, crop: options.crop, policy: options.policy, scale: scale))
        }
        let windows = plan.reduce(0) { $0 + $1.layout.windows.count }
        // The largest window's plan first: the others then run in its activation memory.
        try plans.prepare(plan.flatMap { $0.layout.windows.map { Shape4(options.flip ? 2 : 1, 3, $0.inputHeight, $0.inputWidth) } })
        var windowsDone = 0
        // One window's e^logits, counted for progress.
        func windowScores(_ input: [Float], height: Int, width: Int) throws -> [Float] {
            var out = try logits(normalized: input, height: height, width: width, flip: options.flip)
            try Elementwise.exp(&out, threads: threads)
            windowsDone += 1
            windowDone?(windowsDone, windows)
            return out
        }
        for (sh, sw, layout) in plan {
            let scaled = OpenCVResize.linear(x, planes: 3, width: width, height: height, toWidth: sw, toHeight: sh)
            // One unpadded window over the whole scaled image (Cityscapes at scales <= 1): its
            // scores are the scale's (a sum over one window divided by a count of 1), so they
            // go on without the canvas, count and crop copies (each classes x sh x sw floats).
            if layout.windows == [Window(y0: 0, y1: sh, x0: 0, x1: sw, inputHeight: sh, inputWidth: sw)] {
                try body(windowScores(scaled, height: sh, width: sw), sh, sw)
                continue
            }
            let (ch, cw) = (layout.canvasHeight, layout.canvasWidth)
            var sum = [Float](repeating: 0, count: classes * ch * cw)
            var count = [Float](repeating: 0, count: ch * cw)
            for w in layout.windows {
                let (ih, iw) = (w.inputHeight, w.inputWidth)
                // The window's pixels of the scaled image; padding (-mean/std) outside it.
                var input = [Float](repeating: 0, count: 3 * ih * iw)
                for c in 0..<3 {
                    for i in 0..<ih {
                        let y = w.y0 + i, row = (c * ih + i) * iw
                        for j in 0..<iw {
                            let xx = w.x0 + j
                            input[row + j] = (y < sh && xx < sw) ? scaled[(c * sh + y) * sw + xx] : pad[c]
                        }
                    }
                }
                let out = try windowScores(input, height: ih, width: iw)
                for c in 0..<classes {
                    for i in 0..<(w.y1 - w.y0) {
                        let src = (c * ih + i) * iw, dst = (c * ch + w.y0 + i) * cw + w.x0
                        for j in 0..<(w.x1 - w.x0) { sum[dst + j] += out[src + j] }
                    }
                }
                for i in w.y0..<w.y1 { for j in w.x0..<w.x1 { count[i * cw + j] += 1 } }
            }
            // Average the windows, keep the scaled image's part of the canvas.
            var preds = [Float](repeating: 0, count: classes * sh * sw)
            for c in 0..<classes {
                for i in 0..<sh { for j in 0..<sw {
                    preds[(c * sh + i) * sw + j] = sum[(c * ch + i) * cw + j] / count[i * cw + j]
                }}
            }
            try body(preds, sh, sw)
        }
    }

    /// One network run on the whole photo at its own size, without flip: what the official
    /// training-time `validate` (lib/core/function.py) evaluates. The scores are the logits
    /// upsampled to the photo (before exp: the arg-max is the same).
    public func segmentWhole(_ image: Image) throws -> SegmentationPrediction {
        let s = try logits(normalized: normalize(image), height: image.height, width: image.width, flip: false)
        return SegmentationPrediction(classes: classes, height: image.height, width: image.width, scores: s)
    }

    /// Segments a photo: scores and arg-max labels at the photo's size.
    public func segment(_ image: Image) throws -> SegmentationPrediction {
        let s = try scores(normalized: normalize(image), height: image.height, width: image.width)
        return SegmentationPrediction(classes: classes, height: image.height, width: image.width, scores: s)
    }
}
