import XCTest
@testable import Detection
import Imaging

/// NMS as mmcv computes it, on hand-made boxes whose IoUs are known exactly.
final class NMSTests: XCTestCase {
    func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox { BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2) }

    func testIoU() {
        XCTAssertEqual(box(0, 0, 10, 10).iou(box(0, 0, 10, 10)), 1)
        XCTAssertEqual(box(0, 0, 10, 10).iou(box(5, 0, 15, 10)), 50 / 150)
        XCTAssertEqual(box(0, 0, 10, 10).iou(box(20, 20, 30, 30)), 0)
        // Touching edges overlap by zero (no +1 pixel widths, as mmdet 2+).
        XCTAssertEqual(box(0, 0, 10, 10).iou(box(10, 0, 20, 10)), 0)
    }

    /// Suppression is strict: an IoU equal to the threshold survives, just above it does not.
    func testThresholdIsStrict() {
        // IoU exactly 0.5: [0,10] vs [0,10]x... widths chosen so inter = 2/3 of each area -> 0.5.
        let a = box(0, 0, 30, 10), b = box(10, 0, 40, 10)  // inter 200, union 400
        XCTAssertEqual(a.iou(b), 0.5)
        XCTAssertEqual(NMS.suppress([a, b], scores: [0.9, 0.8], iouThreshold: 0.5), [0, 1])
        let c = box(9, 0, 39, 10)  // inter 210, union 390: 0.538
        XCTAssertEqual(NMS.suppress([a, c], scores: [0.9, 0.8], iouThreshold: 0.5), [0])
    }

    /// Kept boxes come best first; a box suppressed by a better one no longer suppresses others
    /// (the chain a > b > c where a and c do not overlap keeps a and c).
    func testGreedyOrder() {
        let a = box(0, 0, 10, 10), b = box(4, 0, 14, 10), c = box(8, 0, 18, 10)
        XCTAssertEqual(NMS.suppress([c, b, a], scores: [0.5, 0.7, 0.9], iouThreshold: 0.3), [2, 0])
    }

    /// Equal scores keep input order (mmcv's sort is unstable there; ours is reproducible).
    func testTiesKeepInputOrder() {
        let boxes = [box(0, 0, 10, 10), box(1, 0, 11, 10), box(50, 50, 60, 60), box(80, 0, 90, 10)]
        XCTAssertEqual(NMS.suppress(boxes, scores: [0.6, 0.6, 0.6, 0.9], iouThreshold: 0.5), [3, 0, 2])
    }

    /// Boxes of different classes never suppress each other; within a class they do.
    func testBatchedIsClassAware() {
        let boxes = [box(0, 0, 10, 10), box(1, 1, 10, 10), box(0, 0, 10, 10), box(100, 100, 200, 200)]
        let kept = NMS.batched(boxes, scores: [0.9, 0.8, 0.7, 0.6], labels: [0, 0, 1, 1], config: NMSConfig(iouThreshold: 0.5))
        XCTAssertEqual(kept, [0, 2, 3])
        let agnostic = NMS.batched(boxes, scores: [0.9, 0.8, 0.7, 0.6], labels: [0, 0, 1, 1],
                                   config: NMSConfig(iouThreshold: 0.5, classAgnostic: true))
        XCTAssertEqual(agnostic, [0, 3])
        XCTAssertEqual(NMS.batched([], scores: [], labels: [], config: NMSConfig()), [])
    }

    /// mmcv's resize rule: factor min(1333 / long side, 800 / short side), sides rounded half up.
    /// 511x384 -> 1065x800 and its scale factors were measured with mmdet 3.3.0 (DETECTION.md).
    func testResizedSize() {
        let p = DetectionPreprocessing(mean: [0, 0, 0], std: [1, 1, 1], rgb: true)
        XCTAssertTrue(p.resizedSize(width: 511, height: 384) == (1065, 800))
        let g = ImageGeometry(originalWidth: 511, originalHeight: 384, width: 1065, height: 800)
        XCTAssertEqual(g.scaleX, 2.0841487279843443)
        XCTAssertEqual(g.scaleY, 2.0833333333333335)
        XCTAssertTrue(p.resizedSize(width: 640, height: 480) == (1067, 800))  // 800/480 binds: 1066.67 -> 1067
        XCTAssertTrue(p.resizedSize(width: 2000, height: 500) == (1333, 333))  // 1333/2000 binds: 333.25 -> 333
        XCTAssertTrue(p.resizedSize(width: 480, height: 640) == (800, 1067))  // portrait: the same sides swapped
        var stretch = p
        stretch.keepRatio = false
        XCTAssertTrue(stretch.resizedSize(width: 10, height: 10) == (1333, 800))
    }

    /// Normalization then zero padding: padded pixels are 0 (the mean colour), real ones
    /// (x - mean) / std in the network's channel order.
    func testInputNormalizesThenPads() throws {
        let image = try Image(width: 2, height: 1, pixels: [10, 20, 30, 40, 50, 60])
        let p = DetectionPreprocessing(mean: [1, 2, 3], std: [2, 4, 8], rgb: false, scale: (2, 1), padDivisor: 4)
        let (batch, geometry) = try p.input([image])
        XCTAssertEqual(batch.shape, [1, 3, 4, 4])
        XCTAssertEqual(geometry[0].width, 2)
        // BGR order: channel 0 reads blue.
        XCTAssertEqual(batch.scalars[0], (30 - 1) / 2)
        XCTAssertEqual(batch.scalars[1], (60 - 1) / 2)
        XCTAssertEqual(batch.scalars[2], 0)
        XCTAssertEqual(batch.scalars[16], (20 - 2) / 4)
        XCTAssertEqual(batch.scalars[32 + 1], (40 - 3) / 8)
        XCTAssertEqual(batch.scalars.filter { $0 != 0 }.count, 6)
    }

    /// A config whose resize scale makes a huge input is refused before resizing or allocating.
    func testHugeInputIsRefused() throws {
        let image = try Image(width: 2, height: 1, pixels: [10, 20, 30, 40, 50, 60])
        let p = DetectionPreprocessing(mean: [0, 0, 0], std: [1, 1, 1], rgb: true, scale: (16384, 16384))
        XCTAssertThrowsError(try p.input([image])) { error in
            XCTAssertTrue("\(error)".contains("16384") && "\(error)".contains("smaller scale"), "\(error)")
        }
    }
}
