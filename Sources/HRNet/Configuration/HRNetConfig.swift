import Foundation
import Yams

/// The parts of an official HRNet experiment file (pose, segmentation or classification) that decide the
/// network and its pipeline. Read from the official YAML files unchanged, or from a preset.
public struct HRNetConfig: Sendable, Equatable {
    public enum Task: String, Sendable { case pose, segmentation, classification }

    /// Where it came from (a file name or `preset NAME`), for messages.
    public var source: String
    /// MODEL.NAME: pose_hrnet, seg_hrnet, seg_hrnet_ocr or cls_hrnet.
    public var modelName: String
    public var task: Task
    public var architecture: Architecture
    /// MODEL.IMAGE_SIZE as the official files write it: [width, height].
    public var imageSize: (width: Int, height: Int)
    /// MODEL.HEATMAP_SIZE [width, height] (pose); 1/4 of the image when absent.
    public var heatmapSize: (width: Int, height: Int)
    /// MODEL.SIGMA of the Gaussian training targets (pose).
    public var sigma: Double
    /// DATASET.DATASET, e.g. coco, mpii, cityscapes.
    public var dataset: String
    /// TEST.FLIP_TEST.
    public var flipTest: Bool
    /// DATASET.COLOR_RGB (pose): whether the network reads R, G, B. The official default is
    /// false: the image as OpenCV decodes it, B, G, R (the SimpleBaseline files leave it so);
    /// every official HRNet pose file sets true.
    public var colorRGB = true
    /// The pose test's other TEST keys (SHIFT_HEATMAP, POST_PROCESS, IN_VIS_THRE, OKS_THRE, SOFT_NMS).
    public var poseTest = PoseTestSettings()
    /// TEST.SCALE_LIST (segmentation multi-scale test).
    public var testScales: [Double]
    /// TEST.IMAGE_SIZE [width, height] (segmentation): the test crop; larger (scaled) images are
    /// run in sliding windows of this size. Official default [2048, 1024].
    public var testImageSize: (width: Int, height: Int) = (2048, 1024)
    /// TEST.BASE_SIZE (segmentation): the long side an image is resized to at scale 1.
    /// Official default 2048.
    public var testBaseSize: Int = 2048
    /// TEST.OUTPUT_INDEX resolved against the model's outputs: which output the test reads
    /// (seg_hrnet_ocr returns [aux, main]; the official default -1 is the main head, 1).
    public var outputIndex: Int = 0

    public var numJoints: Int? { if case .pose(let j, _) = architecture.head { j } else { nil } }
    /// Segmentation classes or classification logits.
    public var numClasses: Int? {
        switch architecture.head {
        case .segmentation(let c, _, _, _): c
        case .classification(let spec): spec.classes
        case .pose: nil
        }
    }

    public static func == (a: HRNetConfig, b: HRNetConfig) -> Bool {
        a.modelName == b.modelName && a.architecture == b.architecture && a.imageSize == b.imageSize
            && a.heatmapSize == b.heatmapSize && a.sigma == b.sigma && a.dataset == b.dataset
            && a.flipTest == b.flipTest && a.colorRGB == b.colorRGB && a.testScales == b.testScales && a.testImageSize == b.testImageSize
            && a.testBaseSize == b.testBaseSize && a.poseTest == b.poseTest && a.outputIndex == b.outputIndex
    }
}

/// How the official pose test decodes and filters (lib/core/function.py, lib/core/inference.py,
/// lib/dataset/coco.py). A key the file leaves out takes the value every official pose experiment
/// file gives it (lib/config/default.py's own defaults differ: they are for files that set them).
public struct PoseTestSettings: Sendable, Equatable {
    /// TEST.SHIFT_HEATMAP: shift the flipped heatmaps one pixel right before averaging.
    public var shiftHeatmap = true
    /// TEST.POST_PROCESS: a quarter-pixel step toward the higher neighbour after the arg-max.
    public var postProcess = true
    /// TEST.BLUR_KERNEL (DarkPose's key): decode with DARK, blurring with a Gaussian of this odd
    /// size; nil (the key absent, as in the official files) keeps POST_PROCESS's decoding.
    public var blurKernel: Int? = nil
    /// TEST.IMAGE_THRE: detected people scoring below this are left out before pose (0.0 in
    /// every official file: all of the detector's people, the re-score and OKS-NMS sort them).
    public var imageThreshold = 0.0
    /// TEST.IN_VIS_THRE: joints above this score count in a person's re-score.
    public var visibilityThreshold = 0.2
    /// TEST.OKS_THRE: OKS-NMS threshold within an image.
    public var oksThreshold = 0.9
    /// TEST.SOFT_NMS: Gaussian score decay instead of hard suppression.
    public var softNMS = false
    public init() {}
}

