import Foundation
import HRNet

/// Reads a detector from mmdetection's Python configs: a config file with its `_base_` chain
/// (mmdet 3.x), or the merged config text a checkpoint carries in `meta` (mmdet 2.x
/// `config`, mmengine `cfg`). Only what the model and its test pipeline need is read;
/// anything of those that this package cannot run is refused by name.
public enum DetectorConfig {
    /// The spec of a config file (its `_base_` files resolved as mmengine does).
    public static func load(_ url: URL) throws -> DetectorSpec {
        try spec(from: try PythonConfig.load(contentsOf: url).value, source: url.lastPathComponent)
    }

    /// The spec of a merged config's text (from a checkpoint's `meta`).
    public static func parse(_ text: String, source: String, classes: [String]? = nil) throws -> DetectorSpec {
        try spec(from: try PythonConfig.parse(text: text, name: source).value, source: source, classes: classes)
    }

    /// The spec of a parsed config. `classes` names the labels (a checkpoint's `CLASSES`);
    /// without it, COCO's 80 when the head has 80 classes, else "class i".
    public static func spec(from root: PyValue, source: String, classes: [String]? = nil) throws -> DetectorSpec {
        let r = PyConfigNode(file: source, value: root)
        let model = try r.dict("model")
        let type = try model.string("type")
        guard type == "FCOS" || type == "FasterRCNN" else {
            throw r.error("model.type", "'\(type)' is not supported (FCOS or FasterRCNN, with an HRNet backbone and HRFPN neck)")
        }
        let (stage1, stages) = try backbone(try model.dict("backbone"))
        let neck = try hrfpn(try model.dict("neck"))
        guard neck.inChannels == stages.last?.outputChannels else {
            throw r.error("model.neck.in_channels", "\(neck.inChannels) does not match the backbone's streams \(stages.last?.outputChannels ?? [])")
        }
        // mmdet 2.0 kept test_cfg beside the model (3.x's top-level test_cfg is the test loop).
        let test = model.optional("test_cfg") ?? r.optional("test_cfg").flatMap { t in
            t.optional("score_thr") != nil || t.optional("rpn") != nil ? t : nil
        }
        let head: DetectionHead
        let classCount: Int
        if type == "FCOS" {
            var fcos = try fcosHead(try model.dict("bbox_head"))
            if let test, test.value?.isNone != true { fcos.test = try denseTest(test) }
            guard fcos.inChannels == neck.outChannels else {
                throw r.error("model.bbox_head.in_channels", "\(fcos.inChannels) does not match the neck's \(neck.outChannels) channels")
            }
            guard fcos.strides.count == neck.levels else {
                throw r.error("model.bbox_head.strides", "\(fcos.strides.count) strides for the neck's \(neck.levels) levels")
            }
            (head, classCount) = (.fcos(fcos), fcos.classes)
        } else {
            let rcnn = try fasterRCNN(model, test: test, neck: neck)
            (head, classCount) = (.fasterRCNN(rcnn), rcnn.classes)
        }
        let names = classes ?? (classCount == COCOClasses.names.count ? COCOClasses.names : (0..<classCount).map { "class \($0)" })
        guard names.count == classCount else {
            throw r.error("model num_classes", "\(classCount) classes, but the checkpoint names \(names.count)")
        }
        let spec = DetectorSpec(stage1: stage1, stages: stages, neck: neck, head: head, preprocessing: try preprocessing(r, model),
                                classes: names)
        // Sizes come from the file: refuse a model no checkpoint could fill before anything is allocated for it.
        let parameters = DetectorModel(spec: spec).parameterCount
        guard parameters <= maxParameters else {
            throw r.error("model", "\(parameters) parameters, more than \(maxParameters) (the largest zoo model has 64 M): check the widths")
        }
        return spec
    }

    /// The largest model a config may describe: 8x mmdetection's largest HRNetV2p detector.
    public static let maxParameters = 512_000_000

