import XCTest
import Datasets
import Imaging
import Pose
@testable import PoseTraining
import TestSupport

/// COCO and MPII training dbs against the official loaders (fixture script), PCKh against the
/// official evaluate, and the bad inputs the issue lists.
final class DatasetTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("posedata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    struct Record: Decodable {
        let center: [Double], scale: [Double], joints: [[Double]], visibility: [Double]
        let annotation_id: Int?, image_id: Int?, file_name: String?
    }
    struct COCOExpected: Decodable { let aspect_ratio: Double; let db: [Record] }

    let cocoFile = Fixtures.url("posedata/coco/person_keypoints_mini.json")
    let cocoImages = Fixtures.url("posedata/coco/images")

    func testCOCODbMatchesOfficial() throws {
        let expected = try JSONDecoder().decode(COCOExpected.self, from: Data(contentsOf: Fixtures.url("posedata/coco/expected_db.json")))
        let set = try KeypointDataset.coco(annotations: cocoFile, images: cocoImages, aspectRatio: expected.aspect_ratio)
        XCTAssertEqual(set.keypoints, KeypointSet.coco)
        XCTAssertEqual(set.upperBody, Set(0...10))
        XCTAssertEqual(set.samples.map(\.annotationID), expected.db.map { $0.annotation_id! })
        for (s, r) in zip(set.samples, expected.db) {
            XCTAssertEqual(s.imageID, r.image_id)
            XCTAssertEqual(s.image.lastPathComponent, r.file_name)
            // The official center and scale are float32.
            XCTAssertEqual(s.center.x, r.center[0], accuracy: 1e-5); XCTAssertEqual(s.center.y, r.center[1], accuracy: 1e-5)
            XCTAssertEqual(s.scale.w, r.scale[0], accuracy: 1e-6); XCTAssertEqual(s.scale.h, r.scale[1], accuracy: 1e-6)
            XCTAssertEqual(s.visibility, r.visibility)
            for j in 0..<17 { XCTAssertEqual(s.joints[j].x, r.joints[j][0]); XCTAssertEqual(s.joints[j].y, r.joints[j][1]) }
        }
    }

    func testMPIIDbMatchesOfficial() throws {
        let expected = try JSONDecoder().decode([Record].self, from: Data(contentsOf: Fixtures.url("posedata/mpii/expected_db.json")))
        let set = try KeypointDataset.mpii(annotations: Fixtures.url("posedata/mpii/train.json"), images: Fixtures.url("posedata/mpii/images"))
        XCTAssertEqual(set.count, expected.count)
        XCTAssertEqual(set.keypoints.count, 16)
        XCTAssertEqual(set.upperBody, Set(7...15))
        for (s, r) in zip(set.samples, expected) {
            // Plain double arithmetic on both sides (c + 15 s, x 1.25, - 1).
            XCTAssertEqual(s.center.x, r.center[0], accuracy: 1e-12); XCTAssertEqual(s.center.y, r.center[1], accuracy: 1e-12)
            XCTAssertEqual(s.scale.w, r.scale[0], accuracy: 1e-12); XCTAssertEqual(s.scale.h, r.scale[1], accuracy: 1e-12)
            XCTAssertEqual(s.visibility, r.visibility)
            for j in 0..<16 { XCTAssertEqual(s.joints[j].x, r.joints[j][0], accuracy: 1e-12); XCTAssertEqual(s.joints[j].y, r.joints[j][1], accuracy: 1e-12) }
        }
        // An MPII sample goes through the training transform with MPII's flip pairs.
        let data = try PoseTrainingData(dataset: set, augmentation: .mpii(width: 64, height: 64), seed: 2)
        let batch = try data.batch([0, 1, 2], epoch: 0)
        XCTAssertEqual(batch.input.shape, [3, 3, 64, 64])
        XCTAssertEqual(batch.target.shape, [3, 16, 16, 16])
    }

    func testPCKhMatchesOfficial() throws {
        struct Case: Decodable {
            let predictions: [[[Double]]], ground_truth: [[[Double]]], visible: [[Int]], head_boxes: [[Double]]
            let per_joint: [Double], joint_count: [Int], groups: [[JSONNumberOrString]]
        }
        let c = try JSONDecoder().decode(Case.self, from: Data(contentsOf: Fixtures.url("posedata/pckh_cases.json")))
        let result = try PCKh.evaluate(predictions: c.predictions.map { $0.map { Point($0[0], $0[1]) } },
                                       groundTruth: c.ground_truth.map { $0.map { Point($0[0], $0[1]) } },
                                       visible: c.visible.map { $0.map { $0 != 0 } }, headBoxes: c.head_boxes)
        XCTAssertEqual(result.jointCount, c.joint_count)
        // Counts over 40 people divided the same way: equal to rounding (1e-9).
        for j in 0..<16 { XCTAssertEqual(result.perJoint[j], c.per_joint[j], accuracy: 1e-9, "joint \(j)") }
        XCTAssertEqual(result.summary.map(\.name), c.groups.map { $0[0].string })
        for (mine, theirs) in zip(result.summary, c.groups) { XCTAssertEqual(mine.value, theirs[1].number, accuracy: 1e-9, mine.name) }
        XCTAssertTrue(result.format().contains("| Head | Shoulder |"))
        XCTAssertThrowsError(try PCKh.evaluate(predictions: [], groundTruth: [], visible: [], headBoxes: []))
    }

    // MARK: bad input

    /// Copies the COCO fixture into the temp folder with `edit` applied to its JSON object.
    func cocoCopy(withImages: Bool = true, _ edit: (inout [String: Any]) -> Void) throws -> (URL, URL) {
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cocoFile)) as? [String: Any])
        edit(&json)
        let file = dir.appendingPathComponent("person_keypoints_x.json"), images = dir.appendingPathComponent("images")
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        if withImages {
            for name in try FileManager.default.contentsOfDirectory(atPath: cocoImages.path) {
                try FileManager.default.copyItem(at: cocoImages.appendingPathComponent(name), to: images.appendingPathComponent(name))
            }
        }
        return (file, images)
    }

    func assertError(_ body: @autoclosure () throws -> Any, contains parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            let text = "\(error)"
            for p in parts { XCTAssertTrue(text.contains(p), "'\(text)' lacks '\(p)'", line: line) }
        }
    }

    func testMissingImageFileIsAnError() throws {
        let (file, images) = try cocoCopy { _ in }
        try FileManager.default.removeItem(at: images.appendingPathComponent("000000000005.jpg"))
        assertError(try KeypointDataset.coco(annotations: file, images: images, aspectRatio: 0.75),
                    contains: ["000000000005.jpg", "missing"])
        // MPII too.
        let mpii = dir.appendingPathComponent("mpii.json")
        try Data("[{\"image\": \"nothere.jpg\", \"center\": [10, 10], \"scale\": 1, \"joints\": \(Array(repeating: [1, 1], count: 16)), \"joints_vis\": \(Array(repeating: 1, count: 16))}]".utf8).write(to: mpii)
        assertError(try KeypointDataset.mpii(annotations: mpii, images: dir), contains: ["nothere.jpg", "missing"])
    }

    /// An annotation of an image the file does not list is an error, not dropped without a word.
    func testAnnotationOfAnUnlistedImageIsAnError() throws {
        let (file, images) = try cocoCopy(withImages: false) { json in
            var anns = json["annotations"] as! [[String: Any]]
            anns[0]["image_id"] = 987654
            json["annotations"] = anns
        }
        assertError(try KeypointDataset.coco(annotations: file, images: images, aspectRatio: 0.75), contains: ["image_id 987654", "do not list"])
    }

    func testImageRemovedDuringTrainingIsAnErrorNotASkip() throws {
        let (file, images) = try cocoCopy { _ in }
        let set = try KeypointDataset.coco(annotations: file, images: images, aspectRatio: 0.75)
        let data = try PoseTrainingData(dataset: set, augmentation: .coco(width: 48, height: 64), seed: 1)
        _ = try data.batch(Array(0..<set.count), epoch: 0)
        try FileManager.default.removeItem(at: images.appendingPathComponent("000000000002.jpg"))
        assertError(try data.batch(Array(0..<set.count), epoch: 0, threads: 2), contains: ["000000000002.jpg"])
        // A file whose size differs from the annotation's.
        try Image(width: 7, height: 9, fill: (1, 2, 3)).write(to: images.appendingPathComponent("000000000002.jpg"))
        assertError(try data.batch(Array(0..<set.count), epoch: 0), contains: ["000000000002.jpg", "7x9", "40x56"])
    }

    func testKeypointOutsideImageIsAnError() throws {
        let (file, images) = try cocoCopy { json in
            var anns = json["annotations"] as! [[String: Any]]
            var kp = anns[0]["keypoints"] as! [Double]
            (kp[15], kp[16], kp[17]) = (70, 20, 2)  // left_shoulder at x 70 in a 64-wide image
            anns[0]["keypoints"] = kp
            json["annotations"] = anns
        }
        assertError(try KeypointDataset.coco(annotations: file, images: images, aspectRatio: 0.75),
                    contains: ["annotation 1", "left_shoulder", "outside", "64x48"])
        let lenient = try KeypointDataset.coco(annotations: file, images: images, aspectRatio: 0.75, outside: .unlabel)
        XCTAssertEqual(lenient.samples.first { $0.annotationID == 1 }?.visibility[5], 0)
    }

    func testCategoryWithoutKeypointsIsAnError() throws {
        let (file, images) = try cocoCopy { json in
            var cats = json["categories"] as! [[String: Any]]
            cats[0]["keypoints"] = nil
            json["categories"] = cats
        }
        assertError(try KeypointDataset.coco(annotations: file, images: images, aspectRatio: 0.75),
                    contains: ["category 1", "no 'keypoints'"])
    }

    func testOtherBadCOCOInput() throws {
        let (noSize, images) = try cocoCopy { json in
            var ims = json["images"] as! [[String: Any]]
            ims[0]["width"] = nil
            json["images"] = ims
        }
        assertError(try KeypointDataset.coco(annotations: noSize, images: images, aspectRatio: 0.75), contains: ["no width and height"])
        let (badV, _) = try cocoCopy(withImages: false) { json in
            var anns = json["annotations"] as! [[String: Any]]
            var kp = anns[1]["keypoints"] as! [Double]
            kp[2] = 3
            anns[1]["keypoints"] = kp
            json["annotations"] = anns
        }
        assertError(try KeypointDataset.coco(annotations: badV, images: images, aspectRatio: 0.75), contains: ["annotation 2", "v 3"])
        let (noPeople, _) = try cocoCopy(withImages: false) { json in json["annotations"] = [[String: Any]]() }
        assertError(try KeypointDataset.coco(annotations: noPeople, images: images, aspectRatio: 0.75), contains: ["nothing to train on"])
        assertError(try KeypointDataset.coco(annotations: dir.appendingPathComponent("absent.json"), images: images, aspectRatio: 0.75),
                    contains: ["absent.json", "no such file"])
        try Data("{\"images\": [".utf8).write(to: dir.appendingPathComponent("broken.json"))
        assertError(try KeypointDataset.coco(annotations: dir.appendingPathComponent("broken.json"), images: images, aspectRatio: 0.75),
                    contains: ["broken.json", "JSON"])
    }

    // MARK: batches

    /// The README's training-data example, on the COCO fixture (input 48x64, batches of 2).
    func testReadmeExample() throws {
        let train = try KeypointDataset.coco(annotations: cocoFile, images: cocoImages, aspectRatio: 48.0 / 64)
        let data = try PoseTrainingData(dataset: train, augmentation: .coco(width: 48, height: 64), seed: 1)
        var seen: [Int] = []
        for epoch in 0..<2 {
            let order = data.order(epoch: epoch)
            for start in stride(from: 0, to: order.count, by: 2) {
                let batch = try data.batch(Array(order[start..<min(start + 2, order.count)]), epoch: epoch, threads: 2)
                XCTAssertEqual(Array(batch.input.shape[1...]), [3, 64, 48])
                XCTAssertEqual(Array(batch.target.shape[1...]), [17, 16, 12])
                XCTAssertEqual(Array(batch.targetWeight.shape[1...]), [17, 1])
                seen += batch.indices
            }
        }
        XCTAssertEqual(seen.sorted(), (Array(0..<train.count) + Array(0..<train.count)).sorted())
    }

    func testBatchesAreDeterministicAndThreadIndependent() throws {
        let set = try KeypointDataset.coco(annotations: cocoFile, images: cocoImages, aspectRatio: 0.75)
        let data = try PoseTrainingData(dataset: set, augmentation: .coco(width: 48, height: 64), seed: 9)
        let order = data.order(epoch: 3)
        XCTAssertEqual(order.sorted(), Array(0..<set.count))
        XCTAssertEqual(order, data.order(epoch: 3))
        let a = try data.batch(order, epoch: 3), b = try data.batch(order, epoch: 3, threads: 2)
        XCTAssertEqual(a.input, b.input)
        XCTAssertEqual(a.target, b.target)
        XCTAssertEqual(a.targetWeight, b.targetWeight)
        XCTAssertEqual(a.targetWeight.shape, [set.count, 17, 1])
        let c = try data.batch(order, epoch: 4)
        XCTAssertNotEqual(a.input, c.input)
        // Validation crops: no augmentation, equal to the sample's own crop.
        let val = try PoseTrainingData(dataset: set, augmentation: .coco(width: 48, height: 64), augment: false)
        XCTAssertEqual(val.order(epoch: 5), Array(0..<set.count))
        let e = try val.example(index: 0, epoch: 5)
        XCTAssertFalse(e.crop.flipped || e.crop.halfBody)
        XCTAssertEqual(e.crop.crop, set.samples[0].crop)
    }
}

/// A JSON value that is a number or a string (the fixture's [name, value] rows).
enum JSONNumberOrString: Decodable {
    case number(Double), string(String)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .string(try c.decode(String.self)) }
    }
    var number: Double { if case .number(let d) = self { d } else { .nan } }
    var string: String { if case .string(let s) = self { s } else { "" } }
}
