import XCTest
import Datasets
import TestSupport

/// Our COCOeval against pycocotools' own numbers on a synthetic set with crowd regions,
/// unlabelled people, more detections than maxDets, tied scores and every area range
/// (Tests/Fixtures/coco/make_coco_fixtures.py). Same algorithm, same order of operations:
/// equal to 1e-12.
final class COCOEvalTests: XCTestCase {
    func url(_ name: String) -> URL { Fixtures.url("coco/\(name)") }

    func expected(_ key: String) throws -> [Double] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url("expected_stats.json"))) as! [String: [Double]]
        return json[key]!
    }

    func testKeypointsStatsEqualPycocotools() throws {
        let gt = try COCOGroundTruth.load(url("gt.json"))
        let dt = try COCOResults.load(url("dt_keypoints.json"), for: gt, iouType: .keypoints)
        let stats = try COCOEval(groundTruth: gt, results: dt, iouType: .keypoints).run()
        let want = try expected("keypoints")
        XCTAssertEqual(stats.count, 10)
        for (i, (a, b)) in zip(stats, want).enumerated() { XCTAssertEqual(a, b, accuracy: 1e-12, "stat \(i)") }
    }

    func testBoxStatsEqualPycocotools() throws {
        let gt = try COCOGroundTruth.load(url("gt.json"))
        let dt = try COCOResults.load(url("dt_bbox.json"), for: gt, iouType: .bbox)
        let stats = try COCOEval(groundTruth: gt, results: dt, iouType: .bbox).run()
        let want = try expected("bbox")
        XCTAssertEqual(stats.count, 12)
        for (i, (a, b)) in zip(stats, want).enumerated() { XCTAssertEqual(a, b, accuracy: 1e-12, "stat \(i)") }
    }

    /// No results at all: every range with ground truth scores 0, never a crash.
    func testEmptyResults() throws {
        let gt = try COCOGroundTruth.load(url("gt.json"))
        let stats = try COCOEval(groundTruth: gt, results: [], iouType: .keypoints).run()
        XCTAssertEqual(stats, Array(repeating: 0, count: 10))
    }

    func testBadFilesAreClearErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coco-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func file(_ name: String, _ text: String) throws -> URL {
            let u = dir.appendingPathComponent(name)
            try text.write(to: u, atomically: true, encoding: .utf8)
            return u
        }
        let noCats = try file("nocats.json", #"{"images": [{"id": 1}], "annotations": [], "categories": []}"#)
        XCTAssertThrowsError(try COCOGroundTruth.load(noCats)) { XCTAssertTrue("\($0)".contains("nocats.json") && "\($0)".contains("categories"), "\($0)") }
        let badAnn = try file("badann.json", #"{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]}"#)
        XCTAssertThrowsError(try COCOGroundTruth.load(badAnn)) { XCTAssertTrue("\($0)".contains("annotations[0].bbox"), "\($0)") }
        XCTAssertThrowsError(try COCOGroundTruth.load(try file("notjson.json", "{oops"))) { XCTAssertTrue("\($0)".contains("not valid JSON"), "\($0)") }
        // A keypoint list that does not fit its category (pycocotools raises on it).
        let wrongCount = try file("kp.json", #"{"images": [{"id": 1}], "categories": [{"id": 1, "keypoints": ["a", "b"]}], "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "keypoints": [1, 2, 2, 3, 4, 2, 5, 6, 2]}]}"#)
        XCTAssertThrowsError(try COCOGroundTruth.load(wrongCount)) {
            XCTAssertTrue("\($0)".contains("annotations[0] (id 7) has 9 keypoint values") && "\($0)".contains("2 keypoints"), "\($0)")
        }

        let gt = try COCOGroundTruth.load(url("gt.json"))
        let unknownImage = try file("dt1.json", #"[{"image_id": 999999, "category_id": 1, "keypoints": [1,2,1], "score": 0.5}]"#)
        XCTAssertThrowsError(try COCOResults.load(unknownImage, for: gt, iouType: .keypoints)) {
            XCTAssertTrue("\($0)".contains("results[0]") && "\($0)".contains("999999"), "\($0)")
        }
        let shortKeypoints = try file("dt2.json", #"[{"image_id": 3, "category_id": 1, "keypoints": [1,2,1,3,4,1], "score": 0.5}]"#)
        let dt = try COCOResults.load(shortKeypoints, for: gt, iouType: .keypoints)
        XCTAssertThrowsError(try COCOEval(groundTruth: gt, results: dt, iouType: .keypoints).run()) {
            XCTAssertTrue("\($0)".contains("2 keypoints"), "\($0)")
        }
        let nanScore = try file("dt3.json", #"[{"image_id": 3, "category_id": 1, "bbox": [1,2,3,4], "score": "high"}]"#)
        XCTAssertThrowsError(try COCOResults.load(nanScore, for: gt, iouType: .bbox)) { XCTAssertTrue("\($0)".contains("score"), "\($0)") }
    }
}

/// The person boxes a pose test crops with ground-truth boxes (the official USE_GT_BBOX rule).
final class COCOPersonBoxesTests: XCTestCase {
    func testBoxesAreClippedAndPointsLeftOut() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-boxes-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        let kp = "[10, 10, 2]"
        try """
            {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
             "categories": [{"id": 1, "name": "person", "keypoints": ["a"], "skeleton": []}],
             "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [-5, 10, 30, 200], "area": 900, "iscrowd": 0, "keypoints": \(kp)},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [40, 20, 1, 9], "area": 9, "iscrowd": 0, "keypoints": \(kp)},
              {"id": 3, "image_id": 1, "category_id": 1, "bbox": [60, 30, 1, 1], "area": 1, "iscrowd": 0, "keypoints": \(kp)},
              {"id": 4, "image_id": 1, "category_id": 1, "bbox": [60, 30, 20, 20], "area": 0, "iscrowd": 0, "keypoints": \(kp)},
              {"id": 5, "image_id": 1, "category_id": 1, "bbox": [60, 30, 20, 20], "area": 400, "iscrowd": 0, "keypoints": [0, 0, 0]}]}
            """.write(to: url, atomically: true, encoding: .utf8)
        let boxes = try COCOGroundTruth.load(url).personBoxesByImage()[1] ?? []
        // Clipped as the official code does (x1 = max(0, x), x2 = min(width - 1, x1 + w - 1): the
        // width is kept from the clipped corner); a 1-pixel-wide box keeps its
        // height (width 0: the crop's aspect fix widens it); a 1x1 box, a zero area and a person
        // with no labelled joint are left out.
        XCTAssertEqual(boxes, [[0, 10, 29, 69], [40, 20, 0, 8]])
    }
}