/// A config file that cannot be used; names the file, the key and what is wrong.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    init(_ source: String, _ message: String) { description = "\(source): \(message)" }
}

extension HRNetConfig {
    /// Reads an official experiment YAML file.
    /// The largest IMAGE_SIZE / HEATMAP_SIZE side a config may give (8x the official 2048).
    public static let maxSide = 16384

    public static func load(_ url: URL) throws -> HRNetConfig {
        try parse(yaml: Reader.text(of: url), source: url.lastPathComponent)
    }

    /// Parses the text of an official experiment YAML file.
    public static func parse(yaml text: String, source: String) throws -> HRNetConfig {
        let r = try Reader(yaml: text, source: source)

        let name = try r.string("MODEL.NAME")
        let task: Task
        switch name {
        case "pose_hrnet", "pose_resnet", "pose_hourglass": task = .pose
        case "seg_hrnet", "seg_hrnet_ocr", "seg_unet": task = .segmentation
        case "cls_hrnet": task = .classification
        default: throw ConfigError(source, "MODEL.NAME '\(name)' is not supported (pose_hrnet, pose_resnet, pose_hourglass, seg_hrnet, seg_hrnet_ocr, seg_unet or cls_hrnet)")
        }
        let finalKernel = try r.optionalInt("MODEL.EXTRA.FINAL_CONV_KERNEL") ?? 1
        guard finalKernel == 1 || finalKernel == 3 else {
            throw ConfigError(source, "MODEL.EXTRA.FINAL_CONV_KERNEL must be 1 or 3, got \(finalKernel)")
        }
        let head: Head
        switch task {
        case .pose: head = .pose(joints: try r.positiveInt("MODEL.NUM_JOINTS"), finalKernel: finalKernel)
        case .segmentation:
            head = .segmentation(classes: try r.positiveInt("DATASET.NUM_CLASSES"), finalKernel: finalKernel,
                                 alignCorners: try r.optionalBool("MODEL.ALIGN_CORNERS") ?? (name != "seg_unet"),
                                 ocr: name == "seg_hrnet_ocr" ? try r.ocr() : nil)
        case .classification:
            // The official files leave MODEL.NUM_CLASSES at its default, 1000 (lib/config/default.py).
            var spec = ClassifierSpec(classes: r.has("MODEL.NUM_CLASSES") ? try r.positiveInt("MODEL.NUM_CLASSES") : 1000)
            // This project's keys for small heads (tests, tiny models); the official files never set
            // them and get the official head (incre planes 32/64/128/256, 2048 features).
            if r.has("MODEL.EXTRA.HEAD_INCRE_PLANES") {
                spec.increPlanes = try r.ints("MODEL.EXTRA.HEAD_INCRE_PLANES")
                guard spec.increPlanes.count == 4, spec.increPlanes.allSatisfy({ $0 <= 8192 }) else {
                    throw ConfigError(source, "MODEL.EXTRA.HEAD_INCRE_PLANES must hold 4 plane counts (one per stream) of at most 8192")
                }
            }
            if r.has("MODEL.EXTRA.HEAD_FEATURES") {
                spec.features = try r.positiveInt("MODEL.EXTRA.HEAD_FEATURES")
                guard spec.features <= 65536 else { throw ConfigError(source, "MODEL.EXTRA.HEAD_FEATURES must be at most 65536") }
            }
            head = .classification(spec)
        }
        let architecture: Architecture
        if name == "pose_resnet", case .pose(let joints, let k) = head {
            architecture = .simpleBaseline(try r.simpleBaseline(), joints: joints, finalKernel: k)
        } else if name == "pose_hourglass", case .pose(let joints, _) = head {
            architecture = .hourglass(try r.hourglass(), joints: joints)
        } else if name == "seg_unet", case .segmentation(let classes, _, _, _) = head {
            architecture = .unet(try r.unet(), classes: classes)
        } else {
            let stage1 = try r.has("MODEL.EXTRA.STAGE1") ? r.stage("MODEL.EXTRA.STAGE1", expectedBranches: 1) : StageSpec.officialPoseStage1
            var stages: [StageSpec] = []
            for k in 2...4 {
                let spec = try r.stage("MODEL.EXTRA.STAGE\(k)", expectedBranches: k)
                stages.append(spec)
            }
            architecture = Architecture(stage1: stage1, stages: stages, head: head)
        }
        // Pose files give MODEL.IMAGE_SIZE; the official segmentation files give the training crop
        // as TRAIN.IMAGE_SIZE (and the full test image as TEST.IMAGE_SIZE).
        // Classification: every official experiment file (and timm) uses 224x224.
        let defaultSize = switch task { case .pose: (192, 256); case .segmentation: (1024, 512); case .classification: (224, 224) }
        let defaultDataset = switch task { case .pose: "coco"; case .segmentation: "cityscapes"; case .classification: "imagenet" }
        let size = try r.optionalPair("MODEL.IMAGE_SIZE") ?? r.optionalPair("TRAIN.IMAGE_SIZE") ?? defaultSize
        // Sizes from the file size allocations: bound them before anything is built (a typo of
        // 99968 asked for 120 GB and aborted). The largest official input is 2048x1024.
        for (key, pair) in [("IMAGE_SIZE", size), ("HEATMAP_SIZE", try r.optionalPair("MODEL.HEATMAP_SIZE") ?? size)] {
            guard (1...HRNetConfig.maxSide).contains(pair.0), (1...HRNetConfig.maxSide).contains(pair.1) else {
                throw ConfigError(source, "\(key) \(pair.0)x\(pair.1) is outside 1...\(HRNetConfig.maxSide) pixels a side")
            }
        }
        let heatmap = try r.optionalPair("MODEL.HEATMAP_SIZE") ?? (size.0 / 4, size.1 / 4)
        var config = HRNetConfig(
            source: source, modelName: name, task: task,
            architecture: architecture,
            imageSize: size, heatmapSize: heatmap,
            sigma: try r.optionalDouble("MODEL.SIGMA") ?? 2,
            dataset: (try? r.string("DATASET.DATASET")) ?? defaultDataset,
            flipTest: try r.optionalBool("TEST.FLIP_TEST") ?? (task == .pose),
            testScales: try r.optionalDoubles("TEST.SCALE_LIST") ?? [1])
        if task == .pose {
            var t = PoseTestSettings()
            t.shiftHeatmap = try r.optionalBool("TEST.SHIFT_HEATMAP") ?? t.shiftHeatmap
            t.postProcess = try r.optionalBool("TEST.POST_PROCESS") ?? t.postProcess
            t.imageThreshold = try r.optionalDouble("TEST.IMAGE_THRE") ?? t.imageThreshold
            t.visibilityThreshold = try r.optionalDouble("TEST.IN_VIS_THRE") ?? t.visibilityThreshold
            t.oksThreshold = try r.optionalDouble("TEST.OKS_THRE") ?? t.oksThreshold
            t.softNMS = try r.optionalBool("TEST.SOFT_NMS") ?? t.softNMS
            config.colorRGB = try r.optionalBool("DATASET.COLOR_RGB") ?? false
            if let k = try r.optionalInt("TEST.BLUR_KERNEL") {
                guard k > 0, k % 2 == 1, k <= 99 else { throw ConfigError(source, "TEST.BLUR_KERNEL must be an odd size 1...99, got \(k)") }
                t.blurKernel = k
            }
            guard (0...1).contains(t.visibilityThreshold), t.oksThreshold > 0 else {
                throw ConfigError(source, "TEST.IN_VIS_THRE must be in [0, 1] and TEST.OKS_THRE positive, got \(t.visibilityThreshold) and \(t.oksThreshold)")
            }
            guard (0...1).contains(t.imageThreshold) else { throw ConfigError(source, "TEST.IMAGE_THRE must be in [0, 1], got \(t.imageThreshold)") }
            config.poseTest = t
            // Stacked hourglass: every stack's heatmaps are trained, the last one's are the prediction.
            config.outputIndex = architecture.outputCount - 1
            if let multiple = architecture.hourglass?.inputMultiple, size.0 % multiple != 0 || size.1 % multiple != 0 {
                throw ConfigError(source, "MODEL.IMAGE_SIZE \(size.0)x\(size.1): the hourglass needs sides that are multiples of \(multiple) (4 x 2^DOWNSAMPLE_TIMES)")
            }
        }
        if task == .segmentation {
            if let test = try r.optionalPair("TEST.IMAGE_SIZE") { config.testImageSize = test }
            if let base = try r.optionalInt("TEST.BASE_SIZE") {
                guard base > 0, base <= Reader.limit else { throw ConfigError(source, "TEST.BASE_SIZE must be 1...\(Reader.limit), got \(base)") }
                config.testBaseSize = base
            }
            guard config.testScales.allSatisfy({ $0 > 0 && $0 <= 16 }) else {
                throw ConfigError(source, "TEST.SCALE_LIST must hold scales in (0, 16], got \(config.testScales)")
            }
            // MODEL.NUM_OUTPUTS: how many outputs the loss weighs (LOSS.BALANCE_WEIGHTS); TEST.OUTPUT_INDEX
            // (Python indexing, default -1) which one the test reads.
            let outputs = architecture.outputCount
            if let n = try r.optionalInt("MODEL.NUM_OUTPUTS"), n != outputs {
                throw ConfigError(source, "MODEL.NUM_OUTPUTS is \(n), but \(name) returns \(outputs) output\(outputs == 1 ? "" : "s")")
            }
            let index = try r.optionalInt("TEST.OUTPUT_INDEX") ?? -1
            guard (-outputs..<outputs).contains(index) else {
                throw ConfigError(source, "TEST.OUTPUT_INDEX \(index) is outside the \(outputs) output\(outputs == 1 ? "" : "s") of \(name)")
            }
            config.outputIndex = index < 0 ? outputs + index : index
        }
        return config
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? YamlError { return "\(e)".split(separator: "\n").prefix(3).joined(separator: " ") }
        return "\(error)"
    }
}

