import Foundation
import HRNet
import Pose

/// The official training augmentation and target settings (`DATASET.*` and `MODEL.*` of the
/// experiment YAML; defaults are the COCO HRNet experiments': w32_256x192_adam_lr1e-3.yaml).
public struct PoseAugmentation: Sendable {
    /// Network input, width x height (MODEL.IMAGE_SIZE).
    public var imageSize: (width: Int, height: Int)
    /// Heatmaps, width x height (MODEL.HEATMAP_SIZE).
    public var heatmapSize: (width: Int, height: Int)
    /// Gaussian target sigma in heatmap pixels (MODEL.SIGMA).
    public var sigma: Double = 2
    /// Gaussians centred on the exact joint, not its rounded cell (DATASET.UNBIASED_ENCODING; see
    /// `GaussianTarget.make`).
    public var unbiasedEncoding = false
    /// DATASET.SCALE_FACTOR: scale multiplied by clip(N(0,1) * sf + 1, 1 - sf, 1 + sf).
    public var scaleFactor: Double = 0.35
    /// DATASET.ROT_FACTOR: degrees, clip(N(0,1) * rf, -2 rf, 2 rf).
    public var rotationFactor: Double = 45
    /// How often a rotation is drawn at all (hard-coded 0.6 in JointsDataset.__getitem__).
    public var rotationProbability: Double = 0.6
    /// DATASET.FLIP, with probability 0.5.
    public var flip: Bool = true
    public var flipProbability: Double = 0.5
    /// DATASET.PROB_HALF_BODY (COCO 0.3; MPII -1: never).
    public var halfBodyProbability: Double = 0.3
    /// DATASET.NUM_JOINTS_HALF_BODY: half body only with more labelled joints than this.
    public var halfBodyJoints: Int = 8
    /// Input normalization (ImageNet's, as the official transforms.Normalize).
    public var mean: [Float] = [0.485, 0.456, 0.406]
    public var std: [Float] = [0.229, 0.224, 0.225]
    /// DATASET.COLOR_RGB: the crop's planes R, G, B; false: B, G, R (see `HRNetConfig.colorRGB`).
    public var colorRGB = true

    public init(imageSize: (width: Int, height: Int), heatmapSize: (width: Int, height: Int)) {
        (self.imageSize, self.heatmapSize) = (imageSize, heatmapSize)
    }

    /// The COCO experiments' settings for an input size (heatmaps at 1/4).
    public static func coco(width: Int = 192, height: Int = 256) -> PoseAugmentation {
        PoseAugmentation(imageSize: (width, height), heatmapSize: (width / 4, height / 4))
    }

    /// The MPII experiments' settings (w32_256x256: scale 0.25, rotation 30, no half body).
    public static func mpii(width: Int = 256, height: Int = 256) -> PoseAugmentation {
        var a = PoseAugmentation(imageSize: (width, height), heatmapSize: (width / 4, height / 4))
        (a.scaleFactor, a.rotationFactor, a.halfBodyProbability) = (0.25, 30, -1)
        return a
    }

    /// Input width / height, the aspect ratio boxes are widened to.
    public var aspectRatio: Double { Double(imageSize.width) / Double(imageSize.height) }

    /// Why these settings cannot be used, or nil.
    public var problem: String? {
        if imageSize.width < 1 || imageSize.height < 1 { return "the input size \(imageSize.width)x\(imageSize.height) is empty" }
        if heatmapSize.width < 1 || heatmapSize.height < 1 { return "the heatmap size \(heatmapSize.width)x\(heatmapSize.height) is empty" }
        if !(sigma > 0) || !sigma.isFinite { return "sigma \(sigma) must be a positive number" }
        if !(scaleFactor >= 0 && scaleFactor < 1) { return "the scale factor \(scaleFactor) must be in [0, 1)" }
        if !(rotationFactor >= 0) || !rotationFactor.isFinite { return "the rotation factor \(rotationFactor) must be >= 0" }
        if mean.count != 3 || std.count != 3 || std.contains(where: { !($0 > 0) }) { return "mean and std need 3 entries, std positive" }
        return nil
    }
}

/// The random numbers one training sample consumes, in the order the official
/// `JointsDataset.__getitem__` consumes them. All are drawn for every sample (so a sample's
/// stream is fixed whatever branches are taken); tests set them by hand.
public struct AugmentationDraws: Sendable, Equatable {
    /// `np.random.rand() < prob_half_body`.
    public var halfBodyUniform: Double
    /// `np.random.randn() < 0.5` picks the upper body in `half_body_transform` (a normal draw
    /// against 0.5 in the official code, so the upper body wins about 69% of the time).
    public var halfBodyNormal: Double
    /// `np.random.randn()` of the scale factor.
    public var scaleNormal: Double
    /// `random.random() <= 0.6` decides whether to rotate.
    public var rotationUniform: Double
    /// `np.random.randn()` of the rotation.
    public var rotationNormal: Double
    /// `random.random() <= 0.5` decides the flip.
    public var flipUniform: Double

