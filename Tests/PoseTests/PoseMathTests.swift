import XCTest
import DNN
import Pose
import TestSupport

/// The top-down pose math against Tests/Fixtures/pose/pose_cases.json, written by a script
/// that spells out the official formulas with numpy and OpenCV.
final class PoseMathTests: XCTestCase {
    var cases: [String: Any] = [:]

    override func setUpWithError() throws {
        let data = try Data(contentsOf: Fixtures.url("pose/pose_cases.json"))
        cases = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func doubles(_ v: Any?) -> [Double] { (v as! [Any]).map { ($0 as! NSNumber).doubleValue } }
    func crop(_ d: [String: Any]) -> PersonCrop {
        let c = doubles(d["center"]), s = doubles(d["scale"])
        return PersonCrop(center: Point(c[0], c[1]), scale: (s[0], s[1]), rotation: (d["rotation"] as? NSNumber)?.doubleValue ?? 0)
    }

    /// Box -> center and scale (exact in double precision).
    func testBoxToCenterScale() {
        for item in cases["boxes"] as! [[String: Any]] {
            let b = doubles(item["box"])
            let c = PersonCrop(box: b[0], b[1], b[2], b[3], aspectRatio: 192.0 / 256.0)
            let (ec, es) = (doubles(item["center"]), doubles(item["scale"]))
            XCTAssertEqual(c.center.x, ec[0], accuracy: 1e-12); XCTAssertEqual(c.center.y, ec[1], accuracy: 1e-12)
            XCTAssertEqual(c.scale.w, es[0], accuracy: 1e-12); XCTAssertEqual(c.scale.h, es[1], accuracy: 1e-12)
        }
    }

    /// The crop transform and its inverse. OpenCV solves from float32 points, so entries agree
    /// to float32 precision of pixel coordinates: 1e-3 absolute on translations of hundreds of pixels.
    func testCropTransform() {
        for item in cases["transforms"] as! [[String: Any]] {
            let c = crop(item)
            let size = doubles(item["size"])
            let forward = c.transform(width: Int(size[0]), height: Int(size[1]))
            let inverse = c.transform(width: Int(size[0]), height: Int(size[1]), inverse: true)
            for (got, want) in [(forward.m, doubles(item["forward"])), (inverse.m, doubles(item["inverse"]))] {
                for k in 0..<6 { XCTAssertEqual(got[k], want[k], accuracy: k % 3 == 2 ? 1e-3 : 1e-5, "\(item) entry \(k)") }
            }
            // Inverse undoes forward.
            let p = forward.inverse.apply(forward.apply(Point(12.5, 40.25)))
            XCTAssertEqual(p.x, 12.5, accuracy: 1e-9); XCTAssertEqual(p.y, 40.25, accuracy: 1e-9)
        }
    }

    /// Arg-max + quarter offset and DARK, mapped back to the image: within 1e-3 pixels
    /// (float32 heatmaps, a float32-derived transform, and a Gaussian kernel in double here).
    func testDecoding() throws {
        let d = cases["decode"] as! [String: Any]
        let shape = doubles(d["shape"]).map { Int($0) }
        let heatmaps = Tensor(shape: shape, scalars: doubles(d["heatmaps"]).map { Float($0) })
        let crops = (d["crops"] as! [[String: Any]]).map(crop)
        let scores = (d["scores"] as! [Any]).map(doubles)
        for (method, key, tolerance) in [(HeatmapDecoder.Method.standard, "standard", 1e-3), (.dark(kernel: 11), "dark", 2e-3)] {
            let expected = (d[key] as! [Any]).map { ($0 as! [Any]).map(doubles) }
            for n in 0..<shape[0] {
                let kps = HeatmapDecoder.decode(heatmaps, image: n, crop: crops[n], method: method)
                for j in 0..<shape[1] {
                    XCTAssertEqual(kps[j].x, expected[n][j][0], accuracy: tolerance, "\(key) n\(n) j\(j)")
                    XCTAssertEqual(kps[j].y, expected[n][j][1], accuracy: tolerance, "\(key) n\(n) j\(j)")
                    XCTAssertEqual(kps[j].score, scores[n][j], accuracy: 1e-6)
                }
            }
        }
    }

    /// POST_PROCESS false: the plain arg-max, a quarter pixel (in heatmap units) from the standard
    /// decode wherever the neighbours differ; exact, as both are the same transform of a grid point.
    func testArgmaxDecodingIsTheStandardOneWithoutTheQuarterStep() {
        var map = [Float](repeating: 0, count: 6 * 8)
        map[3 * 8 + 4] = 1; map[3 * 8 + 5] = 0.5; map[2 * 8 + 4] = 0.3   // peak (4, 3): right and up higher
        let heatmaps = Tensor(shape: [1, 1, 6, 8], scalars: map)
        let crop = PersonCrop(center: Point(40, 30), scale: (0.4, 0.3))
        let back = crop.transform(width: 8, height: 6, inverse: true)
        let plain = HeatmapDecoder.decode(heatmaps, image: 0, crop: crop, method: .argmax)[0]
        let standard = HeatmapDecoder.decode(heatmaps, image: 0, crop: crop, method: .standard)[0]
        let grid = back.apply(Point(4, 3)), stepped = back.apply(Point(4.25, 2.75))
        XCTAssertEqual(plain.x, grid.x, accuracy: 1e-12); XCTAssertEqual(plain.y, grid.y, accuracy: 1e-12)
        XCTAssertEqual(standard.x, stepped.x, accuracy: 1e-12); XCTAssertEqual(standard.y, stepped.y, accuracy: 1e-12)
    }

    func testFlipBack() {
        let f = cases["flip"] as! [String: Any]
        let shape = doubles(f["shape"]).map { Int($0) }
        let input = Tensor(shape: shape, scalars: doubles(f["input"]).map { Float($0) })
        let pairs = (f["pairs"] as! [Any]).map { doubles($0).map { Int($0) } }
        let back = FlipTest.flipBack(input, pairs: pairs, shift: true)
        XCTAssertEqual(back.scalars, doubles(f["back"]).map { Float($0) })   // a permutation: exact
        XCTAssertEqual(FlipTest.mirror(FlipTest.mirror(input)), input)
    }

    /// OKS (1e-12) and the NMS keep lists (exact), with and without the visibility threshold.
    func testOKSAndNMS() {
        let o = cases["oks"] as! [String: Any]
        let people = (o["people"] as! [[String: Any]]).map { p -> Person in
            let k = doubles(p["keypoints"])
            return Person(keypoints: stride(from: 0, to: k.count, by: 3).map { Keypoint(x: k[$0], y: k[$0 + 1], score: k[$0 + 2]) },
                          score: (p["score"] as! NSNumber).doubleValue, area: (p["area"] as! NSNumber).doubleValue)
        }
        let sigmas = KeypointSet.coco.sigmas
        for (key, vis) in [("oks_0_vs_all", nil), ("oks_0_vs_all_vis", 0.2)] as [(String, Double?)] {
            for (i, want) in doubles(o[key]).enumerated() {
                XCTAssertEqual(OKS.similarity(people[0], people[i], sigmas: sigmas, visibility: vis), want, accuracy: 1e-12, key)
            }
        }
        XCTAssertEqual(OKS.nms(people, threshold: 0.9, sigmas: sigmas), doubles(o["nms_0.9"]).map { Int($0) })
        XCTAssertEqual(OKS.nms(people, threshold: 0.5, sigmas: sigmas), doubles(o["nms_0.5"]).map { Int($0) })
        XCTAssertEqual(OKS.nms(people, threshold: 0.5, sigmas: sigmas, visibility: 0.2), doubles(o["nms_0.5_vis"]).map { Int($0) })
        // Soft OKS-NMS keeps more people than hard NMS at the same threshold (scores decay, nobody is dropped
        // outright) and stops at maxDetections.
        XCTAssertEqual(OKS.softNMS(people, threshold: 0.9, sigmas: sigmas), doubles(o["soft_nms_0.9"]).map { Int($0) })
        XCTAssertEqual(OKS.softNMS(people, threshold: 0.3, sigmas: sigmas, maxDetections: 5), doubles(o["soft_nms_0.3_max5"]).map { Int($0) })
    }

    func testRescore() {
        let p = Person(keypoints: [0.1, 0.5, 0.9, 0.2].map { Keypoint(x: 0, y: 0, score: $0) }, score: 0, area: 1)
        XCTAssertEqual(OKS.rescore(p, boxScore: 0.8), 0.8 * (0.5 + 0.9) / 2, accuracy: 1e-15)
        XCTAssertEqual(OKS.rescore(Person(keypoints: [Keypoint(x: 0, y: 0, score: 0.1)], score: 0, area: 1), boxScore: 1), 0)
    }
}
