/// Built-in configs, so users need no file: `{pose|seg|cls}_{width}[_{suffix}]`.
///
/// Widths and their stages follow the official configs (HRNet-Image-Classification and
/// HRNet-Semantic-Segmentation experiments): W18-small v1 and v2, and W18...W64, whose
/// stage 2/3/4 have 1/4/3 modules of 4 BasicBlocks per branch with C, 2C, 4C, 8C channels.
/// Pose suffix: the input `HxW` (default 256x192), 17 COCO joints. Segmentation suffix:
/// `cityscapes` (19 classes, 1024x512 crops) or `pascal_context` (59 classes, 520x520), with
/// ALIGN_CORNERS False as their official files. HRNet-OCR (`ocr_{width}_{data set}`): the official
/// seg_hrnet_ocr files of the HRNet-OCR branch (MID_CHANNELS 512, KEY_CHANNELS 256, ALIGN_CORNERS
/// True, TEST.OUTPUT_INDEX -1) for `cityscapes` (19), `pascal_context` (59), `pascal_context_60`,
/// `lip` (20, 473x473), `cocostuff` (171) and `ade20k` (150), single-scale test as those files. Classification (`cls_{width}`): the official
/// cls_hrnet / timm `hrnet_*` ImageNet models, 1000 classes, 224x224; `cls_w18_ssld` and
/// `cls_w48_ssld` are timm's `hrnet_w18_ssld`/`hrnet_w48_ssld` (no bias in the head's convs).
/// SimpleBaseline (`pose_resnet_{18|34|50|101|152}[_{HxW}]`): the official experiments/coco/resnet
/// files (3 deconvolutions of 256 filters, kernel 4, no bias; COLOR_RGB false).
public enum Presets {
    public static let widths = ["w18_small_v1", "w18_small_v2", "w18", "w30", "w32", "w40", "w44", "w48", "w64"]

    /// Every name `config(named:)` accepts, the common ones (other pose input sizes also work).
    public static var names: [String] {
        widths.flatMap { w in
            ["pose_\(w)_256x192", "pose_\(w)_384x288", "seg_\(w)_cityscapes", "seg_\(w)_pascal_context"]
        } + widths.map { "cls_\($0)" } + ["cls_w18_ssld", "cls_w48_ssld", DefaultModel.presetName]
            + ocrDataSets.map { "ocr_w48_\($0.name)" }
            + SimpleBaselineSpec.resnets.keys.sorted().flatMap { ["pose_resnet_\($0)_256x192", "pose_resnet_\($0)_384x288"] }
    }

    /// The pose input `HxW` of a preset suffix (default 256x192).
    static func poseInput(_ suffix: String, fail: (String) -> ConfigError) throws -> (h: Int, w: Int) {
        guard !suffix.isEmpty else { return (256, 192) }
        let hw = suffix.split(separator: "x").compactMap { Int($0) }
        guard hw.count == 2, hw[0] > 0, hw[1] > 0, hw[0] % 32 == 0, hw[1] % 32 == 0 else {
            throw fail("pose input '\(suffix)' must be HxW with sides multiples of 32")
        }
        return (hw[0], hw[1])
    }

    /// `pose_resnet_{depth}[_{HxW}]`: the official SimpleBaseline COCO files.
    static func simpleBaseline(_ name: String, _ parts: [String], fail: (String) -> ConfigError) throws -> HRNetConfig {
        guard let depth = parts.first.flatMap({ Int($0) }), SimpleBaselineSpec.resnets[depth] != nil else {
            throw fail("unknown ResNet depth '\(parts.first ?? "")' (18, 34, 50, 101 or 152)")
        }
        let (h, w) = try poseInput(parts.dropFirst().joined(separator: "_"), fail: fail)
        var config = HRNetConfig(source: "preset \(name)", modelName: "pose_resnet", task: .pose,
                                 architecture: .simpleBaseline(SimpleBaselineSpec(depth: depth), joints: 17, finalKernel: 1),
                                 imageSize: (w, h), heatmapSize: (w / 4, h / 4), sigma: h >= 384 ? 3 : 2, dataset: "coco",
                                 flipTest: true, testScales: [1])
        config.colorRGB = false
        return config
    }

