import XCTest
import Imaging
import TestSupport
import Detection

/// README.md's detection example on the tiny fixture detector, so the README cannot rot.
final class DetectionReadmeExampleTests: XCTestCase {
    func testReadmeExample() throws {
        let detector = try Detector.load(weights: Fixtures.url("detection/tiny_fcos.pth"))
        let image = try Image.load(Fixtures.url("imaging/person.jpg"))
        var printed = 0
        for d in try detector.detect(image) where d.score > 0.3 {   // boxes in image pixels, best first
            print(detector.spec.classes[d.label], d.score, d.box.x1, d.box.y1, d.box.x2, d.box.y2)
            printed += 1
        }
        XCTAssertGreaterThan(printed, 0, "the fixture detector scores some boxes above 0.3 (max 0.403)")
        let people = try detector.people(in: image)                 // persons > 0.3, NMS 0.3: boxes for PoseEstimator
        XCTAssertEqual(people.count, 0, "the random fixture detector finds no person")
    }

    /// The example's embedded person detector, on a synthetic photo of the kind it knows: the
    /// refiner moves its boxes.
    func testReadmeExampleOfTheEmbeddedDetector() throws {
        let image = try Image.load(Fixtures.url("detection/person_scene.jpg"))
        let builtIn = try Detector.load(weights: nil)               // no file: the embedded person detector (synthetic figures)
        let refined = try builtIn.people(in: image)                 // boxes through its BoxRefiner (builtIn.refiner = nil: without)
        XCTAssertNotNil(builtIn.refiner)
        builtIn.refiner = nil
        let unrefined = try builtIn.people(in: image)
        XCTAssertGreaterThanOrEqual(refined.count, 2)
        XCTAssertEqual(refined.count, unrefined.count)
        XCTAssertNotEqual(refined.map(\.box), unrefined.map(\.box))
        XCTAssertEqual(refined.map(\.score), unrefined.map(\.score))
    }
}