    /// `rpn_head=dict(type='RPNHead', ...)`, `roi_head=dict(type='StandardRoIHead', ...)` and
    /// `test_cfg=dict(rpn=..., rcnn=...)`.
    static func fasterRCNN(_ model: PyConfigNode, test: PyConfigNode?, neck: HRFPNSpec) throws -> FasterRCNNSpec {
        var s = FasterRCNNSpec()
        let rpn = try model.dict("rpn_head")
        guard try rpn.string("type") == "RPNHead" else { throw rpn.error("type", "'\(try rpn.string("type"))' is not supported (RPNHead)") }
        if let convs = try rpn.optionalInt("num_convs"), convs != 1 { throw rpn.error("num_convs", "\(convs) is not supported (1)") }
        s.rpnInChannels = try rpn.int("in_channels")
        s.rpnFeatureChannels = try rpn.optionalInt("feat_channels") ?? 256
        let anchors = try rpn.dict("anchor_generator")
        guard try anchors.string("type") == "AnchorGenerator" else { throw anchors.error("type", "only AnchorGenerator is supported") }
        s.anchorStrides = try anchors.ints("strides")
        s.anchorRatios = try anchors.doubles("ratios").map(Float.init)
        s.anchorScales = try anchors.optionalDoubles("scales").map { $0.map(Float.init) } ?? []
        if s.anchorScales.isEmpty { throw anchors.error("scales", "give scales (octave_base_scale is not supported)") }
        if let offset = try anchors.optionalDouble("center_offset"), offset != 0 { throw anchors.error("center_offset", "only 0 is supported") }
        if let coder = rpn.optional("bbox_coder") { (s.rpnMeans, s.rpnStds) = try deltaCoder(coder) }
        let roi = try model.dict("roi_head")
        guard try roi.string("type") == "StandardRoIHead" else { throw roi.error("type", "only StandardRoIHead is supported") }
        let extractor = try roi.dict("bbox_roi_extractor")
        let layer = try extractor.dict("roi_layer")
        guard try layer.string("type") == "RoIAlign" else { throw layer.error("type", "only RoIAlign is supported") }
        if layer.optional("aligned")?.value?.bool == false { throw layer.error("aligned", "only aligned=True (mmcv's default) is supported") }
        if let pool = layer.optional("pool_mode")?.value?.string, pool != "avg" { throw layer.error("pool_mode", "only avg is supported") }
        s.roiOutputSize = try layer.int("output_size")
        s.roiSamplingRatio = try layer.optionalInt("sampling_ratio") ?? 0
        s.roiStrides = try extractor.ints("featmap_strides")
        s.finestScale = Float(try extractor.optionalDouble("finest_scale") ?? 56)
        let box = try roi.dict("bbox_head")
        let boxType = try box.string("type")
        guard boxType == "Shared2FCBBoxHead" || boxType == "ConvFCBBoxHead" else { throw box.error("type", "'\(boxType)' is not supported (Shared2FCBBoxHead)") }
        for key in ["num_shared_convs", "num_cls_convs", "num_reg_convs", "num_cls_fcs", "num_reg_fcs"] {
            if let n = try box.optionalInt(key), n != 0 { throw box.error(key, "only shared FCs are supported") }
        }
        if box.optional("with_avg_pool")?.value?.bool == true { throw box.error("with_avg_pool", "is not supported") }
        s.roiInChannels = try box.optionalInt("in_channels") ?? 256
        s.fcChannels = try box.optionalInt("fc_out_channels") ?? 1024
        s.sharedFCs = try box.optionalInt("num_shared_fcs") ?? 2
        s.classes = try box.int("num_classes")
        if let size = try box.optionalInt("roi_feat_size"), size != s.roiOutputSize {
            throw box.error("roi_feat_size", "\(size) differs from the RoIAlign output size \(s.roiOutputSize)")
        }
        s.classAgnosticBoxes = box.optional("reg_class_agnostic")?.value?.bool ?? false
        if let coder = box.optional("bbox_coder") { (s.boxMeans, s.boxStds) = try deltaCoder(coder) }
        if let test {
            if let t = test.optional("rpn") { s.rpnTest = try denseTest(t) }
            if let t = test.optional("rcnn") { s.rcnnTest = try denseTest(t) }
        }
        guard s.rpnInChannels == neck.outChannels, s.roiInChannels == neck.outChannels else {
            throw model.error("rpn_head.in_channels", "the RPN and RoI heads must read the neck's \(neck.outChannels) channels")
        }
        guard s.anchorStrides.count == neck.levels, s.roiStrides.count <= neck.levels, !s.roiStrides.isEmpty,
              (1...64).contains(s.roiOutputSize), (0...64).contains(s.roiSamplingRatio), s.finestScale > 0,
              (1...100_000).contains(s.classes), (1...16384).contains(s.fcChannels), (1...8).contains(s.sharedFCs),
              s.anchorStrides.allSatisfy({ (1...1024).contains($0) }), s.anchorRatios.allSatisfy({ $0 > 0 }), s.anchorScales.allSatisfy({ $0 > 0 }) else {
            throw model.error("", "the Faster R-CNN heads' sizes do not fit the neck's \(neck.levels) levels or are out of range")
        }
        return s
    }

