import XCTest
import DNN
import Imaging
import TestSupport
@testable import Detection

/// A tiny FCOS-HRNetV2p with random weights, run by mmdetection 3.3.0's own code
/// (`Tests/Fixtures/detection/make_detection_fixtures.py`; mmcv's compiled NMS replaced by
/// torchvision's, which agrees with it but on exact score ties, which the fixtures avoid):
/// the network's outputs on mmdet's preprocessed input, then the whole test pipeline from
/// the photo to the final boxes.
final class FCOSGoldenTests: XCTestCase {
    static let folder = "detection"
    static let photos = ["person", "photo", "odd"]

    struct Case {
        let json: [String: Any]
        var imagePath: String { json["image"] as! String }
        var detections: [String: Any] { json["detections"] as! [String: Any] }
    }

    static func fixture(_ name: String) throws -> Case {
        let data = try Data(contentsOf: Fixtures.url("detection/\(name).json"))
        return Case(json: try JSONSerialization.jsonObject(with: data) as! [String: Any])
    }

    /// The repository root (fixture JSON names images relative to it).
    static let repository = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()

    func spec() throws -> DetectorSpec { try DetectorConfig.load(Fixtures.url("detection/tiny_fcos_hrnet.py")) }

    func weights() throws -> [String: Tensor] { try Checkpoint.loadFloat(Fixtures.url("detection/tiny_fcos.pth")) }

    /// Backbone streams, HRFPN levels and the head's outputs (logits, distances after scale and
    /// exp, centerness) on mmdet's own preprocessed input. Tolerance: 1e-4 of each output's
    /// largest magnitude (at least 1): fp32 sums in another order through ~40 layers.
    func testNetworkOutputsMatchMMDetection() throws {
        let spec = try spec(), tensors = try weights()
        for photo in Self.photos {
            let golden = try SafeTensors.read(Fixtures.url("detection/fcos_\(photo).safetensors")).tensors.mapValues { $0.floatTensor() }
            let input = try NPY.read(Fixtures.url("detection/fcos_\(photo)_input.npy"))
            for output in [DetectorModel.Output.backbone, .neck, .head] {
                let model = DetectorModel(spec: spec, output: output)
                let plan = try Plan(graph: model.graph, parameters: try model.bind(tensors), input: Shape4(input.shape)!, threads: 2)
                let got = try plan.run(input)
                let names: [String] = switch output {
                case .backbone: (0..<4).map { "backbone.\($0)" }
                case .neck: (0..<5).map { "neck.\($0)" }
                case .head: (0..<5).flatMap { ["cls_score.\($0)", "bbox_pred.\($0)", "centerness.\($0)"] }
                }
                XCTAssertEqual(got.count, names.count)
                for (name, g) in zip(names, got) {
                    let e = try XCTUnwrap(golden[name], name)
                    XCTAssertEqual(Array(g.shape.dropFirst()), e.shape, "\(photo) \(name)")
                    let bound = 1e-4 * max(1, e.scalars.map(abs).max() ?? 0)
                    XCTAssertLessThanOrEqual(g.maxAbsDifference(Tensor(shape: g.shape, scalars: e.scalars)), bound, "\(photo) \(name)")
                }
            }
        }
    }

    /// mmdet's resize (mmcv rounding, cv2 bilinear), channel order, normalization and zero
    /// padding. PNG decodes exactly, so the input matches to float rounding (1e-5); JPEG
    /// decoders (libjpeg-turbo here, OpenCV's build there) may differ by a level in a few
    /// pixels: at most 1/57 after normalization.
    func testPreprocessingMatchesMMDetection() throws {
        let spec = try spec()
        for photo in Self.photos {
            let c = try Self.fixture("fcos_\(photo)")
            let image = try Image.load(Self.repository.appendingPathComponent(c.imagePath))
            let (batch, geometry) = try spec.preprocessing.input([image])
            let expected = try NPY.read(Fixtures.url("detection/fcos_\(photo)_input.npy"))
            XCTAssertEqual(batch.shape, expected.shape, photo)
            let tolerance: Float = c.imagePath.hasSuffix(".png") ? 1e-5 : 1.01 / 57.12
            XCTAssertLessThanOrEqual(batch.maxAbsDifference(expected), tolerance, photo)
            let shape = c.json["img_shape"] as! [Int], scale = c.json["scale_factor"] as! [Double]
            XCTAssertEqual([geometry[0].height, geometry[0].width], shape, photo)
            // new / old size in doubles, as mmdet's Resize; the fixture's odd photo records factors one
            // ulp away (1.4742268041237117 for 143/97 = 1.4742268041237114), so compare to 1e-15.
            XCTAssertEqual(geometry[0].scaleX, scale[0], accuracy: 1e-15 * scale[0], photo)
            XCTAssertEqual(geometry[0].scaleY, scale[1], accuracy: 1e-15 * scale[1], photo)
        }
    }

