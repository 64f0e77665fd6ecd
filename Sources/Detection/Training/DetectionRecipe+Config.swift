import Foundation

/// Where an mmdet config's training and validation data live (`train_dataloader`,
/// `val_dataloader`), relative to `dataRoot` unless absolute.
public struct DetectionDataLayout: Sendable {
    public var dataRoot: String?
    public var trainAnnotations: String?
    public var trainImages: String?
    public var valAnnotations: String?
    public var valImages: String?

    /// `path` under `root` (given) or the config's data root, unless absolute.
    public func resolve(_ path: String?, root: URL?) -> URL? {
        guard let path else { return nil }
        if path.hasPrefix("/") { return URL(fileURLWithPath: path) }
        let base = root ?? dataRoot.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? URL(fileURLWithPath: ".", isDirectory: true)
        return base.appendingPathComponent(path)
    }
}

extension DetectionRecipe {
    /// The training recipe of an mmdetection 3.x config (its `_base_` chain resolved):
    /// `optim_wrapper` (SGD lr, momentum, weight decay, `paramwise_cfg` bias multipliers,
    /// `clip_grad`), `param_scheduler` (ConstantLR or LinearLR warm-up by iteration, MultiStepLR
    /// by epoch), `train_cfg.max_epochs`, `train_dataloader` (batch size, data, `Resize` or
    /// `RandomChoiceResize` scales, `RandomFlip` probability), the backbone's `norm_eval` and the
    /// FCOS head's target and loss settings. What this package cannot train is refused by name.
    public static func load(_ url: URL) throws -> (recipe: DetectionRecipe, scales: [(width: Int, height: Int)], flip: Double,
                                                   data: DetectionDataLayout) {
        let root = PyConfigNode(file: url.lastPathComponent, value: try PythonConfig.load(contentsOf: url).value)
        var r = DetectionRecipe()
        let optimizer = root["optim_wrapper"]["optimizer"]
        let type = try optimizer["type"].string(default: "SGD")
        guard type == "SGD" else { throw optimizer["type"].failure("'\(type)' is not supported (SGD)") }
        r.learningRate = Float(try optimizer["lr"].double())
        r.momentum = Float(try optimizer["momentum"].double(default: 0.9))
        r.weightDecay = Float(try optimizer["weight_decay"].double(default: 1e-4))
        let paramwise = root["optim_wrapper"]["paramwise_cfg"]
        r.biasRateMultiplier = Float(try paramwise["bias_lr_mult"].double(default: 1))
        r.biasDecayMultiplier = Float(try paramwise["bias_decay_mult"].double(default: 1))
        let clip = root["optim_wrapper"]["clip_grad"]
        r.clipNorm = clip.isAbsent ? nil : Float(try clip["max_norm"].double())
        r.warmupIterations = 0
        if !root["param_scheduler"].isAbsent {
            for s in try root["param_scheduler"].array() {
                switch try s["type"].string() {
                case "ConstantLR":
                    (r.warmup, r.warmupStartFactor) = (.constant, Float(try s["factor"].double(default: 1.0 / 3)))
                    r.warmupIterations = try s["end"].int(default: 5)
                case "LinearLR":
                    (r.warmup, r.warmupStartFactor) = (.linear, Float(try s["start_factor"].double(default: 1.0 / 3)))
                    r.warmupIterations = try s["end"].int(default: 5)
                case "MultiStepLR":
                    r.milestones = try s["milestones"].ints()
                    r.gamma = Float(try s["gamma"].double(default: 0.1))
                case let other:
                    throw s["type"].failure("'\(other)' is not supported (ConstantLR or LinearLR warm-up, MultiStepLR)")
                }
            }
        }
        r.epochs = try root["train_cfg"]["max_epochs"].int(default: 12)
        let loader = root["train_dataloader"]
        r.batchSize = try loader["batch_size"].int(default: 2)
        r.frozenBatchNorm = try root["model"]["backbone"]["norm_eval"].bool(default: true)
        let head = root["model"]["bbox_head"]
        r.targets.centerSampling = try head["center_sampling"].bool(default: false)
        r.targets.centerSampleRadius = Float(try head["center_sample_radius"].double(default: 1.5))
        r.targets.normOnBox = try head["norm_on_bbox"].bool(default: false)
        if !head["regress_ranges"].isAbsent {
            r.targets.regressRanges = try head["regress_ranges"].array().map { let v = try $0.doubles(); return (Float(v[0]), Float(v[1])) }
        }
        let cls = head["loss_cls"], box = head["loss_bbox"], ctr = head["loss_centerness"]
        if !cls.isAbsent {
            guard try cls["type"].string() == "FocalLoss" else { throw cls["type"].failure("only FocalLoss (sigmoid) is supported") }
            r.loss.focalGamma = try cls["gamma"].double(default: 2)
            r.loss.focalAlpha = try cls["alpha"].double(default: 0.25)
            r.loss.classificationWeight = try cls["loss_weight"].double(default: 1)
        }
        if !box.isAbsent {
            switch try box["type"].string() {
            case "IoULoss":
                r.loss.boxLoss = .iou
                guard try box["mode"].string(default: "log") == "log", try !box["linear"].bool(default: false) else {
                    throw box["mode"].failure("only IoULoss's 'log' mode (-log IoU) is supported")
                }
            case "GIoULoss": r.loss.boxLoss = .giou
            case let other: throw box["type"].failure("'\(other)' is not supported (IoULoss, GIoULoss)")
            }
            r.loss.boxWeight = try box["loss_weight"].double(default: 1)
            r.loss.eps = try box["eps"].double(default: 1e-6)
        }
        if !ctr.isAbsent { r.loss.centernessWeight = try ctr["loss_weight"].double(default: 1) }

        // The train pipeline's resize and flip.
        var scales: [(width: Int, height: Int)] = [], flip = 0.0
        let dataset = loader["dataset"]
        for step in try dataset["pipeline"].isAbsent ? [] : dataset["pipeline"].array() {
            switch try step["type"].string(default: "") {
            case "Resize":
                let s = try step["scale"].ints()
                guard s.count == 2 else { throw step["scale"].failure("must be (width, height)") }
                scales = [(s[0], s[1])]
                if try !step["keep_ratio"].bool(default: false) { throw step["keep_ratio"].failure("only keep_ratio=True is supported") }
            case "RandomChoiceResize":
                scales = try step["scales"].array().map { let s = try $0.ints(); return (s[0], s[1]) }
            case "RandomFlip":
                flip = try step["prob"].double(default: 0.5)
            case "LoadImageFromFile", "LoadAnnotations", "PackDetInputs": break
            case let other:
                throw step["type"].failure("the train pipeline step '\(other)' is not supported (Resize, RandomChoiceResize, RandomFlip)")
            }
        }
        guard !scales.isEmpty, scales.allSatisfy({ (1...16384).contains($0.width) && (1...16384).contains($0.height) }) else {
            throw dataset["pipeline"].failure("needs a Resize scale (width, height) within 1...16384")
        }
        var data = DetectionDataLayout()
        data.dataRoot = try dataset["data_root"].string(default: "") .nonEmpty
        data.trainAnnotations = try dataset["ann_file"].string(default: "").nonEmpty
        data.trainImages = try dataset["data_prefix"]["img"].string(default: "").nonEmpty
        let val = root["val_dataloader"]["dataset"]
        data.valAnnotations = try val["ann_file"].string(default: "").nonEmpty
        data.valImages = try val["data_prefix"]["img"].string(default: "").nonEmpty
        return (r, scales, flip, data)
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}

extension PyConfigNode {
    /// An error naming this key.
    func failure(_ message: String) -> PythonConfigError {
        PythonConfigError(.access, file: file, keyPath: path.isEmpty ? "(top level)" : path, message)
    }
}