    /// `bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=..., target_stds=...)`.
    static func deltaCoder(_ c: PyConfigNode) throws -> ([Float], [Float]) {
        guard try c.string("type") == "DeltaXYWHBBoxCoder" else { throw c.error("type", "only DeltaXYWHBBoxCoder is supported") }
        let means = try c.optionalDoubles("target_means") ?? [0, 0, 0, 0], stds = try c.optionalDoubles("target_stds") ?? [1, 1, 1, 1]
        guard means.count == 4, stds.count == 4 else { throw c.error("target_stds", "means and stds need four values") }
        return (means.map(Float.init), stds.map(Float.init))
    }

    // MARK: - Parts

    /// `backbone=dict(type='HRNet', extra=dict(stage1=..., stage4=...))`.
    static func backbone(_ b: PyConfigNode) throws -> (StageSpec, [StageSpec]) {
        let type = try b.string("type")
        guard type == "HRNet" else { throw b.error("type", "backbone '\(type)' is not supported (HRNet only)") }
        if let m = b.optional("multiscale_output"), m.value?.bool == false {
            throw b.error("multiscale_output", "False is not supported: the neck needs all four streams")
        }
        let extra = try b.dict("extra")
        var specs: [StageSpec] = []
        for k in 1...4 {
            let s = try extra.dict("stage\(k)")
            let blockName = try s.string("block")
            guard let block = BlockKind(rawValue: blockName) else { throw s.error("block", "'\(blockName)' is neither BASIC nor BOTTLENECK") }
            let branches = try s.int("num_branches")
            let spec = StageSpec(modules: try s.int("num_modules"), branches: branches, block: block,
                                 blocks: try s.ints("num_blocks"), channels: try s.ints("num_channels"))
            guard spec.blocks.count == branches, spec.channels.count == branches, branches == k, spec.modules >= 1,
                  (spec.blocks + spec.channels).allSatisfy({ $0 >= 1 && $0 <= 4096 }) else {
                throw s.error("", "stage \(k) needs \(k) branch(es) with num_blocks and num_channels for each (found \(branches))")
            }
            if let fuse = s.optional("fuse_method")?.value?.string, fuse != "SUM" { throw s.error("fuse_method", "'\(fuse)' is not supported (SUM)") }
            specs.append(spec)
        }
        return (specs[0], Array(specs.dropFirst()))
    }

    /// `neck=dict(type='HRFPN', in_channels=[...], out_channels=256, stride=2, num_outs=5)`.
    static func hrfpn(_ n: PyConfigNode) throws -> HRFPNSpec {
        let type = try n.string("type")
        guard type == "HRFPN" else { throw n.error("type", "neck '\(type)' is not supported (HRFPN only)") }
        for key in ["conv_cfg", "norm_cfg"] {
            if let v = n.optional(key), v.value?.isNone != true { throw n.error(key, "is not supported (HRFPN without norm)") }
        }
        let poolingName = n.optional("pooling_type")?.value?.string ?? "AVG"
        guard let pooling = HRFPNSpec.Pooling(rawValue: poolingName) else { throw n.error("pooling_type", "'\(poolingName)' is neither AVG nor MAX") }
        let spec = HRFPNSpec(inChannels: try n.ints("in_channels"), outChannels: try n.int("out_channels"),
                             levels: try n.optionalInt("num_outs") ?? 5, stride: try n.optionalInt("stride") ?? 1, pooling: pooling)
        guard (1...8).contains(spec.levels), (1...2).contains(spec.stride), (1...8192).contains(spec.outChannels) else {
            throw n.error("", "num_outs \(spec.levels), stride \(spec.stride) or out_channels \(spec.outChannels) out of range")
        }
        return spec
    }