    public static func config(named name: String) throws -> HRNetConfig {
        if name.lowercased() == DefaultModel.presetName { return try DefaultModel.config() }
        func fail(_ why: String) -> ConfigError {
            ConfigError("preset \(name)", "\(why). Presets are {pose|seg}_{width}[_{HxW}|_cityscapes|_pascal_context], ocr_{width}_{data set}, cls_{width} "
                        + "and pose_resnet_{depth}[_{HxW}], "
                        + "width one of \(widths.joined(separator: ", ")); e.g. pose_w32_256x192, pose_w48_384x288, seg_w48_cityscapes, cls_w18_small_v2")
        }
        var parts = name.lowercased().split(separator: "_").map(String.init)
        guard parts.count >= 2 else { throw fail("not a preset name") }
        let task = parts.removeFirst()
        if task == "pose", parts.first == "resnet" { return try simpleBaseline(name, Array(parts.dropFirst()), fail: fail) }
        // The width is one or three parts (w18, or w18_small_v2).
        let width: String
        if parts.count >= 3, parts[1] == "small" { width = parts[0...2].joined(separator: "_"); parts.removeFirst(3) }
        else { width = parts.removeFirst() }
        guard let (stage1, stages) = Self.stages(width) else { throw fail("unknown width '\(width)'") }
        let suffix = parts.joined(separator: "_")
        switch task {
        case "pose":
            let (h, w) = try poseInput(suffix, fail: fail)
            return HRNetConfig(source: "preset \(name)", modelName: "pose_hrnet", task: .pose,
                               architecture: Architecture(stage1: stage1, stages: stages, head: .pose(joints: 17, finalKernel: 1)),
                               imageSize: (w, h), heatmapSize: (w / 4, h / 4), sigma: h >= 384 ? 3 : 2, dataset: "coco",
                               flipTest: true, testScales: [1])
        case "seg":
            let (classes, size, dataset, scales, test, base): (Int, (Int, Int), String, [Double], (Int, Int), Int)
            switch suffix {
            case "", "cityscapes": (classes, size, dataset, scales, test, base) = (19, (1024, 512), "cityscapes", [1], (2048, 1024), 2048)
            case "pascal_context":
                (classes, size, dataset, scales, test, base) = (59, (520, 520), "pascal_ctx", [0.5, 0.75, 1, 1.25, 1.5, 1.75], (520, 520), 520)
            default: throw fail("unknown data set '\(suffix)'")
            }
            var config = HRNetConfig(source: "preset \(name)", modelName: "seg_hrnet", task: .segmentation,
                               architecture: Architecture(stage1: stage1, stages: stages,
                                                          head: .segmentation(classes: classes, finalKernel: 1, alignCorners: false)),
                               imageSize: size, heatmapSize: (size.0 / 4, size.1 / 4), sigma: 2, dataset: dataset,
                               flipTest: false, testScales: scales)
            config.testImageSize = test
            config.testBaseSize = base
            return config
        case "ocr":
            guard let d = ocrDataSets.first(where: { $0.name == (suffix.isEmpty ? "cityscapes" : suffix) }) else {
                throw fail("unknown OCR data set '\(suffix)' (one of \(ocrDataSets.map(\.name).joined(separator: ", ")))")
            }
            var config = HRNetConfig(source: "preset \(name)", modelName: "seg_hrnet_ocr", task: .segmentation,
                                     architecture: Architecture(stage1: stage1, stages: stages,
                                                                head: .segmentation(classes: d.classes, finalKernel: 1, alignCorners: true,
                                                                                    ocr: OCRSpec())),
                                     imageSize: d.train, heatmapSize: (d.train.0 / 4, d.train.1 / 4), sigma: 2, dataset: d.dataset,
                                     flipTest: false, testScales: [1])
            config.testImageSize = d.test
            config.testBaseSize = d.base
            config.outputIndex = 1
            return config
        case "cls":
            var spec = ClassifierSpec()
            switch suffix {
            case "": break
            case "ssld" where width == "w18" || width == "w48": spec.convBias = false
            default: throw fail("unknown classification variant '\(suffix)' (cls_w18_ssld and cls_w48_ssld exist)")
            }
            return HRNetConfig(source: "preset \(name)", modelName: "cls_hrnet", task: .classification,
                               architecture: Architecture(stage1: stage1, stages: stages, head: .classification(spec)),
                               imageSize: (224, 224), heatmapSize: (56, 56), sigma: 2, dataset: "imagenet",
                               flipTest: false, testScales: [1])
        default:
            throw fail("unknown task '\(task)'")
        }
    }

    /// The official HRNet-OCR experiment files' data sets: classes, TRAIN.IMAGE_SIZE, TEST.IMAGE_SIZE
    /// and BASE_SIZE ([w, h]), DATASET.DATASET.
    static let ocrDataSets: [(name: String, classes: Int, train: (Int, Int), test: (Int, Int), base: Int, dataset: String)] = [
        ("cityscapes", 19, (1024, 512), (2048, 1024), 2048, "cityscapes"),
        ("pascal_context", 59, (520, 520), (520, 520), 520, "pascal_ctx"),
        ("pascal_context_60", 60, (520, 520), (520, 520), 520, "pascal_ctx"),
        ("lip", 20, (473, 473), (473, 473), 473, "lip"),
        ("cocostuff", 171, (520, 520), (520, 520), 520, "cocostuff"),
        ("ade20k", 150, (520, 520), (520, 520), 520, "ade20k"),
    ]

    /// STAGE1 and STAGE2..4 of each width, as the official configs give them.
    static func stages(_ width: String) -> (StageSpec, [StageSpec])? {
        func stage(_ modules: Int, _ blocks: Int, _ channels: [Int]) -> StageSpec {
            StageSpec(modules: modules, branches: channels.count, block: .basic,
                      blocks: Array(repeating: blocks, count: channels.count), channels: channels)
        }
        switch width {
        case "w18_small_v1":
            return (StageSpec(modules: 1, branches: 1, block: .bottleneck, blocks: [1], channels: [32]),
                    [stage(1, 2, [16, 32]), stage(1, 2, [16, 32, 64]), stage(1, 2, [16, 32, 64, 128])])
        case "w18_small_v2":
            return (StageSpec(modules: 1, branches: 1, block: .bottleneck, blocks: [2], channels: [64]),
                    [stage(1, 2, [18, 36]), stage(3, 2, [18, 36, 72]), stage(2, 2, [18, 36, 72, 144])])
        default:
            guard width.hasPrefix("w"), let c = Int(width.dropFirst()), [18, 30, 32, 40, 44, 48, 64].contains(c) else { return nil }
            return (StageSpec.officialPoseStage1,
                    [stage(1, 4, [c, 2 * c]), stage(4, 4, [c, 2 * c, 4 * c]), stage(3, 4, [c, 2 * c, 4 * c, 8 * c])])
        }
    }
}
