import DNN

/// The shape of an HRNet, as the official configs describe it (MODEL.EXTRA).
public struct Architecture: Sendable, Equatable {
    /// STAGE1 (layer1): one branch of residual blocks; the official pose code fixes it to
    /// 4 Bottlenecks of 64 planes, the segmentation and classification configs give it.
    public var stage1: StageSpec
    /// STAGE2, STAGE3, STAGE4: each adds a branch at half the resolution of the lowest.
    public var stages: [StageSpec]
    public var head: Head
    /// Set for SimpleBaseline (`pose_resnet`): the representation is a ResNet and deconvolution
    /// layers instead of HRNet's stages (then `stage1` and `stages` are unused).
    public var simpleBaseline: SimpleBaselineSpec?
    /// Set for U-Net (`seg_unet`): MMSegmentation's encoder-decoder and FCN heads instead of HRNet.
    public var unet: UNetSpec?
    /// Set for the stacked hourglass (`pose_hourglass`): MMPose's HourglassNet and multi-stage head.
    public var hourglass: HourglassSpec?

    public init(stage1: StageSpec = .officialPoseStage1, stages: [StageSpec], head: Head) {
        self.stage1 = stage1
        self.stages = stages
        self.head = head
    }

    /// U-Net for segmentation into `classes` (bilinear resizes as align_corners False, as MMSegmentation).
    public static func unet(_ spec: UNetSpec, classes: Int) -> Architecture {
        var a = Architecture(stages: [], head: .segmentation(classes: classes, finalKernel: 1, alignCorners: false))
        a.unet = spec
        return a
    }

    /// The stacked hourglass for `joints` heatmaps.
    public static func hourglass(_ spec: HourglassSpec, joints: Int) -> Architecture {
        var a = Architecture(stages: [], head: .pose(joints: joints, finalKernel: 1))
        a.hourglass = spec
        return a
    }

    /// The outputs the network returns: two ([aux, main]) for HRNet-OCR and a U-Net with its
    /// auxiliary head, one per stack for the hourglass, else one.
    public var outputCount: Int {
        if let unet { return unet.auxiliaryHead ? 2 : 1 }
        if let hourglass { return hourglass.stacks }
        if case .segmentation(_, _, _, _?) = head { return 2 }
        return 1
    }

    /// The network's family, for messages: HRNet, SimpleBaseline or U-Net.
    public var family: String {
        simpleBaseline != nil ? "SimpleBaseline" : unet != nil ? "U-Net" : hourglass != nil ? "Hourglass" : "HRNet"
    }

    /// SimpleBaseline's pose network: the ResNet and deconvolution layers of `spec`, then `final_layer`.
    public static func simpleBaseline(_ spec: SimpleBaselineSpec, joints: Int, finalKernel: Int) -> Architecture {
        var a = Architecture(stages: [], head: .pose(joints: joints, finalKernel: finalKernel))
        a.simpleBaseline = spec
        return a
    }
}

public enum BlockKind: String, Sendable, Equatable {
    case basic = "BASIC"
    case bottleneck = "BOTTLENECK"

    /// Output channels per planes (ResNet's expansion).
    public var expansion: Int { self == .basic ? 1 : 4 }
}

/// One stage: `modules` high-resolution modules of `branches` parallel streams.
public struct StageSpec: Sendable, Equatable {
    public var modules: Int
    public var branches: Int
    public var block: BlockKind
    /// Residual blocks per branch.
    public var blocks: [Int]
    /// Planes per branch (output channels are planes x block expansion).
    public var channels: [Int]

    public init(modules: Int, branches: Int, block: BlockKind, blocks: [Int], channels: [Int]) {
        (self.modules, self.branches, self.block, self.blocks, self.channels) = (modules, branches, block, blocks, channels)
    }

    /// layer1 of the official pose_hrnet: 4 Bottlenecks of 64 planes (256 channels out).
    public static let officialPoseStage1 = StageSpec(modules: 1, branches: 1, block: .bottleneck, blocks: [4], channels: [64])

    /// Output channels of each branch.
    public var outputChannels: [Int] { channels.map { $0 * block.expansion } }
}

/// What is built on the high-resolution representation.
public enum Head: Sendable, Equatable {
    /// pose_hrnet: only the highest stream leaves stage 4; `final_layer` maps it to joint heatmaps.
    case pose(joints: Int, finalKernel: Int)
    /// seg_hrnet (HRNetV2): all streams upsampled to the highest, concatenated, `last_layer` to classes.
    /// seg_hrnet_ocr (`ocr` given): the same streams into HRNet-OCR's two heads (`OCRHead`).
    case segmentation(classes: Int, finalKernel: Int, alignCorners: Bool, ocr: OCRSpec? = nil)
    /// cls_hrnet (HRNet-Image-Classification, timm `hrnet_*`): all four streams widened by
    /// `incre_modules`, merged from high to low resolution by `downsamp_modules`, `final_layer`
    /// to 2048 features, global average pool, `classifier` to class logits.
    case classification(ClassifierSpec)
}

/// HRNet-OCR's head sizes (MODEL.OCR in the official HRNet-OCR configs).
public struct OCRSpec: Sendable, Equatable {
    /// MODEL.OCR.MID_CHANNELS: the pixel representation (`conv3x3_ocr`) and the head's width.
    public var midChannels: Int
    /// MODEL.OCR.KEY_CHANNELS: query and key width of the object attention.
    public var keyChannels: Int
    /// MODEL.OCR.DROPOUT: `Dropout2d` after the distribution head in training. The official
    /// model hard-codes 0.05, the config's default; a file that sets another value gets it here.
    public var dropout: Float

    public init(midChannels: Int = 512, keyChannels: Int = 256, dropout: Float = 0.05) {
        (self.midChannels, self.keyChannels, self.dropout) = (midChannels, keyChannels, dropout)
    }
}

/// The classification head's sizes. The official code and timm fix all but the classes; the
/// others are parameters so small test models can be built (the fixed head alone is ~9M weights).
public struct ClassifierSpec: Sendable, Equatable {
    /// Output logits (MODEL.NUM_CLASSES; 1000 for ImageNet).
    public var classes: Int
    /// Bottleneck planes of `incre_modules.i` (each outputs 4x): officially 32, 64, 128, 256,
    /// one per stream, so the streams become 128, 256, 512, 1024 channels.
    public var increPlanes: [Int]
    /// Channels of `final_layer` and of the pooled feature vector (officially 2048).
    public var features: Int
    /// Whether `downsamp_modules.i.0` and `final_layer.0` have a bias: true in the official code
    /// and timm's `hrnet_*`; false in timm's `hrnet_w18_ssld`/`hrnet_w48_ssld` (head_conv_bias).
    public var convBias: Bool

    public init(classes: Int = 1000, increPlanes: [Int] = [32, 64, 128, 256], features: Int = 2048, convBias: Bool = true) {
        (self.classes, self.increPlanes, self.features, self.convBias) = (classes, increPlanes, features, convBias)
    }
}