    /// `bbox_head=dict(type='FCOSHead', num_classes=80, in_channels=256, ...)`, with
    /// FCOSHead's defaults for what the config leaves out.
    static func fcosHead(_ h: PyConfigNode) throws -> FCOSHeadSpec {
        let type = try h.string("type")
        guard type == "FCOSHead" else { throw h.error("type", "head '\(type)' is not supported (FCOSHead)") }
        if h.optional("dcn_on_last_conv")?.value?.bool == true { throw h.error("dcn_on_last_conv", "deformable convolution is not supported") }
        var groups: Int? = 32  // FCOSHead's default norm_cfg: GN, 32 groups
        if let norm = h.optional("norm_cfg") {
            if norm.value?.isNone == true { groups = nil } else {
                let kind = try norm.string("type")
                guard kind == "GN" else { throw norm.error("type", "'\(kind)' is not supported in the head (GN or None)") }
                groups = try norm.int("num_groups")
            }
        }
        var bias: Bool?
        if let b = h.optional("conv_bias") {
            if let flag = b.value?.bool { bias = flag } else if b.value?.string != "auto" { throw h.error("conv_bias", "must be 'auto', True or False") }
        }
        let spec = FCOSHeadSpec(classes: try h.int("num_classes"), inChannels: try h.int("in_channels"),
                                featureChannels: try h.optionalInt("feat_channels") ?? 256, stackedConvs: try h.optionalInt("stacked_convs") ?? 4,
                                normGroups: groups, towerBias: bias, strides: try h.optionalInts("strides") ?? [4, 8, 16, 32, 64],
                                centernessOnRegression: h.optional("centerness_on_reg")?.value?.bool ?? false,
                                normOnBox: h.optional("norm_on_bbox")?.value?.bool ?? false)
        guard (1...100_000).contains(spec.classes), (1...8192).contains(spec.featureChannels), (0...16).contains(spec.stackedConvs),
              spec.strides.allSatisfy({ (1...1024).contains($0) }) else {
            throw h.error("", "num_classes, feat_channels, stacked_convs or strides out of range")
        }
        if let g = spec.normGroups, g < 1 || spec.featureChannels % g != 0 {
            throw h.error("norm_cfg.num_groups", "\(g) groups do not divide feat_channels \(spec.featureChannels)")
        }
        return spec
    }

    /// `test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)`.
    static func denseTest(_ t: PyConfigNode) throws -> DenseTestConfig {
        var c = DenseTestConfig()
        c.nmsPre = try t.optionalInt("nms_pre") ?? c.nmsPre
        c.minBoxSize = Float(try t.optionalDouble("min_bbox_size") ?? -1)
        c.scoreThreshold = Float(try t.optionalDouble("score_thr") ?? 0)
        c.maxPerImage = try t.optionalInt("max_per_img") ?? c.maxPerImage
        if let nms = t.optional("nms") {
            let kind = nms.optional("type")?.value?.string ?? "nms"
            guard kind == "nms" else { throw nms.error("type", "'\(kind)' is not supported (nms)") }
            c.nms.iouThreshold = Float(try nms.double("iou_threshold"))
            c.nms.classAgnostic = nms.optional("class_agnostic")?.value?.bool ?? false
        }
        guard c.nmsPre > 0, c.maxPerImage > 0, (0...1).contains(c.nms.iouThreshold) else {
            throw t.error("", "nms_pre and max_per_img must be positive, nms.iou_threshold within 0...1")
        }
        return c
    }

