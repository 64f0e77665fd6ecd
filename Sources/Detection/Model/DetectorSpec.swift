import HRNet

/// A detector as an mmdetection config describes it: HRNet backbone, HRFPN neck, one head,
/// the test pipeline's pre-processing and the class names.
public struct DetectorSpec: Sendable, Equatable {
    /// mmdet's `HRNet` (`extra.stage1..4`): all four streams leave stage 4
    /// (`multiscale_output`), and fusion upsamples with nearest neighbour.
    public var stage1: StageSpec
    public var stages: [StageSpec]
    public var neck: HRFPNSpec
    public var head: DetectionHead
    public var preprocessing: DetectionPreprocessing
    /// Class names, index = label (COCO's 80 by default).
    public var classes: [String]

    public init(stage1: StageSpec, stages: [StageSpec], neck: HRFPNSpec, head: DetectionHead,
                preprocessing: DetectionPreprocessing, classes: [String] = COCOClasses.names) {
        (self.stage1, self.stages, self.neck, self.head, self.preprocessing, self.classes) =
            (stage1, stages, neck, head, preprocessing, classes)
    }

    /// Channels of the backbone's four output streams.
    public var backboneChannels: [Int] { stages.last?.outputChannels ?? [] }
}

/// mmdet's `HRFPN` (necks/hrfpn.py): streams upsampled (bilinear, x2^i) to the highest,
/// concatenated, `reduction_conv` 1x1 (bias), pooled to `levels` sizes (x1/2^i), and
/// `fpn_convs.i` 3x3 (bias) with `stride` (1 for the R-CNN family, 2 for FCOS).
public struct HRFPNSpec: Sendable, Equatable {
    public enum Pooling: String, Sendable { case average = "AVG", max = "MAX" }
    public var inChannels: [Int]
    public var outChannels: Int
    /// num_outs.
    public var levels: Int
    public var stride: Int
    public var pooling: Pooling

    public init(inChannels: [Int], outChannels: Int = 256, levels: Int = 5, stride: Int = 1, pooling: Pooling = .average) {
        (self.inChannels, self.outChannels, self.levels, self.stride, self.pooling) = (inChannels, outChannels, levels, stride, pooling)
    }
}

public enum DetectionHead: Sendable, Equatable {
    case fcos(FCOSHeadSpec)
    case fasterRCNN(FasterRCNNSpec)
}

/// mmdet's two-stage `FasterRCNN`: an `RPNHead` proposes boxes from anchors on every level,
/// a `StandardRoIHead` pools each proposal (`SingleRoIExtractor`, RoIAlign) and classifies and
/// refines it (`Shared2FCBBoxHead`).
public struct FasterRCNNSpec: Sendable, Equatable {
    /// RPNHead: `rpn_conv` 3x3 + ReLU, `rpn_cls` (one sigmoid logit per anchor), `rpn_reg`.
    public var rpnInChannels: Int
    public var rpnFeatureChannels: Int
    /// AnchorGenerator: one anchor per ratio and scale per cell, base size = stride, centre offset 0.
    public var anchorStrides: [Int]
    public var anchorRatios: [Float]
    public var anchorScales: [Float]
    /// RPN's DeltaXYWHBBoxCoder.
    public var rpnMeans: [Float]
    public var rpnStds: [Float]
    public var rpnTest: DenseTestConfig
    /// SingleRoIExtractor: RoIAlign output size, sampling ratio (0: adaptive), the levels' strides
    /// (the first `featureStrides.count` neck levels), `finest_scale`.
    public var roiOutputSize: Int
    public var roiSamplingRatio: Int
    public var roiStrides: [Int]
    public var finestScale: Float
    /// Shared2FCBBoxHead: two FCs of `fcChannels` over the flattened RoI features, then `fc_cls`
    /// (classes + 1, background last, softmax) and `fc_reg` (4 per class, stds below).
    public var roiInChannels: Int
    public var fcChannels: Int
    public var sharedFCs: Int
    public var classes: Int
    public var boxMeans: [Float]
    public var boxStds: [Float]
    public var classAgnosticBoxes: Bool
    /// `test_cfg.rcnn`: score_thr, nms, max_per_img (nms_pre unused).
    public var rcnnTest: DenseTestConfig

    public init(rpnInChannels: Int = 256, rpnFeatureChannels: Int = 256, anchorStrides: [Int] = [4, 8, 16, 32, 64],
                anchorRatios: [Float] = [0.5, 1, 2], anchorScales: [Float] = [8], rpnMeans: [Float] = [0, 0, 0, 0], rpnStds: [Float] = [1, 1, 1, 1],
                rpnTest: DenseTestConfig = DenseTestConfig(nmsPre: 1000, scoreThreshold: 0, minBoxSize: 0, nms: NMSConfig(iouThreshold: 0.7),
                                                           maxPerImage: 1000),
                roiOutputSize: Int = 7, roiSamplingRatio: Int = 0, roiStrides: [Int] = [4, 8, 16, 32], finestScale: Float = 56,
                roiInChannels: Int = 256, fcChannels: Int = 1024, sharedFCs: Int = 2, classes: Int = 80,
                boxMeans: [Float] = [0, 0, 0, 0], boxStds: [Float] = [0.1, 0.1, 0.2, 0.2], classAgnosticBoxes: Bool = false,
                rcnnTest: DenseTestConfig = DenseTestConfig(scoreThreshold: 0.05, minBoxSize: -1, nms: NMSConfig(iouThreshold: 0.5), maxPerImage: 100)) {
        (self.rpnInChannels, self.rpnFeatureChannels, self.anchorStrides, self.anchorRatios, self.anchorScales) =
            (rpnInChannels, rpnFeatureChannels, anchorStrides, anchorRatios, anchorScales)
        (self.rpnMeans, self.rpnStds, self.rpnTest) = (rpnMeans, rpnStds, rpnTest)
        (self.roiOutputSize, self.roiSamplingRatio, self.roiStrides, self.finestScale) = (roiOutputSize, roiSamplingRatio, roiStrides, finestScale)
        (self.roiInChannels, self.fcChannels, self.sharedFCs, self.classes) = (roiInChannels, fcChannels, sharedFCs, classes)
        (self.boxMeans, self.boxStds, self.classAgnosticBoxes, self.rcnnTest) = (boxMeans, boxStds, classAgnosticBoxes, rcnnTest)
    }

