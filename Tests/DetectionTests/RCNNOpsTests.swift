import XCTest
import Foundation
import DNN
@testable import Detection

/// Faster R-CNN's test-time ops against references from torchvision / mmcv / mmdet 3.3.0
/// (Tests/Fixtures/detection/rcnn_ops.json, written by make_rcnn_op_fixtures.py beside it), plus
/// hostile inputs.
final class RCNNOpsTests: XCTestCase {
    static let fixtureURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/detection/rcnn_ops.json")

    func fixture() throws -> [String: Any] {
        let data = try Data(contentsOf: Self.fixtureURL)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func floats(_ value: Any?) -> [Float] { (value as? [Any] ?? []).map { ($0 as! NSNumber).floatValue } }
    func boxes(_ value: Any?) -> [BoundingBox] {
        (value as? [Any] ?? []).map { let v = floats($0); return BoundingBox(x1: v[0], y1: v[1], x2: v[2], y2: v[3]) }
    }
    func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox { BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2) }

    // MARK: RoIAlign

    func testRoIAlignMatchesTorchvision() throws {
        let all = try XCTUnwrap(try fixture()["roi_align"] as? [String: Any])
        let shape = (all["shape"] as! [Any]).map { ($0 as! NSNumber).intValue }
        let features = Tensor(shape: shape, scalars: floats(all["features"]))
        let cases = try XCTUnwrap(all["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 3)
        var worst: Float = 0
        for c in cases {
            let name = c["name"] as! String
            let rois: [(batch: Int, box: BoundingBox)] = (c["rois"] as! [[Any]]).map { r in
                let v = r.map { ($0 as! NSNumber).floatValue }
                return (Int(v[0]), BoundingBox(x1: v[1], y1: v[2], x2: v[3], y2: v[4]))
            }
            let size = (c["output_size"] as! NSNumber).intValue
            let expected = Tensor(shape: [rois.count, shape[1], size, size], scalars: floats(c["output"]))
            for threads in [1, 2] {
                let got = RoIAlign.pool(features, rois: rois, spatialScale: (c["spatial_scale"] as! NSNumber).floatValue,
                                        outputSize: size, samplingRatio: (c["sampling_ratio"] as! NSNumber).intValue,
                                        aligned: c["aligned"] as! Bool, threads: threads)
                XCTAssertEqual(got.shape, expected.shape, name)
                let err = got.maxAbsDifference(expected)
                XCTAssertLessThanOrEqual(err, 1e-5, "\(name) threads \(threads)")
                worst = max(worst, err)
            }
        }
        print("RoIAlign vs torchvision: max abs error \(worst)")
    }

    /// A zero-width RoI, one entirely outside the map and one under a pixel: zeros, zeros, and
    /// one bilinear sample per bin.
    func testRoIAlignEdgeRules() {
        // A ramp f(y, x) = x on a 1 x 1 x 4 x 6 map.
        let map = Tensor(shape: [1, 1, 4, 6], scalars: (0..<24).map { Float($0 % 6) })
        let out = RoIAlign.pool(map, rois: [(0, box(2, 1, 2, 3)), (0, box(20, 20, 30, 30)), (0, box(2.25, 1, 2.75, 1.5))],
                                spatialScale: 1, outputSize: 2)
        XCTAssertEqual(Array(out.scalars[0..<8]), [Float](repeating: 0, count: 8))
        // Sub-pixel: bin width 0.25, one sample at start + 0.125 + p * 0.25 with start 2.25 - 0.5.
        XCTAssertEqual(Array(out.scalars[8..<12]), [1.875, 2.125, 1.875, 2.125])
        // Samples beyond the far edge (x in (W - 1, W]) take column W - 1; past W they are 0.
        let edge = RoIAlign.pool(map, rois: [(0, box(5.6, 0, 6.4, 4))], spatialScale: 1, outputSize: 1)
        XCTAssertEqual(edge.scalars, [5])
        let past = RoIAlign.pool(map, rois: [(0, box(6.6, 0, 7.4, 4))], spatialScale: 1, outputSize: 1)
        XCTAssertEqual(past.scalars, [0])
    }

    /// A box larger than the sample cap still averages uniformly over each bin: on f = x the
    /// result is the bin's centre (bilinear is exact on a linear map).
    func testRoIAlignCapsSamplesOnHugeBoxes() {
        let (h, w) = (8, 1200)
        let map = Tensor(shape: [1, 1, h, w], scalars: (0..<(h * w)).map { Float($0 % w) })
        let roi = box(100.5, 1, 1090.5, 7)  // 990 pixels: ceil(990 / 7) = 142 samples per bin, capped to 64
        XCTAssertEqual(RoIAlign.adaptiveGrid(990, 7), RoIAlign.maxSamplesPerBin)
        let out = RoIAlign.pool(map, rois: [(0, roi)], spatialScale: 1, outputSize: 7)
        let bin: Float = 990 / 7
        for pw in 0..<7 {
            let centre = 100 + (Float(pw) + 0.5) * bin
            for ph in 0..<7 { XCTAssertEqual(out[0, 0, ph, pw], centre, accuracy: 5e-3) }
        }
    }

    func testRoIAlignHostileInputs() {
        let map = Tensor(shape: [2, 3, 5, 6], scalars: (0..<180).map { Float($0) / 10 })
        let nan = Float.nan, inf = Float.infinity
        let hostile: [(batch: Int, box: BoundingBox)] = [
            (0, box(nan, 1, 3, 4)), (1, box(0, 0, inf, 4)), (0, box(-inf, -inf, inf, inf)), (1, box(1, nan, 2, nan)),
            (1, box(-3e38, -3e38, 3e38, 3e38)),  // finite corners, a size that overflows to infinity
        ]
        for aligned in [true, false] {
            let out = RoIAlign.pool(map, rois: hostile, spatialScale: 1, aligned: aligned, threads: 2)
            XCTAssertEqual(out.shape, [hostile.count, 3, 7, 7])
            XCTAssertTrue(out.scalars.allSatisfy { $0 == 0 }, "aligned \(aligned)")
        }
        // Inverted (x2 < x1): mmcv refuses it when aligned, torchvision returns zeros, so do we.
        // (Unaligned, mmcv makes it 1 pixel wide and samples it.)
        let inverted = RoIAlign.pool(map, rois: [(0, box(4, 4, 1, 1))], spatialScale: 1)
        XCTAssertTrue(inverted.scalars.allSatisfy { $0 == 0 })
        XCTAssertTrue(RoIAlign.pool(map, rois: [(0, box(4, 4, 1, 1))], spatialScale: 1, aligned: false).scalars.contains { $0 != 0 })
        // Huge but finite: bounded work, finite output.
        let huge = RoIAlign.pool(map, rois: [(0, box(-1e30, -1e30, 1e30, 1e30)), (1, box(-1e6, -2e6, 3e6, 1e6))], spatialScale: 0.25)
        XCTAssertTrue(huge.scalars.allSatisfy(\.isFinite))
        // No RoIs: an empty (0, C, 7, 7) tensor.
        XCTAssertEqual(RoIAlign.pool(map, rois: [], spatialScale: 0.25).shape, [0, 3, 7, 7])
        // A map without rows or columns: zeros of the right shape (documented choice).
        let empty = RoIAlign.pool(Tensor(zeros: [1, 4, 0, 9]), rois: [(0, box(0, 0, 4, 4))], spatialScale: 1)
        XCTAssertEqual(empty.shape, [1, 4, 7, 7])
        XCTAssertTrue(empty.scalars.allSatisfy { $0 == 0 })
    }

    // MARK: RoI levels

    func testRoILevelsMatchMMDet() throws {
        let f = try XCTUnwrap(try fixture()["roi_levels"] as? [String: Any])
        let rois = boxes(f["boxes"])
        let expected = (f["levels"] as! [Any]).map { ($0 as! NSNumber).intValue }
        XCTAssertEqual(rois.count, expected.count)
        XCTAssertEqual(RoIAlign.levels(rois, finestScale: (f["finest_scale"] as! NSNumber).floatValue,
                                       levels: (f["num_levels"] as! NSNumber).intValue), expected)
    }

    func testRoILevelsHostile() {
        let nan = Float.nan, inf = Float.infinity
        XCTAssertEqual(RoIAlign.levels([box(nan, 0, 1, 1), box(0, 0, inf, inf), box(5, 5, 1, 9), box(0, 0, 0, 0), box(5, 5, 1, 1)]),
                       [0, 3, 0, 0, 0])
        XCTAssertEqual(RoIAlign.levels([]), [])
    }

    // MARK: Anchors

    func testAnchorsMatchMMDet() throws {
        let cases = try XCTUnwrap(try fixture()["anchors"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 7)
        var worst: Float = 0
        for c in cases {
            let int = { (key: String) in (c[key] as! NSNumber).intValue }
            let expected = boxes(c["anchors"])
            let got = Anchors.grid(stride: int("stride"), height: int("height"), width: int("width"),
                                   ratios: floats(c["ratios"]), scales: floats(c["scales"]), baseSize: int("base_size"),
                                   centerOffset: (c["center_offset"] as! NSNumber).floatValue)
            XCTAssertEqual(got.count, expected.count, c["name"] as! String)
            for (a, b) in zip(got, expected) {
                worst = max(worst, abs(a.x1 - b.x1), abs(a.y1 - b.y1), abs(a.x2 - b.x2), abs(a.y2 - b.y2))
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-4)
        print("anchors vs mmdet: max abs error \(worst)")
    }

    /// Faster R-CNN's first anchors at stride 4: ratio 0.5 is wide (w = 32 / sqrt(0.5)).
    func testAnchorOrder() {
        let a = Anchors.grid(stride: 4, height: 2, width: 2, ratios: [0.5, 1, 2], scales: [8], baseSize: 4)
        XCTAssertEqual(a.count, 12)
        XCTAssertEqual(a[1], box(-16, -16, 16, 16))
        XCTAssertEqual(a[0].width, 32 / Float(0.5).squareRoot(), accuracy: 1e-4)
        XCTAssertEqual(a[3].x1, -22.627417 + 4, accuracy: 1e-5)  // cell (x 1, y 0), ratio 0.5
        XCTAssertEqual(a[3].y2, 11.313708, accuracy: 1e-5)
        XCTAssertEqual(a[7], box(-16, -12, 16, 20))                             // cell (x 0, y 1)
    }

    // MARK: Deltas

    func testDeltaDecodeMatchesMMDet() throws {
        let cases = try XCTUnwrap(try fixture()["delta2bbox"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 7)
        var worst: Float = 0
        var zeroWidth = 0
        for c in cases {
            let name = c["name"] as! String
            let deltas = (c["deltas"] as! [Any]).map { let v = floats($0); return (v[0], v[1], v[2], v[3]) }
            let shape = (c["max_shape"] as? [Any])?.map { ($0 as! NSNumber).intValue }
            let got = DeltaCoder.decode(boxes(c["proposals"]), deltas: deltas, means: floats(c["means"]), stds: floats(c["stds"]),
                                        maxShape: shape.map { (height: $0[0], width: $0[1]) })
            let expected = boxes(c["boxes"])
            XCTAssertEqual(got.count, expected.count, name)
            for (a, b) in zip(got, expected) {
                for (x, y) in [(a.x1, b.x1), (a.y1, b.y1), (a.x2, b.x2), (a.y2, b.y2)] {
                    let err = abs(x - y) / max(1, abs(y))
                    XCTAssertLessThanOrEqual(err, 1e-4, "\(name): \(a) vs \(b)")
                    worst = max(worst, err)
                }
                if b.width == 0 || b.height == 0 { zeroWidth += 1 }
            }
        }
        XCTAssertGreaterThanOrEqual(zeroWidth, 2)  // the fixture covers boxes clipped to nothing
        print("delta2bbox vs mmdet: max relative error \(worst)")
    }

    func testDeltaDecodeClampsAndHostile() {
        // dw = 10 is clamped to log(1000 / 16): a 10-pixel box grows to 625 pixels, not 220000.
        let p = [box(0, 0, 10, 10)]
        let wide = DeltaCoder.decode(p, deltas: [(0, 0, 10, -10)], maxShape: nil)[0]
        XCTAssertEqual(wide.width, 625, accuracy: 1e-2)
        XCTAssertEqual(wide.height, 0.16, accuracy: 1e-5)
        XCTAssertEqual(DeltaCoder.decode([], deltas: [], maxShape: (10, 10)), [])
        let bad = DeltaCoder.decode([box(0, 0, 10, 10), box(0, 0, 10, 10)], deltas: [(.nan, 0, 0, 0), (0, 0, .infinity, -.infinity)],
                                    maxShape: (height: 100, width: 100))
        XCTAssertTrue(bad[0].x1.isNaN && bad[0].x2.isNaN)
        XCTAssertEqual(bad[0].y1, 0)
        // dw = +inf is clamped (x2 = 5 + 312.5, then clipped to the width), dh = -inf too.
        XCTAssertEqual(bad[1].x1, 0)
        XCTAssertEqual(bad[1].x2, 100)
        XCTAssertEqual(bad[1].height, 0.16, accuracy: 1e-5)
    }
}
