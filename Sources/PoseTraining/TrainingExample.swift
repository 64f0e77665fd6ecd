import Foundation
import Imaging
import Pose

/// One network input with its target, what the official `JointsDataset.__getitem__` returns:
/// the normalized crop, the Gaussian heatmaps, the target weights, and the meta data.
public struct TrainingExample: Sendable {
    /// 3 x height x width, RGB normalized by the augmentation's mean and std.
    public var input: [Float]
    /// joints x heatmap height x heatmap width.
    public var target: [Float]
    /// One weight per joint (0 or 1; 0 when unlabelled or its Gaussian misses the heatmap).
    public var targetWeight: [Float]
    /// Joints in input-crop pixels (unlabelled joints keep their image coordinates, as official).
    public var joints: [Point]
    public var visibility: [Double]
    /// The crop (in the mirrored image when `flipped`), half body or not.
    public var crop: TrainingCrop
    /// Image -> input-crop affine (of the mirrored image when flipped).
    public var transform: Pose.AffineTransform
}

extension PoseAugmentation {
    /// The full official transform of one sample: `trainingCrop`, the image mirrored when
    /// flipped, cropped by the crop's affine (`Image.warpAffine`, OpenCV's bilinear with a
    /// black border), labelled joints moved by the same affine, the Gaussian target and weights,
    /// and the crop normalized to CHW floats.
    public func example(_ sample: KeypointSample, image: Image, flipPairs: [[Int]], upperBody: Set<Int>,
                        draws: AugmentationDraws, augment: Bool = true) -> TrainingExample {
        let crop = trainingCrop(for: sample, imageWidth: image.width, flipPairs: flipPairs, upperBody: upperBody,
                                draws: draws, augment: augment)
        let source = crop.flipped ? image.applying(.upMirrored) : image
        let transform = crop.crop.transform(width: imageSize.width, height: imageSize.height)
        let patch = source.warpAffine(transform.m, width: imageSize.width, height: imageSize.height)
        var joints = crop.joints
        for j in joints.indices where j < crop.visibility.count && crop.visibility[j] > 0 {
            joints[j] = transform.apply(joints[j])
        }
        let (target, weight) = GaussianTarget.make(joints: joints, visibility: crop.visibility, imageSize: imageSize,
                                                   heatmapSize: heatmapSize, sigma: sigma, unbiased: unbiasedEncoding)
        return TrainingExample(input: patch.normalizedCHW(mean: mean, std: std, bgr: !colorRGB), target: target, targetWeight: weight,
                               joints: joints, visibility: crop.visibility, crop: crop, transform: transform)
    }
}
