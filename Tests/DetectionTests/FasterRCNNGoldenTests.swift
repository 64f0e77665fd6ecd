import XCTest
import DNN
import Imaging
import TestSupport
@testable import Detection

/// A tiny Faster R-CNN-HRNetV2p with random weights, run by mmdetection 3.3.0's own code
/// (`make_detection_fixtures.py`; mmcv's NMS and RoIAlign replaced by torchvision's, checked
/// there against mmcv's kernels; its RoI extractor uses finest_scale 8 so that the tiny
/// input's RoIs reach all four levels): RPN outputs, proposals, box-head outputs, detections.
final class FasterRCNNGoldenTests: XCTestCase {
    static let photos = ["person", "photo", "odd"]

    func spec() throws -> DetectorSpec { try DetectorConfig.load(Fixtures.url("detection/tiny_faster_rcnn_hrnet.py")) }

    func golden(_ photo: String) throws -> (tensors: [String: Tensor], json: [String: Any]) {
        let tensors = try SafeTensors.read(Fixtures.url("detection/faster_rcnn_\(photo).safetensors")).tensors.mapValues { $0.floatTensor() }
        let data = try Data(contentsOf: Fixtures.url("detection/faster_rcnn_\(photo).json"))
        return (tensors, try JSONSerialization.jsonObject(with: data) as! [String: Any])
    }

    /// (C, H, W) -> (H, W, C).
    static func channelsLast(_ t: Tensor) -> Tensor {
        let (c, h, w) = (t.shape[0], t.shape[1], t.shape[2])
        var out = [Float](repeating: 0, count: t.count)
        for ch in 0..<c { for p in 0..<(h * w) { out[p * c + ch] = t.scalars[ch * h * w + p] } }
        return Tensor(shape: [h, w, c], scalars: out)
    }

    /// RoIAlign on channels-last features gives exactly what it gives on NCHW ones.
    func testChannelsLastPooling() throws {
        guard case .fasterRCNN(let head) = try spec().head else { return XCTFail() }
        let (g, _) = try golden("person")
        let nchw = (0..<4).map { g["neck.\($0)"]! }
        let boxes = g["proposals.bboxes"]!
        let rois = (0..<boxes.shape[0]).map { k in
            (batch: 0, box: BoundingBox(x1: boxes.scalars[4 * k], y1: boxes.scalars[4 * k + 1], x2: boxes.scalars[4 * k + 2], y2: boxes.scalars[4 * k + 3]))
        }
        let a = FasterRCNNDecoder.pool(features: nchw.map { Tensor(shape: [1] + $0.shape, scalars: $0.scalars) }, rois: rois, spec: head, threads: 2)
        let b = FasterRCNNDecoder.pool(features: nchw.map { Self.channelsLast($0) }.map { Tensor(shape: [1] + $0.shape, scalars: $0.scalars) },
                                       rois: rois, spec: head, threads: 2, paddedTo: 320, channelsLast: true)
        XCTAssertEqual(b.shape[0], 320)
        XCTAssertEqual(Array(b.scalars.prefix(a.count)), a.scalars)
        XCTAssertTrue(b.scalars.dropFirst(a.count).allSatisfy { $0 == 0 })
    }

    func testConfig() throws {
        guard case .fasterRCNN(let s) = try spec().head else { return XCTFail("not a Faster R-CNN") }
        XCTAssertEqual(s.finestScale, 8)
        XCTAssertEqual(s.anchorStrides, [4, 8, 16, 32, 64])
        XCTAssertEqual(s.boxStds, [0.1, 0.1, 0.2, 0.2])
        XCTAssertEqual(s.rpnTest.nms.iouThreshold, 0.7)
        XCTAssertEqual(s.rcnnTest.maxPerImage, 100)
        XCTAssertEqual(s.fcChannels, 64)
        XCTAssertTrue(try spec().preprocessing.rgb)
    }

    /// Neck levels and the RPN's logits and deltas on mmdet's input (1e-4 of each output's
    /// range), then the proposals after decoding and per-level NMS: the same boxes (1e-3 px)
    /// and scores (1e-5) in the same order.
    func testRPNMatchesMMDetection() throws {
        let spec = try spec()
        guard case .fasterRCNN(let head) = spec.head else { return XCTFail() }
        let model = DetectorModel(spec: spec)
        let params = try model.bind(try Checkpoint.loadFloat(Fixtures.url("detection/tiny_faster_rcnn.pth")))
        for photo in Self.photos {
            let (g, json) = try golden(photo)
            let input = try NPY.read(Fixtures.url("detection/faster_rcnn_\(photo)_input.npy"))
            let out = try Plan(graph: model.graph, parameters: params, input: Shape4(input.shape)!, threads: 2).run(input)
            let names = (0..<4).map { "neck.\($0)" } + (0..<5).flatMap { ["rpn_cls.\($0)", "rpn_reg.\($0)"] }
            for (k, (name, t)) in zip(names, out).enumerated() {
                var e = try XCTUnwrap(g[name], name)
                if k < 4 {
                    // The RoI features come channels-last, (1, H, W, C).
                    XCTAssertEqual(t.shape, [1, e.shape[1], e.shape[2], e.shape[0]], name)
                    e = Self.channelsLast(e)
                }
                XCTAssertLessThanOrEqual(t.maxAbsDifference(Tensor(shape: t.shape, scalars: e.scalars)),
                                         1e-4 * max(1, e.scalars.map(abs).max()!), "\(photo) \(name)")
            }
            let shape = json["img_shape"] as! [Int]
            let geometry = ImageGeometry(originalWidth: (json["ori_shape"] as! [Int])[1], originalHeight: (json["ori_shape"] as! [Int])[0],
                                         width: shape[1], height: shape[0])
            let levels = stride(from: 4, to: out.count, by: 2).map { (out[$0], out[$0 + 1]) }
            let proposals = FasterRCNNDecoder.proposals(levels: levels, image: 0, spec: head, geometry: geometry)
            let boxes = try XCTUnwrap(g["proposals.bboxes"]), scores = try XCTUnwrap(g["proposals.scores"])
            XCTAssertEqual(proposals.count, scores.count, photo)
            for (k, p) in proposals.prefix(scores.count).enumerated() {
                XCTAssertEqual(p.score, scores.scalars[k], accuracy: 1e-5, "\(photo) proposal \(k)")
                for (a, b) in zip([p.box.x1, p.box.y1, p.box.x2, p.box.y2], boxes.scalars[(4 * k)..<(4 * k + 4)]) {
                    XCTAssertEqual(a, b, accuracy: 1e-3, "\(photo) proposal \(k)")
                }
            }
        }
    }

