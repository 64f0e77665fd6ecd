import HRNet

/// mmdetection's HRNetV2p model-zoo detectors (configs/hrnet/), so their checkpoints load
/// without a config file. The 1x, 2x and multi-scale-trained (ms-640-800) variants of one
/// width share the architecture and the test pipeline; only training differs.
public enum DetectorPresets {
    /// Preset name, mmdet config it matches, COCO val2017 box AP of its zoo checkpoints.
    public static let catalog: [(name: String, config: String, boxAP: String)] = [
        ("fcos_hrnetv2p_w18", "fcos_hrnetv2p-w18-gn-head_4xb4-{1x,2x}_coco, _ms-640-800-4xb4-2x", "35.3 / 38.2 / 38.3"),
        ("fcos_hrnetv2p_w32", "fcos_hrnetv2p-w32-gn-head_4xb4-{1x,2x}_coco, _ms-640-800-4xb4-2x", "39.5 / 40.8 / 41.9"),
        ("fcos_hrnetv2p_w40", "fcos_hrnetv2p-w40-gn-head_ms-640-800-4xb4-2x_coco", "42.7"),
        ("faster_rcnn_hrnetv2p_w18", "faster-rcnn_hrnetv2p-w18-{1x,2x}_coco", "36.9 / 38.9"),
        ("faster_rcnn_hrnetv2p_w32", "faster-rcnn_hrnetv2p-w32-{1x,2x}_coco", "40.2 / 41.4"),
        ("faster_rcnn_hrnetv2p_w40", "faster-rcnn_hrnetv2p-w40-{1x,2x}_coco", "41.2 / 42.1"),
    ]

    public static var names: [String] { catalog.map(\.name) }

    /// The spec of a preset (names are case-insensitive; `-` and `_` are the same).
    public static func spec(named name: String) throws -> DetectorSpec {
        let key = name.lowercased().replacingOccurrences(of: "-", with: "_")
        for (prefix, make) in [("fcos_hrnetv2p_w", fcos), ("faster_rcnn_hrnetv2p_w", fasterRCNN)] as [(String, (Int) -> DetectorSpec)] {
            if key.hasPrefix(prefix), let width = Int(key.dropFirst(prefix.count)), [18, 32, 40].contains(width) { return make(width) }
        }
        throw DetectionError("unknown detector preset '\(name)'; known: \(names.joined(separator: ", "))")
    }

    /// mmdet's HRNetV2p backbone of width `w`: stage 1 of 4 Bottlenecks (64 planes), then 1, 4
    /// and 3 modules of 4 BasicBlocks per branch, widths w, 2w, 4w, 8w.
    public static func backbone(width w: Int) -> (stage1: StageSpec, stages: [StageSpec]) {
        let widths = [w, 2 * w, 4 * w, 8 * w]
        let stages = [(1, 2), (4, 3), (3, 4)].map { modules, branches in
            StageSpec(modules: modules, branches: branches, block: .basic, blocks: Array(repeating: 4, count: branches),
                      channels: Array(widths.prefix(branches)))
        }
        return (StageSpec(modules: 1, branches: 1, block: .bottleneck, blocks: [4], channels: [64]), stages)
    }

    /// FCOS-HRNetV2p: HRFPN to 256 channels with stride-2 convs (levels at strides 8..128),
    /// GN towers of 4 convs, caffe-style BGR input normalization, test at 1333x800.
    static func fcos(width w: Int) -> DetectorSpec {
        let (stage1, stages) = backbone(width: w)
        return DetectorSpec(stage1: stage1, stages: stages,
                            neck: HRFPNSpec(inChannels: [w, 2 * w, 4 * w, 8 * w], outChannels: 256, levels: 5, stride: 2),
                            head: .fcos(FCOSHeadSpec()),
                            preprocessing: DetectionPreprocessing(mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395], rgb: false))
    }
}

extension DetectorPresets {
    /// Faster R-CNN-HRNetV2p: HRFPN to 256 channels with stride-1 convs (levels at strides 4..64),
    /// RPN with 3 anchors per cell, RoIAlign 7x7 from the first four levels, two FCs of 1024,
    /// RGB input normalization, test at 1333x800.
    static func fasterRCNN(width w: Int) -> DetectorSpec {
        let (stage1, stages) = backbone(width: w)
        return DetectorSpec(stage1: stage1, stages: stages,
                            neck: HRFPNSpec(inChannels: [w, 2 * w, 4 * w, 8 * w], outChannels: 256, levels: 5, stride: 1),
                            head: .fasterRCNN(FasterRCNNSpec()),
                            preprocessing: DetectionPreprocessing(mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], rgb: true))
    }
}

