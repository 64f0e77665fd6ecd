import XCTest
import TestSupport
@testable import Detection

/// mmdetection's own HRNet configs (their `_base_` chains) and the merged texts checkpoints carry
/// read into the same models as the presets; what cannot be run is refused by name.
final class DetectorConfigTests: XCTestCase {
    func config(_ path: String) -> URL { Fixtures.url("detection/configs/\(path)") }

    /// The 3.x config files, their mmengine pretty_text (a 3.x checkpoint's meta.cfg) and mmdet
    /// 2.x's pretty_text (a zoo checkpoint's meta.config: Normalize/Pad in the test pipeline).
    func testZooConfigsGiveThePresets() throws {
        let fcos = try DetectorPresets.spec(named: "fcos_hrnetv2p_w32")
        XCTAssertEqual(try DetectorConfig.load(config("hrnet/fcos_hrnetv2p-w32-gn-head_4xb4-1x_coco.py")), fcos)
        for name in ["fcos_hrnetv2p-w32-gn-head_4xb4-1x_coco.py", "mmdet2_fcos_hrnetv2p_w32_gn-head_4x4_1x_coco.py"] {
            let text = try String(contentsOf: config("pretty_text/\(name)"), encoding: .utf8)
            XCTAssertEqual(try DetectorConfig.parse(text, source: name), fcos, name)
        }
        let faster = try DetectorPresets.spec(named: "faster_rcnn_hrnetv2p_w32")
        XCTAssertEqual(try DetectorConfig.load(config("hrnet/faster-rcnn_hrnetv2p-w32-1x_coco.py")), faster)
        let text = try String(contentsOf: config("pretty_text/faster-rcnn_hrnetv2p-w32-1x_coco.py"), encoding: .utf8)
        XCTAssertEqual(try DetectorConfig.parse(text, source: "faster"), faster)
        // What the presets hold, spelled out (mmdet's configs and class defaults).
        guard case .fcos(let head) = fcos.head, case .fasterRCNN(let rcnn) = faster.head else { return XCTFail() }
        XCTAssertEqual(head.normGroups, 32)
        XCTAssertEqual(head.test.scoreThreshold, 0.05)
        XCTAssertFalse(fcos.preprocessing.rgb)
        XCTAssertTrue(faster.preprocessing.rgb)
        XCTAssertTrue(fcos.preprocessing.scale == (1333, 800))
        XCTAssertEqual(fcos.neck.stride, 2)
        XCTAssertEqual(faster.neck.stride, 1)
        XCTAssertEqual(rcnn.finestScale, 56)
        XCTAssertEqual(rcnn.rpnTest.nms.iouThreshold, 0.7)
    }

    /// A model this package cannot run is refused naming the key and what it found.
    func testUnsupportedPartsAreNamed() throws {
        let base = try String(contentsOf: config("pretty_text/fcos_hrnetv2p-w32-gn-head_4xb4-1x_coco.py"), encoding: .utf8)
        let cases: [(String, String, String)] = [
            ("type='FCOSHead'", "type='RetinaHead'", "model.bbox_head.type: head 'RetinaHead' is not supported"),
            ("type='HRFPN'", "type='FPN'", "model.neck.type: neck 'FPN' is not supported"),
            ("type='HRNet'", "type='ResNet'", "model.backbone.type: backbone 'ResNet' is not supported"),
            ("type='FCOS'", "type='YOLOX'", "model.type: 'YOLOX' is not supported"),
            ("feat_channels=256", "feat_channels=250", "norm_cfg.num_groups: 32 groups do not divide feat_channels 250"),
            ("feat_channels=256", "feat_channels=8192", "parameters, more than 512000000"),
        ]
        for (from, to, message) in cases {
            XCTAssertTrue(base.contains(from), from)
            XCTAssertThrowsError(try DetectorConfig.parse(base.replacingOccurrences(of: from, with: to), source: "x.py")) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error)")
                XCTAssertTrue("\(error)".hasPrefix("x.py: "), "\(error)")
            }
        }
        // Code is refused before any of it is read as a model.
        XCTAssertThrowsError(try DetectorConfig.parse("model = dict(type=__import__('os').system('x'))\n", source: "evil.py")) { error in
            XCTAssertTrue("\(error)".contains("evil.py:1"), "\(error)")
        }
    }
}
