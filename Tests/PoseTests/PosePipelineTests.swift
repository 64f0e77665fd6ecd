import XCTest
import DNN
import HRNet
import Imaging
import Pose
import TestSupport

/// The whole top-down pipeline (box -> crop -> network -> flip test -> decode -> image
/// coordinates) with the tiny pose model on the committed photo, against the official test
/// pipeline written out in Tests/Fixtures/pose/reference_pose.py (OpenCV warp, PyTorch model).
/// The script checks every joint decodes far from a tie (arg-max gap and neighbour differences
/// above 1e-3), so a last-bit difference cannot move a keypoint by a quarter pixel; what remains
/// is float32 transform arithmetic: keypoints agree to 0.01 px, scores (heatmap maxima) to 1e-4.
final class PosePipelineTests: XCTestCase {
    struct Case: Decodable {
        let flip: Bool
        let keypoints: [[[Double]]]
        let centers: [[Double]]
        let scales: [[Double]]
    }
    struct Cases: Decodable {
        let image: String
        let pairs: [[Int]]
        let boxes: [[Double]]
        let cases: [Case]
    }

    static let tinyKeypoints = KeypointSet(names: ["a", "b_left", "b_right", "c_left", "c_right"],
                                           flipPairs: [[1, 2], [3, 4]], skeleton: [[0, 1], [0, 2], [1, 3], [2, 4]],
                                           sigmas: Array(repeating: 0.05, count: 5))

    func loadCases() throws -> Cases {
        try JSONDecoder().decode(Cases.self, from: Data(contentsOf: Fixtures.url("pose/pipeline_cases.json")))
    }

    func estimator(flip: Bool, batch: Int = 8) throws -> PoseEstimator {
        let config = try HRNetConfig.load(Fixtures.url("hrnet/tiny_pose.yaml"))
        var options = PoseEstimator.Options(flipTest: flip)
        options.batchSize = batch
        options.nmsThreshold = nil
        options.threads = 2
        return try PoseEstimator(config: config, weights: Fixtures.url("hrnet/tiny_pose.safetensors"),
                                 keypoints: Self.tinyKeypoints, options: options)
    }

    /// DATASET.COLOR_RGB false (the official default, and every SimpleBaseline file) feeds the
    /// network B, G, R planes normalized with the same per-plane statistics: the heatmaps equal
    /// those of a COLOR_RGB true model given the image with red and blue exchanged, exactly.
    func testColorOrderFollowsTheConfig() throws {
        let bgr = try HRNetConfig.load(Fixtures.url("poseresnet/tiny_pose_resnet.yaml"))
        XCTAssertFalse(bgr.colorRGB)
        var rgb = bgr
        rgb.colorRGB = true
        let image = try Image.load(Fixtures.url(try loadCases().image))
        var swappedPixels = image.pixels
        for p in 0..<(image.width * image.height) { swappedPixels.swapAt(3 * p, 3 * p + 2) }
        let swapped = try Image(width: image.width, height: image.height, pixels: swappedPixels)
        let crop = PersonCrop(box: 10, 20, 60, 90, aspectRatio: 64.0 / 96.0)
        func maps(_ config: HRNetConfig, _ image: Image) throws -> Tensor {
            try PoseEstimator(config: config, weights: Fixtures.url("poseresnet/tiny_pose_resnet.safetensors"),
                              options: PoseEstimator.Options(flipTest: true)).heatmaps([(image, crop)])
        }
        let read = try maps(bgr, image)
        XCTAssertEqual(read, try maps(rgb, swapped))
        XCTAssertGreaterThan(read.maxAbsDifference(try maps(rgb, image)), 1e-3, "the planes' order reaches the network")
    }

    /// Many people in one image: the caller hears after each network batch (10 boxes, batch 4).
    func testCropProgress() throws {
        let est = try estimator(flip: false, batch: 4)
        var calls: [[Int]] = []
        est.cropsDone = { calls.append([$0, $1]) }
        let image = Image(width: 64, height: 96, fill: (120, 100, 80))
        let people = try est.estimate(image: image, boxes: (0..<10).map { PersonBox(x: Double($0), y: 2, width: 30, height: 60) })
        XCTAssertEqual(people.count, 10)
        XCTAssertEqual(calls, [[4, 10], [8, 10], [10, 10]])
    }

