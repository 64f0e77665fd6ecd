import XCTest
import DNN
import HRNet
import Imaging
import Pose
import PoseTraining
@testable import Detection

/// The embedded person detector's second stage: extreme points in, boxes out, and the embedded
/// refiner pulling boxes that are a few pixels off back onto the people of scenes it never saw.
final class BoxRefinerTests: XCTestCase {
    func embedded() throws -> BoxRefiner { try DefaultDetector.refiner(threads: 2) }

    /// Extreme pixels (on pixel centres) span a box in COCO's convention: the rightmost and
    /// bottom pixels' far edges are one pixel past their centres.
    func testExtremePointsSpanABoxInCOCOsConvention() throws {
        let refiner = try embedded()
        let points = [Keypoint(x: 10, y: 40, score: 0.9), Keypoint(x: 18, y: 20, score: 0.9),
                      Keypoint(x: 30, y: 35, score: 0.9), Keypoint(x: 22, y: 60, score: 0.9)]
        XCTAssertEqual(refiner.box(spannedBy: points, width: 100, height: 100), BoundingBox(x1: 10, y1: 20, x2: 31, y2: 61))
        XCTAssertEqual(refiner.box(spannedBy: points, width: 25, height: 50), BoundingBox(x1: 10, y1: 20, x2: 25, y2: 50), "clipped to the image")
        var faint = points
        faint[2].score = 0.01
        XCTAssertNil(refiner.box(spannedBy: faint, width: 100, height: 100), "a point not found leaves the detection as it was")
        var crossed = points
        crossed[2].x = 5
        XCTAssertNil(refiner.box(spannedBy: crossed, width: 100, height: 100), "right of left is no box")
    }

    /// Boxes of held-out scenes (seed 31, never trained on) moved 4-6 pixels per edge come back
    /// to within about a pixel: mean IoU with the true box from about 0.83 to 0.95. Another
    /// class, and a score under the refiner's minimum, are left alone.
    func testRefinesShiftedBoxesOfUnseenScenes() throws {
        let refiner = try embedded()
        var variety = SyntheticScene.Variety()
        (variety.extraPeople, variety.smallestHeight, variety.visibleBoxes) = (3, 0.1, true)
        var images: [Image] = [], truth: [[BoundingBox]] = [], shifted: [[Detection]] = []
        var k = 0
        for index in 0..<4 {
            let scene = SyntheticScene.make(seed: 31, index: index, width: 320, height: 240, variety: variety)
            let boxes = scene.people.map { BoundingBox(x1: Float($0.bbox[0]), y1: Float($0.bbox[1]),
                                                       x2: Float($0.bbox[0] + $0.bbox[2]), y2: Float($0.bbox[1] + $0.bbox[3])) }
                .filter { $0.height >= 24 }
            images.append(scene.image)
            truth.append(boxes)
            shifted.append(boxes.map { b in
                k += 1
                let d: [Float] = [4, -6, 6, -4, 5].map { $0 * (k % 2 == 0 ? 1 : -1) }
                return Detection(box: BoundingBox(x1: b.x1 + d[k % 5], y1: b.y1 + d[(k + 1) % 5], x2: b.x2 + d[(k + 2) % 5], y2: b.y2 + d[(k + 3) % 5]),
                                 score: 0.9, label: 0)
            })
        }
        let people = truth.map(\.count).reduce(0, +)
        XCTAssertGreaterThanOrEqual(people, 6)
        let refined = try refiner.refine(shifted, in: images, label: 0)
        func meanIoU(_ found: [[Detection]]) -> Float {
            zip(found, truth).flatMap { zip($0.0, $0.1).map { $0.0.box.iou($0.1) } }.reduce(0, +) / Float(people)
        }
        let before = meanIoU(shifted), after = meanIoU(refined)
        print("mean IoU with the true boxes: shifted \(before), refined \(after) (\(people) people)")
        XCTAssertLessThan(before, 0.85)
        XCTAssertGreaterThan(after, 0.93)
        XCTAssertEqual(zip(refined, shifted).flatMap { zip($0.0, $0.1).map { $0.0.score == $0.1.score } }, Array(repeating: true, count: people))

        var others = shifted
        others[0] = others[0].map { Detection(box: $0.box, score: $0.score, label: 1) }
        others[1] = others[1].map { Detection(box: $0.box, score: 0.01, label: 0) }
        let untouched = try refiner.refine(others, in: images, label: 0)
        XCTAssertEqual(untouched[0], others[0])
        XCTAssertEqual(untouched[1], others[1])
        XCTAssertEqual(try refiner.refine([[]], in: [images[0]], label: 0), [[]])
        // Boxes no crop can be made of (not finite, outside the image) are left as they are, and
        // no crop of them is run.
        var cropped = 0
        refiner.estimator.cropsDone = { done, _ in cropped = done }
        let odd = [Detection(box: BoundingBox(x1: -.infinity, y1: 10, x2: 50, y2: 90), score: 0.9, label: 0),
                   Detection(box: BoundingBox(x1: 10, y1: .nan, x2: 50, y2: 90), score: 0.9, label: 0),
                   Detection(box: BoundingBox(x1: 400, y1: 10, x2: 450, y2: 90), score: 0.9, label: 0)]
        let kept = try refiner.refine([odd], in: [images[0]], label: 0)
        XCTAssertEqual(kept[0].count, 3)
        XCTAssertEqual(kept[0][2], odd[2])
        XCTAssertEqual(kept[0][0].box.x1, -.infinity)
        XCTAssertTrue(kept[0][1].box.y1.isNaN)
        XCTAssertEqual(cropped, 0, "crops run for boxes that cannot be cropped")
        XCTAssertThrowsError(try refiner.refine([[], []], in: [images[0]], label: 0)) { error in
            XCTAssertTrue("\(error)".contains("one detection list per image (2 lists, 1 images)"), "\(error)")
        }
    }

    /// A pose model that does not predict four points is no refiner.
    func testRefusesAModelOfAnotherKeypointCount() throws {
        let config = try DefaultModel.config()
        XCTAssertThrowsError(try BoxRefiner(config: config, parameters: try DefaultModel.load().parameters)) { error in
            XCTAssertTrue("\(error)".contains("predicts 4 extreme points, the model 17 keypoints"), "\(error)")
        }
    }
}
