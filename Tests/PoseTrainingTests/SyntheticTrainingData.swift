import Foundation
import HRNet
import PoseTraining

/// Writes a small synthetic keypoint set (`hrnet synth`) to `dir` and returns its train split
/// as training data for `config`'s crop and heatmap sizes, with the official augmentation.
func syntheticTrainingData(in dir: URL, images: Int, seed: UInt64, valFraction: Double, config: HRNetConfig) throws -> PoseTrainingData {
    var options = SyntheticKeypointSet.Options(images: images)
    options.seed = seed
    options.valFraction = valFraction
    _ = try SyntheticKeypointSet.write(to: dir, options: options)
    var augmentation = PoseAugmentation(imageSize: config.imageSize, heatmapSize: config.heatmapSize)
    augmentation.sigma = config.sigma
    let dataset = try KeypointDataset.coco(annotations: dir.appendingPathComponent("annotations/person_keypoints_train.json"),
                                           images: dir.appendingPathComponent("images/train"), aspectRatio: augmentation.aspectRatio)
    return try PoseTrainingData(dataset: dataset, augmentation: augmentation, seed: 3)
}