    /// The final detections of `inference_detector`: the same boxes (1e-3 px: float32
    /// decoding and rescaling of the network's 1e-4-close outputs), labels and scores (1e-4),
    /// in the same order. The fixtures keep every threshold, NMS IoU and score tie at least
    /// 1e-3 away from a decision (their knife_edge_checks).
    func testDetectionsMatchMMDetection() throws {
        let detector = try Detector.load(config: Fixtures.url("detection/tiny_fcos_hrnet.py"),
                                         weights: Fixtures.url("detection/tiny_fcos.pth"), options: .init(threads: 2))
        for photo in Self.photos {
            let c = try Self.fixture("fcos_\(photo)")
            let image = try Image.load(Self.repository.appendingPathComponent(c.imagePath))
            let got = try detector.detect(image)
            let boxes = c.detections["bboxes"] as! [[Double]], scores = c.detections["scores"] as! [Double]
            let labels = c.detections["labels"] as! [Int]
            XCTAssertEqual(got.count, boxes.count, photo)
            XCTAssertGreaterThan(boxes.count, 5, "the fixture should have detections to compare")
            for (k, d) in zip(0..., got) where k < boxes.count {
                XCTAssertEqual(d.label, labels[k], "\(photo) #\(k)")
                XCTAssertEqual(Double(d.score), scores[k], accuracy: 1e-4, "\(photo) #\(k)")
                for (a, b) in zip([d.box.x1, d.box.y1, d.box.x2, d.box.y2], boxes[k]) {
                    XCTAssertEqual(Double(a), b, accuracy: 1e-3, "\(photo) #\(k)")
                }
            }
        }
    }

    /// The legacy .pth and the zip .pth hold the same weights; a checkpoint carrying its config
    /// (meta.config, as mmdet's zoo files) needs no config file; one without says what to give.
    func testCheckpointFormatsAndEmbeddedConfig() throws {
        let zip = try weights(), legacy = try Checkpoint.loadFloat(Fixtures.url("detection/tiny_fcos_legacy.pth"))
        XCTAssertEqual(Set(zip.keys), Set(legacy.keys))
        for (k, v) in zip { XCTAssertEqual(legacy[k], v, k) }
        XCTAssertEqual(zip["bbox_head.scales.2.scale"]?.shape, [])

        let fromMeta = try Detector.load(weights: Fixtures.url("detection/tiny_fcos.pth"))
        XCTAssertEqual(fromMeta.spec, try spec())
        let meta = try Checkpoint.loadWithMetadata(Fixtures.url("detection/tiny_fcos.pth")).metadata
        XCTAssertEqual(meta.classes?.count, 80)
        XCTAssertEqual(meta.classes?.first, "person")
        XCTAssertNotNil(meta.strings["config"])
        XCTAssertThrowsError(try Detector.load(weights: Fixtures.url("detection/tiny_fcos_nometa.pth"))) { error in
            XCTAssertTrue("\(error)".contains("carries no config"), "\(error)")
        }
    }

    /// mmengine's training checkpoint (mmdet 3.x): config in `meta.cfg`, classes in
    /// `meta.dataset_meta`, and a message hub of numpy-backed HistoryBuffers, optimizer state and
    /// schedulers beside the weights, passed over without being built. Same model, same boxes.
    func testMMEngineCheckpoint() throws {
        let url = Fixtures.url("detection/tiny_fcos_mmengine.pth")
        let meta = try Checkpoint.loadWithMetadata(url).metadata
        XCTAssertEqual(meta.classes?.count, 80)
        XCTAssertNotNil(meta.strings["cfg"])
        let engine = try Detector.load(weights: url), zoo = try Detector.load(weights: Fixtures.url("detection/tiny_fcos.pth"))
        XCTAssertEqual(engine.spec, zoo.spec)
        let image = try Image.load(Fixtures.url("segmentation/photo.png"))
        XCTAssertEqual(try engine.detect(image), try zoo.detect(image))
    }

    /// A checkpoint of another model: every mis-shaped and missing key is named.
    func testWrongCheckpointIsRefusedWithKeys() throws {
        var spec = try spec()
        spec.neck.outChannels = 16
        XCTAssertThrowsError(try Detector(spec: spec, weights: Fixtures.url("detection/tiny_fcos.pth"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("mis-shaped") && text.contains("neck.reduction_conv.conv.weight"), text)
        }
    }
}