    public init(halfBodyUniform: Double, halfBodyNormal: Double, scaleNormal: Double, rotationUniform: Double,
                rotationNormal: Double, flipUniform: Double) {
        (self.halfBodyUniform, self.halfBodyNormal, self.scaleNormal) = (halfBodyUniform, halfBodyNormal, scaleNormal)
        (self.rotationUniform, self.rotationNormal, self.flipUniform) = (rotationUniform, rotationNormal, flipUniform)
    }

    /// Draws that change nothing: no half body, scale x1, no rotation, no flip.
    public static let identity = AugmentationDraws(halfBodyUniform: 1, halfBodyNormal: 0, scaleNormal: 0,
                                                   rotationUniform: 1, rotationNormal: 0, flipUniform: 1)

    public init(_ random: inout AugmentationRandom) {
        self.init(halfBodyUniform: random.uniform(), halfBodyNormal: random.normal(), scaleNormal: random.normal(),
                  rotationUniform: random.uniform(), rotationNormal: random.normal(), flipUniform: random.uniform())
    }
}

/// Where one augmented sample is cropped from, and its joints in the (possibly mirrored) image.
public struct TrainingCrop: Sendable {
    /// Center, scale and rotation of the crop in the (mirrored, when `flipped`) image.
    public var crop: PersonCrop
    public var flipped: Bool
    public var halfBody: Bool
    /// Joints in the (mirrored) image; after a flip, unlabelled joints are (0, 0) as the official
    /// `fliplr_joints` leaves them (`joints * joints_vis`).
    public var joints: [Point]
    public var visibility: [Double]
}

extension PoseAugmentation {
    /// The geometric part of the official training transform (JointsDataset.__getitem__):
    /// 1. half body, with probability `halfBodyProbability` when more than `halfBodyJoints`
    ///    joints are labelled: the crop of the upper or lower body (`HalfBody.crop`);
    /// 2. scale times clip(N * sf + 1, 1 - sf, 1 + sf);
    /// 3. rotation clip(N * rf, -2 rf, 2 rf) when the uniform draw is <= `rotationProbability`;
    /// 4. flip when the uniform draw is <= 0.5: joints mirrored (x -> width - 1 - x) with left and
    ///    right swapped, center x mirrored the same way.
    /// - Parameters:
    ///   - imageWidth: the width of the image the sample's coordinates refer to (for the flip).
    ///   - augment: false gives the validation crop (the sample's own center and scale).
    public func trainingCrop(for sample: KeypointSample, imageWidth: Int, flipPairs: [[Int]], upperBody: Set<Int>,
                             draws: AugmentationDraws, augment: Bool = true) -> TrainingCrop {
        var center = sample.center, scale = sample.scale
        var joints = sample.joints, visibility = sample.visibility
        var rotation = 0.0, flipped = false, halfBody = false
        if augment {
            if sample.labelledJoints > Double(halfBodyJoints) && draws.halfBodyUniform < halfBodyProbability,
               let half = HalfBody.crop(joints: joints, visibility: visibility, upperBody: upperBody,
                                        upperNormal: draws.halfBodyNormal, aspectRatio: aspectRatio) {
                (center, scale, halfBody) = (half.center, half.scale, true)
            }
            let sf = scaleFactor, rf = rotationFactor
            let factor = min(max(draws.scaleNormal * sf + 1, 1 - sf), 1 + sf)
            scale = (scale.w * factor, scale.h * factor)
            rotation = draws.rotationUniform <= rotationProbability ? min(max(draws.rotationNormal * rf, -2 * rf), 2 * rf) : 0
            if flip && draws.flipUniform <= flipProbability {
                flipped = true
                (joints, visibility) = KeypointFlip.mirror(joints: joints, visibility: visibility, width: imageWidth, pairs: flipPairs)
                center.x = Double(imageWidth) - center.x - 1
            }
        }
        return TrainingCrop(crop: PersonCrop(center: center, scale: scale, rotation: rotation), flipped: flipped,
                            halfBody: halfBody, joints: joints, visibility: visibility)
    }
}

extension PoseAugmentation {
    /// The augmentation an official experiment file asks for: MODEL.IMAGE_SIZE, HEATMAP_SIZE and
    /// SIGMA, DATASET's scale and rotation factors, flip, half body, and (DarkPose) unbiased
    /// target encoding.
    public init(config: HRNetConfig, training: TrainingConfig) {
        self.init(imageSize: config.imageSize, heatmapSize: config.heatmapSize)
        sigma = config.sigma
        colorRGB = config.colorRGB
        unbiasedEncoding = training.unbiasedEncoding
        scaleFactor = training.scaleFactor
        rotationFactor = training.rotationFactor
        flip = training.flip
        halfBodyProbability = training.halfBodyProbability
        halfBodyJoints = training.halfBodyJoints
    }
}