    /// Anchors per feature-map cell.
    public var anchorsPerCell: Int { anchorRatios.count * anchorScales.count }
}

/// mmdet's `FCOSHead` (dense_heads/fcos_head.py over anchor_free_head.py).
public struct FCOSHeadSpec: Sendable, Equatable {
    public var classes: Int
    public var inChannels: Int
    public var featureChannels: Int
    /// Conv + norm + ReLU layers in each of the classification and regression towers.
    public var stackedConvs: Int
    /// GroupNorm's groups in the towers (mmdet's `norm_cfg=dict(type='GN', num_groups=32)`); nil: no norm.
    public var normGroups: Int?
    /// Tower convolutions have a bias (`conv_bias='auto'`: only without a norm).
    public var towerBias: Bool
    /// The pyramid levels' strides (points at (x + 0.5) * stride).
    public var strides: [Int]
    /// Centerness from the regression tower instead of the classification tower.
    public var centernessOnRegression: Bool
    /// Distances as ReLU(scale * x) * stride instead of exp(scale * x) (FCOS's "norm_on_bbox" trick).
    public var normOnBox: Bool
    public var test: DenseTestConfig

    public init(classes: Int = 80, inChannels: Int = 256, featureChannels: Int = 256, stackedConvs: Int = 4, normGroups: Int? = 32,
                towerBias: Bool? = nil, strides: [Int] = [8, 16, 32, 64, 128], centernessOnRegression: Bool = false,
                normOnBox: Bool = false, test: DenseTestConfig = .init()) {
        (self.classes, self.inChannels, self.featureChannels, self.stackedConvs, self.normGroups) =
            (classes, inChannels, featureChannels, stackedConvs, normGroups)
        self.towerBias = towerBias ?? (normGroups == nil)
        (self.strides, self.centernessOnRegression, self.normOnBox, self.test) = (strides, centernessOnRegression, normOnBox, test)
    }
}

/// A one-stage head's `test_cfg`.
public struct DenseTestConfig: Sendable, Equatable {
    /// Candidates kept per level before NMS, best first.
    public var nmsPre = 1000
    /// (point, class) pairs whose class probability is not above this are dropped.
    public var scoreThreshold: Float = 0.05
    /// Boxes whose width or height is not above this are dropped (after rescaling).
    public var minBoxSize: Float = 0
    public var nms = NMSConfig()
    public var maxPerImage = 100
    public init(nmsPre: Int = 1000, scoreThreshold: Float = 0.05, minBoxSize: Float = 0, nms: NMSConfig = .init(), maxPerImage: Int = 100) {
        (self.nmsPre, self.scoreThreshold, self.minBoxSize, self.nms, self.maxPerImage) = (nmsPre, scoreThreshold, minBoxSize, nms, maxPerImage)
    }
}

/// `nms=dict(type='nms', iou_threshold=...)`.
public struct NMSConfig: Sendable, Equatable {
    public var iouThreshold: Float = 0.5
    /// One NMS over all classes instead of one per class.
    public var classAgnostic = false
    public init(iouThreshold: Float = 0.5, classAgnostic: Bool = false) {
        (self.iouThreshold, self.classAgnostic) = (iouThreshold, classAgnostic)
    }
}

/// mmdet's test pipeline up to the network: `Resize(scale, keep_ratio)` with mmcv's rounding and
/// OpenCV's bilinear resize, then the `DetDataPreprocessor`: channel order, (x - mean) / std,
/// zero padding (after normalization) to a multiple of `padDivisor`.
public struct DetectionPreprocessing: Sendable, Equatable {
    /// Per network input channel, in the order the network reads them.
    public var mean: [Float]
    public var std: [Float]
    /// The network reads R, G, B (`bgr_to_rgb=True`); otherwise B, G, R as OpenCV decodes.
    public var rgb: Bool
    /// `Resize(scale=(w, h))`: with `keepRatio` the image is scaled to fit within
    /// max(w, h) x min(w, h) whatever its orientation; without, stretched to w x h.
    public var scale: (width: Int, height: Int)
    /// Keep the aspect ratio (`keep_ratio=True`); otherwise stretch to long x short (w x h).
    public var keepRatio: Bool
    public var padDivisor: Int

    public init(mean: [Float], std: [Float], rgb: Bool, scale: (width: Int, height: Int) = (1333, 800), keepRatio: Bool = true,
                padDivisor: Int = 32) {
        (self.mean, self.std, self.rgb, self.scale, self.keepRatio, self.padDivisor) = (mean, std, rgb, scale, keepRatio, padDivisor)
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.mean == b.mean && a.std == b.std && a.rgb == b.rgb && a.scale == b.scale && a.keepRatio == b.keepRatio
            && a.padDivisor == b.padDivisor
    }
}
