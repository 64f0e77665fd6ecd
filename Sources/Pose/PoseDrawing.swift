import Foundation
import Imaging

/// Pictures of pose results: each person's box and score, limbs coloured per limb, joints.
public enum PoseDrawing {
    /// Draws `people` on `image`: joints scoring below `threshold` and the limbs touching them
    /// are left out (scores are heatmap maxima: about 1 at a confident joint).
    public static func draw(_ people: [Person], on image: inout Image, keypoints: KeypointSet, threshold: Double = 0.3) {
        // Lines scale with the picture so they stay visible on large photos.
        let thickness = max(2, Double(min(image.width, image.height)) / 160)
        let skeleton = keypoints.skeleton.map { ($0[0], $0[1]) }
        for person in people {
            if let b = person.box {
                image.drawRectangle(x: Int(b.x.rounded()), y: Int(b.y.rounded()), width: Int(b.width.rounded()),
                                    height: Int(b.height.rounded()), color: .green, thickness: max(1, Int(thickness / 2)))
                image.drawText(String(format: "%.2f", person.score), x: Int(b.x.rounded()) + 2, y: Int(b.y.rounded()) + 2,
                               color: .white, scale: max(1, Int(thickness / 2)), background: .black)
            }
            image.drawPose(keypoints: person.keypoints.map { ($0.x, $0.y, $0.score) }, skeleton: skeleton, threshold: threshold,
                           thickness: thickness, jointRadius: thickness)
        }
    }
}