    func testMatchesOfficialPipelineWithAndWithoutFlip() throws {
        let cases = try loadCases()
        let image = try Image.load(Fixtures.url(cases.image))
        let boxes = cases.boxes.map { PersonBox(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
        XCTAssertEqual(cases.cases.count, 2)
        for c in cases.cases {
            let est = try estimator(flip: c.flip)
            // Through `heatmaps` + decode per box, so people keep the box order for comparison.
            let crops = boxes.map { est.crop(for: $0) }
            for (k, crop) in crops.enumerated() {
                XCTAssertEqual(crop.center.x, c.centers[k][0], accuracy: 1e-9)
                XCTAssertEqual(crop.scale.h, c.scales[k][1], accuracy: 1e-9)
            }
            let maps = try est.heatmaps(crops.map { (image, $0) })
            for (k, crop) in crops.enumerated() {
                let joints = HeatmapDecoder.decode(maps, image: k, crop: crop)
                for (j, p) in joints.enumerated() {
                    let want = c.keypoints[k][j]
                    XCTAssertEqual(p.x, want[0], accuracy: 0.01, "flip \(c.flip) box \(k) joint \(j) x")
                    XCTAssertEqual(p.y, want[1], accuracy: 0.01, "flip \(c.flip) box \(k) joint \(j) y")
                    XCTAssertEqual(p.score, want[2], accuracy: 1e-4, "flip \(c.flip) box \(k) joint \(j) score")
                }
            }
            // The public entry point gives the same people, re-scored, best first.
            let people = try est.estimate(image: image, boxes: boxes)
            XCTAssertEqual(people.count, boxes.count)
            XCTAssertEqual(people.map(\.score), people.map(\.score).sorted(by: >))
            for person in people {
                let k = try XCTUnwrap(crops.firstIndex(of: person.crop!))
                XCTAssertEqual(person.keypoints[0].x, c.keypoints[k][0][0], accuracy: 0.01)
                let visible = c.keypoints[k].map { $0[2] }.filter { $0 > 0.2 }
                let expected = visible.isEmpty ? 0 : visible.reduce(0, +) / Double(visible.count)
                XCTAssertEqual(person.score, expected, accuracy: 1e-4, "re-score: box score 1 x mean joint score above 0.2")
            }
        }
    }

    /// An estimator made without options follows the config's TEST keys, and they matter:
    /// without the flipped maps' shift and the quarter step, the keypoints move.
    func testConfigTestKeysReachTheEstimator() throws {
        let official = try HRNetConfig.load(Fixtures.url("hrnet/tiny_pose.yaml"))
        var changed = official
        changed.poseTest.shiftHeatmap = false
        changed.poseTest.postProcess = false
        changed.poseTest.visibilityThreshold = 0.4
        changed.poseTest.oksThreshold = 1
        changed.poseTest.softNMS = true
        let o = PoseEstimator.Options(config: changed)
        XCTAssertEqual([o.flipTest, o.shiftHeatmap, o.softNMS], [true, false, true])
        XCTAssertEqual(o.decoding, .argmax)
        XCTAssertEqual(o.visibilityThreshold, 0.4)
        XCTAssertNil(o.nmsThreshold, "OKS_THRE 1 keeps everyone")
        XCTAssertEqual(PoseEstimator.Options(config: official).nmsThreshold, 0.9)
        var dark = official
        dark.poseTest.blurKernel = 3
        XCTAssertEqual(PoseEstimator.Options(config: dark).decoding, .dark(kernel: 3))

        let cases = try loadCases()
        let image = try Image.load(Fixtures.url(cases.image))
        let boxes = cases.boxes.map { PersonBox(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
        func keypoints(_ config: HRNetConfig) throws -> [Double] {
            let est = try PoseEstimator(config: config, weights: Fixtures.url("hrnet/tiny_pose.safetensors"), keypoints: Self.tinyKeypoints)
            return try est.estimate(image: image, boxes: boxes).sorted { $0.crop!.center.x < $1.crop!.center.x }
                .flatMap { $0.keypoints.map(\.x) }
        }
        let a = try keypoints(official), b = try keypoints(changed)
        XCTAssertEqual(a.count, b.count)
        XCTAssertGreaterThan(zip(a, b).map { abs($0 - $1) }.max() ?? 0, 0.1)
    }

    /// Batching crops across images, and the batch size, change nothing but summation order.
    func testBatchingAcrossImagesGivesTheSameKeypoints() throws {
        let cases = try loadCases()
        let image = try Image.load(Fixtures.url(cases.image))
        let boxes = cases.boxes.map { PersonBox(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
        let one = try estimator(flip: true, batch: 1)
        let many = try estimator(flip: true, batch: 3)
        let separate = try [boxes[0...1], boxes[2...]].map { try one.estimate(image: image, boxes: Array($0)) }
        let together = try many.estimate([(image, Array(boxes[0...1])), (image, Array(boxes[2...]))])
        XCTAssertEqual(together.count, 2)
        for (a, b) in zip(separate, together) {
            XCTAssertEqual(a.count, b.count)
            for (p, q) in zip(a, b) {
                for (u, v) in zip(p.keypoints, q.keypoints) {
                    XCTAssertEqual(u.x, v.x, accuracy: 1e-6); XCTAssertEqual(u.y, v.y, accuracy: 1e-6)
                    XCTAssertEqual(u.score, v.score, accuracy: 1e-5)
                }
            }
        }
    }

    func testBadBoxesAndModelsAreClearErrors() throws {
        let image = Image(width: 40, height: 30, fill: (10, 20, 30))
        let est = try estimator(flip: false)
        for (box, words) in [(PersonBox(x: 3, y: 4, width: 0, height: 0), "no extent"),
                             (PersonBox(x: 3, y: 4, width: -2, height: 10), "no extent"),
                             (PersonBox(x: 100, y: 0, width: 10, height: 10), "outside"),
                             (PersonBox(x: .nan, y: 0, width: 10, height: 10), "finite")] {
            XCTAssertThrowsError(try est.estimate(image: image, boxes: [box])) { error in
                XCTAssertTrue("\(error)".contains(words), "\(error)")
            }
        }
        // One side 0 (a clipped annotation): the aspect-ratio fix gives the crop its width, as
        // the official _xywh2cs does.
        XCTAssertEqual(try est.estimate(image: image, boxes: [PersonBox(x: 5, y: 2, width: 0, height: 20)]).count, 1)
        // A box reaching outside the image is cropped with a black border, as the official code does.
        XCTAssertEqual(try est.estimate(image: image, boxes: [PersonBox(x: -20, y: -10, width: 40, height: 30)]).count, 1)
        // No boxes: no people.
        XCTAssertEqual(try est.estimate(image: image, boxes: []).count, 0)
        // A segmentation model or a keypoint set of the wrong size.
        let seg = try HRNetConfig.load(Fixtures.url("hrnet/tiny_seg.yaml"))
        XCTAssertThrowsError(try PoseEstimator(config: seg, parameters: [:])) { XCTAssertTrue("\($0)".contains("pose_hrnet"), "\($0)") }
        let pose = try HRNetConfig.load(Fixtures.url("hrnet/tiny_pose.yaml"))
        XCTAssertThrowsError(try PoseEstimator(config: pose, parameters: [:], keypoints: .coco)) {
            XCTAssertTrue("\($0)".contains("17 keypoints"), "\($0)")
        }
    }

    func testKeypointFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ text: String) throws -> URL {
            let url = dir.appendingPathComponent("\(UUID().uuidString).yaml")
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url
        }
        let good = try KeypointSet.load(write("""
            keypoints: [head, left_hand, right_hand]
            flip_pairs: [[left_hand, right_hand]]
            skeleton: [[head, 1], [0, right_hand]]
            sigmas: [0.02, 0.03, 0.03]
            """))
        XCTAssertEqual(good.names, ["head", "left_hand", "right_hand"])
        XCTAssertEqual(good.flipPairs, [[1, 2]])
        XCTAssertEqual(good.skeleton, [[0, 1], [0, 2]])
        XCTAssertEqual(good.sigmas, [0.02, 0.03, 0.03])
        for (text, words) in [("keypoints: []", "non-empty"), ("keypoints: [a, b]\nflip_pairs: [[a, c]]", "'c' is not one of"),
                              ("keypoints: [a, b]\nskeleton: [[0, 5]]", "outside"), ("keypoints: [a, a]", "twice"),
                              ("keypoints: [a, b]\nsigmas: [1]", "one number per keypoint"), ("keypoints: [a\n", "not valid"),
                              ("keypoints: [a, b, c]\nflip_pairs: [[a, b], [b, c]]", "two pairs")] {
            XCTAssertThrowsError(try KeypointSet.load(write(text))) { XCTAssertTrue("\($0)".contains(words), "\(text): \($0)") }
        }
        XCTAssertThrowsError(try KeypointSet.load(dir.appendingPathComponent("none.yaml"))) { XCTAssertTrue("\($0)".contains("no such file")) }
        // Names alone: COCO's are COCO's set; others pair by left/right.
        XCTAssertEqual(KeypointSet.named(KeypointSet.coco.names), .coco)
        XCTAssertEqual(KeypointSet.named(["nose", "left_paw", "right_paw", "l_ear", "r_ear"]).flipPairs, [[1, 2], [3, 4]])
    }

    func testDetectionFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("det-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ text: String) throws -> URL {
            let url = dir.appendingPathComponent("\(UUID().uuidString).json")
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url
        }
        let file = try DetectionFile.load(write("""
            [{"image_id": 397133, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9},
             {"image_id": 397133, "category_id": 3, "bbox": [1, 2, 30, 40], "score": 0.9},
             {"image_id": 397133, "category_id": 1, "bbox": [5, 6, 7, 8], "score": 0.05},
             {"file_name": "me.png", "bbox": [0, 0, 10, 20]}]
            """), minScore: 0.1)
        XCTAssertEqual(file.count, 2)
        XCTAssertEqual(file.boxes(forFile: URL(fileURLWithPath: "/x/000000397133.jpg")), [PersonBox(x: 1, y: 2, width: 30, height: 40, score: 0.9)])
        XCTAssertEqual(file.boxes(forFile: URL(fileURLWithPath: "/x/me.png")), [PersonBox(x: 0, y: 0, width: 10, height: 20)])
        XCTAssertEqual(file.boxes(forFile: URL(fileURLWithPath: "/x/other.png")), [])
        for (text, words) in [("{}", "expected a JSON list"), ("[{\"image_id\": 1, \"score\": 1}]", "detections[0].bbox"),
                              ("[{\"image_id\": 1, \"bbox\": [0, 0, 0, 5]}]", "no area"), ("[{\"bbox\": [0, 0, 5, 5]}]", "neither"),
                              ("[{\"image_id\": 1, \"bbox\": [0, 0, 5, 5], \"score\": \"high\"}]", "score"), ("[{", "not valid JSON")] {
            XCTAssertThrowsError(try DetectionFile.load(write(text))) { XCTAssertTrue("\($0)".contains(words), "\(text): \($0)") }
        }
    }
}

/// The pose example of README.md, on the tiny fixture model (5 joints, so with its keypoint
/// definition), so the README cannot rot.
final class PoseReadmeExampleTests: XCTestCase {
    func testReadmeExample() throws {
        let estimator = try PoseEstimator(config: HRNetConfig.load(Fixtures.url("hrnet/tiny_pose.yaml")),
                                          weights: Fixtures.url("hrnet/tiny_pose.safetensors"),
                                          keypoints: PosePipelineTests.tinyKeypoints)
        let image = try Image.load(Fixtures.url("imaging/person.jpg"))
        let people = try estimator.estimate(image: image, boxes: [PersonBox(x: 120, y: 40, width: 80, height: 180, score: 0.98)])
        XCTAssertEqual(people.count, 1)
        XCTAssertEqual(people[0].keypoints.count, 5)
        var picture = image
        PoseDrawing.draw(people, on: &picture, keypoints: estimator.keypoints)
        XCTAssertNotEqual(picture, image)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pose-\(UUID().uuidString).jpg")
        defer { try? FileManager.default.removeItem(at: out) }
        try picture.write(to: out)
        XCTAssertEqual(try Image.load(out).width, image.width)
    }
}