    /// RoI pooling and the box head on mmdet's proposals: class logits and deltas of the first
    /// 100 RoIs (1e-4 of their range).
    func testBoxHeadMatchesMMDetection() throws {
        let spec = try spec()
        guard case .fasterRCNN(let head) = spec.head else { return XCTFail() }
        let model = DetectorModel(spec: spec)
        let params = try model.bind(try Checkpoint.loadFloat(Fixtures.url("detection/tiny_faster_rcnn.pth")))
        for photo in Self.photos {
            let (g, _) = try golden(photo)
            let features = (0..<4).map { g["neck.\($0)"]! }.map { Tensor(shape: [1] + $0.shape, scalars: $0.scalars) }
            let boxes = g["proposals.bboxes"]!
            let count = min(100, boxes.shape[0])
            let rois = (0..<count).map { k in
                (batch: 0, box: BoundingBox(x1: boxes.scalars[4 * k], y1: boxes.scalars[4 * k + 1], x2: boxes.scalars[4 * k + 2], y2: boxes.scalars[4 * k + 3]))
            }
            let pooled = FasterRCNNDecoder.pool(features: features, rois: rois, spec: head, threads: 2)
            let out = try Plan(graph: model.boxHead!, parameters: params, input: Shape4(pooled.shape)!, threads: 2).run(pooled)
            for (name, t) in zip(["roi_cls_score", "roi_bbox_pred"], out) {
                let e = g[name]!
                let rows = Tensor(shape: [count, e.shape[1]], scalars: Array(e.scalars.prefix(count * e.shape[1])))
                XCTAssertLessThanOrEqual(Tensor(shape: rows.shape, scalars: t.scalars).maxAbsDifference(rows),
                                         1e-4 * max(1, rows.scalars.map(abs).max()!), "\(photo) \(name)")
            }
        }
    }

    /// `inference_detector` from the photo: same labels, scores (1e-4) and boxes (1e-3 px), same order.
    func testDetectionsMatchMMDetection() throws {
        let detector = try Detector.load(weights: Fixtures.url("detection/tiny_faster_rcnn.pth"), options: .init(threads: 2))
        XCTAssertEqual(detector.spec, try spec(), "the checkpoint's meta config gives the same model as the file")
        for photo in Self.photos {
            let (_, json) = try golden(photo)
            let image = try Image.load(FCOSGoldenTests.repository.appendingPathComponent(json["image"] as! String))
            let got = try detector.detect(image)
            let d = json["detections"] as! [String: Any]
            let boxes = d["bboxes"] as! [[Double]], scores = d["scores"] as! [Double], labels = d["labels"] as! [Int]
            XCTAssertEqual(got.count, boxes.count, photo)
            for (k, det) in got.prefix(boxes.count).enumerated() {
                XCTAssertEqual(det.label, labels[k], "\(photo) #\(k)")
                XCTAssertEqual(Double(det.score), scores[k], accuracy: 1e-4, "\(photo) #\(k)")
                for (a, b) in zip([det.box.x1, det.box.y1, det.box.x2, det.box.y2], boxes[k]) {
                    XCTAssertEqual(Double(a), b, accuracy: 1e-3, "\(photo) #\(k)")
                }
            }
        }
    }
}

extension FasterRCNNGoldenTests {
    /// A batch reads each image's own outputs: two images of one size (no extra padding) in one
    /// network run give what each gives alone, for both detectors (RoIs carry their batch index).
    func testBatchOfTwoEqualsSingles() throws {
        let a = try Image.load(Fixtures.url("imaging/person.jpg"))
        var b = a
        b.pixels = b.pixels.reversed()   // another picture of the same size
        for weights in ["detection/tiny_faster_rcnn.pth", "detection/tiny_fcos.pth"] {
            let detector = try Detector.load(weights: Fixtures.url(weights), options: .init(threads: 2))
            let together = try detector.detect([a, b])
            XCTAssertEqual(together.count, 2)
            XCTAssertEqual(together[0], try detector.detect(a), weights)
            XCTAssertEqual(together[1], try detector.detect(b), weights)
            XCTAssertNotEqual(together[0], together[1], "two different pictures")
        }
    }
}