    /// mmdet 3.x: `model.data_preprocessor` and the `Resize` of the test pipeline; mmdet 2.x
    /// (checkpoint meta): `Normalize` and `Pad` inside `data.test.pipeline`'s `MultiScaleFlipAug`.
    static func preprocessing(_ root: PyConfigNode, _ model: PyConfigNode) throws -> DetectionPreprocessing {
        var mean: [Double]?, std: [Double]?, rgb: Bool?, pad: Int?
        if let d = model.optional("data_preprocessor") {
            mean = try d.optionalDoubles("mean"); std = try d.optionalDoubles("std")
            // Either flag swaps the channels of what OpenCV decoded (BGR) to RGB.
            rgb = (d.optional("bgr_to_rgb")?.value?.bool ?? false) || (d.optional("rgb_to_bgr")?.value?.bool ?? false)
            pad = try d.optionalInt("pad_size_divisor")
        }
        var scale: (Int, Int)?
        var keepRatio = true
        for step in try testPipeline(root) {
            switch step.optional("type")?.value?.string {
            case "Resize":
                keepRatio = step.optional("keep_ratio")?.value?.bool ?? keepRatio
                if let s = try step.optionalInts("scale") ?? step.optionalInts("img_scale") {
                    guard s.count == 2 else { throw step.error("scale", "must be (width, height)") }
                    scale = (s[0], s[1])
                }
            case "MultiScaleFlipAug":
                if let s = try step.optionalInts("img_scale") ?? step.optionalInts("scale") {
                    guard s.count == 2 else { throw step.error("img_scale", "must be one (width, height)") }
                    scale = (s[0], s[1])
                }
                if step.optional("flip")?.value?.bool == true { throw step.error("flip", "flip test is not supported") }
                for inner in try step.list("transforms") {
                    switch inner.optional("type")?.value?.string {
                    case "Resize": keepRatio = inner.optional("keep_ratio")?.value?.bool ?? keepRatio
                    case "Normalize":
                        mean = try inner.doubles("mean"); std = try inner.doubles("std")
                        rgb = inner.optional("to_rgb")?.value?.bool ?? true
                    case "Pad": pad = try inner.optionalInt("size_divisor") ?? pad
                    default: break
                    }
                }
            default: break
            }
        }
        guard let mean, let std, mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
            throw root.error("model.data_preprocessor", "needs mean and std of 3 channels (std positive)")
        }
        guard let scale, scale.0 >= 1, scale.1 >= 1, scale.0 <= 16384, scale.1 <= 16384 else {
            throw root.error("test_pipeline", "has no Resize scale (width, height) within 1...16384")
        }
        // mmdet's Pad default and DetDataPreprocessor's default are 1; the zoo configs say 32.
        return DetectionPreprocessing(mean: mean.map(Float.init), std: std.map(Float.init), rgb: rgb ?? false,
                                      scale: (scale.0, scale.1), keepRatio: keepRatio, padDivisor: max(1, pad ?? 1))
    }

    /// The test pipeline's steps: `test_dataloader.dataset.pipeline`, `test_pipeline`, or mmdet
    /// 2.x's `data.test.pipeline`.
    static func testPipeline(_ root: PyConfigNode) throws -> [PyConfigNode] {
        for path in [["test_dataloader", "dataset", "pipeline"], ["test_pipeline"], ["data", "test", "pipeline"]] {
            var r: PyConfigNode? = root
            for key in path { r = r?.optional(key) }
            if let r, r.value?.array != nil { return try r.list("") }
        }
        throw root.error("test_pipeline", "the config has no test pipeline (test_dataloader.dataset.pipeline or test_pipeline)")
    }
}

/// The readers of `DetectorConfig`: `PyConfigNode`'s typed accessors by key, and errors that
/// name the key path in the package's error type.
extension PyConfigNode {
    func error(_ key: String, _ why: String) -> DetectionError {
        let full = [path, key].filter { !$0.isEmpty }.joined(separator: ".")
        return DetectionError("\(file): \(full.isEmpty ? "" : full + ": ")\(why)")
    }
    /// The child at `key` (self for ""), nil when it is missing.
    func optional(_ key: String) -> PyConfigNode? {
        let node = key.isEmpty ? self : self[key]
        return node.exists ? node : nil
    }
    func dict(_ key: String) throws -> PyConfigNode {
        let node = self[key]
        _ = try node.dict()
        return node
    }
    func list(_ key: String) throws -> [PyConfigNode] { try (key.isEmpty ? self : self[key]).array() }
    func string(_ key: String) throws -> String { try self[key].string() }
    func int(_ key: String) throws -> Int { try self[key].int() }
    func double(_ key: String) throws -> Double {
        let d = try self[key].double()
        guard d.isFinite else { throw error(key, "must be finite") }
        return d
    }
    func ints(_ key: String) throws -> [Int] { try self[key].ints() }
    func doubles(_ key: String) throws -> [Double] {
        let d = try self[key].doubles()
        guard d.allSatisfy(\.isFinite) else { throw error(key, "must be finite") }
        return d
    }
    func optionalInt(_ key: String) throws -> Int? { optional(key) == nil ? nil : try int(key) }
    func optionalDouble(_ key: String) throws -> Double? { optional(key) == nil ? nil : try double(key) }
    func optionalInts(_ key: String) throws -> [Int]? { optional(key) == nil ? nil : try ints(key) }
    func optionalDoubles(_ key: String) throws -> [Double]? { optional(key) == nil ? nil : try doubles(key) }
}