/// Typed access to a YAML document by dotted path, with errors that name the path.
struct Reader {
    let source: String
    let root: [String: Any]

    init(source: String, root: [String: Any]) { (self.source, self.root) = (source, root) }

    /// Parses an experiment file's text; the top level must be a mapping.
    init(yaml text: String, source: String) throws {
        let root: Any?
        do { root = try BoundedYAML.load(text) } catch let e as BoundedYAML.Refused {
            throw ConfigError(source, "\(e)")
        } catch {
            throw ConfigError(source, "not valid YAML: \(HRNetConfig.describe(error))")
        }
        guard let doc = root as? [String: Any] else { throw ConfigError(source, "expected a mapping at the top level") }
        self.init(source: source, root: doc)
    }

    /// A config file's text, with errors naming the file.
    static func text(of url: URL) throws -> String {
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw ConfigError(url.lastPathComponent, FileManager.default.fileExists(atPath: url.path) ? "cannot be read as UTF-8 text" : "no such file")
        }
    }

    func value(_ path: String) -> Any? {
        var node: Any? = root
        for part in path.split(separator: ".") {
            guard let map = node as? [String: Any] else { return nil }
            node = map[String(part)]
        }
        return node
    }
    func has(_ path: String) -> Bool { value(path) != nil }
    func fail(_ path: String, _ why: String) -> ConfigError { ConfigError(source, "\(path) \(why)") }

    func string(_ path: String) throws -> String {
        guard let v = value(path) else { throw fail(path, "is missing") }
        guard let s = v as? String else { throw fail(path, "must be a string, got \(v)") }
        return s
    }
    static func int(_ v: Any) -> Int? {
        if let i = v as? Int { return i }
        // Int(exactly:) refuses fractions and values beyond Int (1e300 would trap `Int(d)`).
        if let d = v as? Double { return Int(exactly: d) }
        return nil
    }
    func optionalInt(_ path: String) throws -> Int? {
        guard let v = value(path) else { return nil }
        guard let i = Self.int(v) else { throw fail(path, "must be an integer, got \(v)") }
        return i
    }
    /// Largest count accepted for any size in a config: far above every published HRNet, low
    /// enough that a hostile file cannot make the model builder allocate without bound.
    static let limit = 100_000

    func positiveInt(_ path: String) throws -> Int {
        guard let i = try optionalInt(path) else { throw fail(path, "is missing") }
        guard i > 0 else { throw fail(path, "must be positive, got \(i)") }
        guard i <= Self.limit else { throw fail(path, "is \(i), beyond the supported \(Self.limit)") }
        return i
    }
    func optionalBool(_ path: String) throws -> Bool? {
        guard let v = value(path) else { return nil }
        guard let b = v as? Bool else { throw fail(path, "must be true or false, got \(v)") }
        return b
    }
    func optionalDouble(_ path: String) throws -> Double? {
        guard let v = value(path) else { return nil }
        if let i = v as? Int { return Double(i) }
        guard let d = v as? Double else { throw fail(path, "must be a number, got \(v)") }
        return d
    }
    func optionalDoubles(_ path: String) throws -> [Double]? {
        guard let v = value(path) else { return nil }
        guard let list = v as? [Any] else { throw fail(path, "must be a list of numbers") }
        return try list.map {
            if let i = $0 as? Int { return Double(i) }
            guard let d = $0 as? Double else { throw fail(path, "must be a list of numbers, got \($0)") }
            return d
        }
    }
    func ints(_ path: String) throws -> [Int] {
        guard let v = value(path) else { throw fail(path, "is missing") }
        guard let list = v as? [Any] else { throw fail(path, "must be a list of integers, got \(v)") }
        return try list.map {
            guard let i = Self.int($0), i > 0 else { throw fail(path, "must hold positive integers, got \($0)") }
            guard i <= Self.limit else { throw fail(path, "holds \(i), beyond the supported \(Self.limit)") }
            return i
        }
    }
    func optionalPair(_ path: String) throws -> (Int, Int)? {
        guard has(path) else { return nil }
        let v = try ints(path)
        guard v.count == 2 else { throw fail(path, "must be [width, height], got \(v.count) numbers") }
        return (v[0], v[1])
    }

    /// MODEL.OCR (the official defaults: 512 mid, 256 key channels, dropout 0.05; SCALE, which
    /// the official model ignores, must be 1).
    func ocr() throws -> OCRSpec {
        var spec = OCRSpec()
        if has("MODEL.OCR.MID_CHANNELS") { spec.midChannels = try positiveInt("MODEL.OCR.MID_CHANNELS") }
        if has("MODEL.OCR.KEY_CHANNELS") { spec.keyChannels = try positiveInt("MODEL.OCR.KEY_CHANNELS") }
        if let p = try optionalDouble("MODEL.OCR.DROPOUT") {
            guard p >= 0, p < 1 else { throw fail("MODEL.OCR.DROPOUT", "must be in [0, 1), got \(p)") }
            spec.dropout = Float(p)
        }
        if let s = try optionalInt("MODEL.OCR.SCALE"), s != 1 {
            throw fail("MODEL.OCR.SCALE", "is \(s); the official seg_hrnet_ocr runs the attention at scale 1 whatever it says, so only 1 is accepted")
        }
        return spec
    }

    /// The outputs of the segmentation network a file describes (before it is built): LOSS.BALANCE_WEIGHTS gives one weight each.
    func outputCount() -> Int {
        switch value("MODEL.NAME") as? String {
        case "seg_hrnet_ocr": 2
        case "seg_unet": (value("MODEL.EXTRA.AUX_HEAD") as? Bool) == false ? 1 : 2
        default: 1
        }
    }

    /// pose_hourglass's MODEL.EXTRA (MMPose's `HourglassNet` arguments); keys left out take
    /// its defaults, hourglass52's.
    func hourglass() throws -> HourglassSpec {
        var spec = HourglassSpec()
        if has("MODEL.EXTRA.NUM_STACKS") { spec.stacks = try positiveInt("MODEL.EXTRA.NUM_STACKS") }
        if has("MODEL.EXTRA.DOWNSAMPLE_TIMES") { spec.downsampleTimes = try positiveInt("MODEL.EXTRA.DOWNSAMPLE_TIMES") }
        if has("MODEL.EXTRA.STAGE_CHANNELS") { spec.stageChannels = try ints("MODEL.EXTRA.STAGE_CHANNELS") }
        if has("MODEL.EXTRA.STAGE_BLOCKS") { spec.stageBlocks = try ints("MODEL.EXTRA.STAGE_BLOCKS") }
        if has("MODEL.EXTRA.FEAT_CHANNEL") { spec.featureChannels = try positiveInt("MODEL.EXTRA.FEAT_CHANNEL") }
        guard spec.stacks <= 8 else { throw fail("MODEL.EXTRA.NUM_STACKS", "must be 1...8, got \(spec.stacks)") }
        guard spec.downsampleTimes <= 8 else { throw fail("MODEL.EXTRA.DOWNSAMPLE_TIMES", "must be 1...8, got \(spec.downsampleTimes)") }
        guard spec.stageBlocks.count == spec.stageChannels.count else {
            throw fail("MODEL.EXTRA.STAGE_BLOCKS", "has \(spec.stageBlocks.count) entries but STAGE_CHANNELS has \(spec.stageChannels.count)")
        }
        guard spec.stageChannels.count > spec.downsampleTimes else {
            throw fail("MODEL.EXTRA.STAGE_CHANNELS", "needs more than DOWNSAMPLE_TIMES (\(spec.downsampleTimes)) entries, got \(spec.stageChannels.count)")
        }
        guard spec.stageChannels.allSatisfy({ $0 <= 8192 }), spec.featureChannels <= 8192, spec.stageBlocks.allSatisfy({ $0 <= 64 }) else {
            throw fail("MODEL.EXTRA.STAGE_CHANNELS", "and FEAT_CHANNEL must be at most 8192, STAGE_BLOCKS at most 64")
        }
        guard spec.stageChannels[0] % 2 == 0 else {
            throw fail("MODEL.EXTRA.STAGE_CHANNELS", "must start with an even count (the stem makes half of it first), got \(spec.stageChannels[0])")
        }
        return spec
    }

    /// seg_unet's MODEL.EXTRA (MMSegmentation's `UNet` arguments of the unet-s5-d16 configs, and
    /// its FCN heads'); keys left out take those configs' values.
    func unet() throws -> UNetSpec {
        var spec = UNetSpec()
        if has("MODEL.EXTRA.BASE_CHANNELS") { spec.baseChannels = try positiveInt("MODEL.EXTRA.BASE_CHANNELS") }
        if has("MODEL.EXTRA.ENC_NUM_CONVS") { spec.encoderConvs = try ints("MODEL.EXTRA.ENC_NUM_CONVS") }
        if has("MODEL.EXTRA.DEC_NUM_CONVS") { spec.decoderConvs = try ints("MODEL.EXTRA.DEC_NUM_CONVS") }
        if has("MODEL.EXTRA.HEAD_CHANNELS") { spec.headChannels = try positiveInt("MODEL.EXTRA.HEAD_CHANNELS") }
        spec.auxiliaryHead = try optionalBool("MODEL.EXTRA.AUX_HEAD") ?? spec.auxiliaryHead
        if let p = try optionalDouble("MODEL.EXTRA.DROPOUT") {
            guard p >= 0, p < 1 else { throw fail("MODEL.EXTRA.DROPOUT", "must be in [0, 1), got \(p)") }
            spec.dropout = Float(p)
        }
        guard (2...8).contains(spec.encoderConvs.count) else {
            throw fail("MODEL.EXTRA.ENC_NUM_CONVS", "must give 2...8 stages, got \(spec.encoderConvs.count)")
        }
        guard spec.decoderConvs.count == spec.encoderConvs.count - 1 else {
            throw fail("MODEL.EXTRA.DEC_NUM_CONVS", "has \(spec.decoderConvs.count) entries; ENC_NUM_CONVS's \(spec.encoderConvs.count) stages need \(spec.encoderConvs.count - 1)")
        }
        guard (spec.encoderConvs + spec.decoderConvs).allSatisfy({ $0 <= 16 }) else {
            throw fail("MODEL.EXTRA.ENC_NUM_CONVS", "and DEC_NUM_CONVS must be at most 16 convolutions a stage")
        }
        guard spec.baseChannels << spec.downsamplings <= 8192, spec.headChannels <= 8192 else {
            throw fail("MODEL.EXTRA.BASE_CHANNELS", "\(spec.baseChannels) doubles to more than 8192 channels over \(spec.encoderConvs.count) stages")
        }
        return spec
    }

    /// pose_resnet's MODEL.EXTRA. Keys the file leaves out take the SimpleBaseline defaults of the
    /// original simple-baselines code (3 deconv layers of 256 filters, kernel 4, no bias).
    func simpleBaseline() throws -> SimpleBaselineSpec {
        let depth = try positiveInt("MODEL.EXTRA.NUM_LAYERS")
        guard SimpleBaselineSpec.resnets[depth] != nil else {
            throw fail("MODEL.EXTRA.NUM_LAYERS", "is \(depth); the official pose_resnet has ResNets of 18, 34, 50, 101 and 152 layers")
        }
        var spec = SimpleBaselineSpec(depth: depth)
        if has("MODEL.EXTRA.RESNET_PLANES") {
            spec.planes = try ints("MODEL.EXTRA.RESNET_PLANES")
            guard spec.planes.count == 4, spec.planes.allSatisfy({ $0 <= 8192 }) else {
                throw fail("MODEL.EXTRA.RESNET_PLANES", "must hold 4 plane counts (layer1...layer4) of at most 8192")
            }
        }
        spec.deconvBias = try optionalBool("MODEL.EXTRA.DECONV_WITH_BIAS") ?? false
        if has("MODEL.EXTRA.NUM_DECONV_FILTERS") { spec.deconvFilters = try ints("MODEL.EXTRA.NUM_DECONV_FILTERS") }
        if has("MODEL.EXTRA.NUM_DECONV_KERNELS") { spec.deconvKernels = try ints("MODEL.EXTRA.NUM_DECONV_KERNELS") }
        let layers = try optionalInt("MODEL.EXTRA.NUM_DECONV_LAYERS") ?? 3
        guard (0...8).contains(layers) else { throw fail("MODEL.EXTRA.NUM_DECONV_LAYERS", "must be 0...8, got \(layers)") }
        guard spec.deconvFilters.count == layers else {
            throw fail("MODEL.EXTRA.NUM_DECONV_FILTERS", "has \(spec.deconvFilters.count) entries but NUM_DECONV_LAYERS is \(layers)")
        }
        guard spec.deconvKernels.count == layers else {
            throw fail("MODEL.EXTRA.NUM_DECONV_KERNELS", "has \(spec.deconvKernels.count) entries but NUM_DECONV_LAYERS is \(layers)")
        }
        guard spec.deconvFilters.allSatisfy({ $0 <= 8192 }) else { throw fail("MODEL.EXTRA.NUM_DECONV_FILTERS", "must be at most 8192 each") }
        if let bad = spec.deconvKernels.first(where: { SimpleBaselineSpec.deconvGeometry(kernel: $0) == nil }) {
            throw fail("MODEL.EXTRA.NUM_DECONV_KERNELS", "holds \(bad); the official pose_resnet takes kernels 4, 3 and 2")
        }
        return spec
    }

    func stage(_ path: String, expectedBranches: Int) throws -> StageSpec {
        guard has(path) else { throw fail(path, "is missing") }
        // The official segmentation files spell STAGE1's key NUM_RANCHES; layer1 has one branch anyway.
        let branches = expectedBranches == 1 ? (try optionalInt("\(path).NUM_BRANCHES") ?? 1) : try positiveInt("\(path).NUM_BRANCHES")
        guard branches == expectedBranches else {
            throw fail("\(path).NUM_BRANCHES", "must be \(expectedBranches) (each stage adds one branch), got \(branches)")
        }
        let blockName = try string("\(path).BLOCK")
        guard let block = BlockKind(rawValue: blockName) else { throw fail("\(path).BLOCK", "must be BASIC or BOTTLENECK, got \(blockName)") }
        let blocks = try ints("\(path).NUM_BLOCKS"), channels = try ints("\(path).NUM_CHANNELS")
        guard blocks.count == branches else { throw fail("\(path).NUM_BLOCKS", "has \(blocks.count) entries but NUM_BRANCHES is \(branches)") }
        guard channels.count == branches else { throw fail("\(path).NUM_CHANNELS", "has \(channels.count) entries but NUM_BRANCHES is \(branches)") }
        if let fuse = value("\(path).FUSE_METHOD") as? String, fuse != "SUM" {
            throw fail("\(path).FUSE_METHOD", "must be SUM, got \(fuse)")
        }
        let modules = try optionalInt("\(path).NUM_MODULES") ?? 1
        guard modules > 0, modules <= 64 else { throw fail("\(path).NUM_MODULES", "must be 1...64, got \(modules)") }
        guard blocks.allSatisfy({ $0 <= 64 }) else { throw fail("\(path).NUM_BLOCKS", "must be at most 64 per branch, got \(blocks)") }
        guard channels.allSatisfy({ $0 <= 8192 }) else { throw fail("\(path).NUM_CHANNELS", "must be at most 8192, got \(channels)") }
        return StageSpec(modules: modules, branches: branches, block: block, blocks: blocks, channels: channels)
    }
}
