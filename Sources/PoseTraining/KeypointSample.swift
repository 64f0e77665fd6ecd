import Foundation
import Pose

/// One person to train on, in the terms of the official `JointsDataset` db record: the image, the
/// crop center and scale (scale in units of 200 pixels, already padded), the joints (`joints_3d`
/// without its zero third column) and their visibility (`joints_3d_vis[:, 0]`: 0 or 1 for COCO,
/// where labels 1 and 2 both become 1).
public struct KeypointSample: Sendable {
    /// The image file.
    public var image: URL
    /// The image's size as the annotations state it (0 when they do not).
    public var imageWidth: Int
    public var imageHeight: Int
    public var center: Point
    /// Width and height / 200 (pixel_std).
    public var scale: (w: Double, h: Double)
    /// Joint positions in image pixels (0-based), one per keypoint.
    public var joints: [Point]
    /// 1 where the joint is labelled (trained on), 0 where not.
    public var visibility: [Double]
    /// The data set's id of the annotation (COCO) or its index in the file (MPII).
    public var annotationID: Int
    /// The image's id (COCO) or index (MPII).
    public var imageID: Int

    public init(image: URL, imageWidth: Int = 0, imageHeight: Int = 0, center: Point,
                scale: (w: Double, h: Double), joints: [Point], visibility: [Double],
                annotationID: Int = 0, imageID: Int = 0) {
        (self.image, self.imageWidth, self.imageHeight) = (image, imageWidth, imageHeight)
        (self.center, self.scale, self.joints, self.visibility) = (center, scale, joints, visibility)
        (self.annotationID, self.imageID) = (annotationID, imageID)
    }

    /// The number of labelled joints (the official `np.sum(joints_vis[:, 0])`).
    public var labelledJoints: Double { visibility.reduce(0, +) }

    /// The crop this sample is seen through without augmentation (validation).
    public var crop: PersonCrop { PersonCrop(center: center, scale: scale) }
}

