import XCTest
import DNN
import HRNet
import TestSupport
@testable import Detection

/// The detector graphs: keys, parameter counts against mmdetection's, and the compiled plan
/// against the plain reference kernels on a tiny model.
final class DetectorModelTests: XCTestCase {
    /// A tiny FCOS-HRNetV2p: 2-channel-wide branches, 16-channel neck and head, GN of 4 groups.
    static func tinySpec() -> DetectorSpec {
        let stages = [(1, 2), (1, 3), (1, 4)].map { modules, branches in
            StageSpec(modules: modules, branches: branches, block: .basic, blocks: Array(repeating: 1, count: branches),
                      channels: Array([2, 4, 6, 8].prefix(branches)))
        }
        return DetectorSpec(stage1: StageSpec(modules: 1, branches: 1, block: .bottleneck, blocks: [1], channels: [4]), stages: stages,
                            neck: HRFPNSpec(inChannels: [2, 4, 6, 8], outChannels: 16, levels: 5, stride: 2),
                            head: .fcos(FCOSHeadSpec(classes: 3, inChannels: 16, featureChannels: 16, stackedConvs: 2, normGroups: 4)),
                            preprocessing: DetectionPreprocessing(mean: [0, 0, 0], std: [1, 1, 1], rgb: true))
    }

    /// Parameter counts of mmdetection 3.3.0's FCOS-HRNetV2p (DETECTION.md: W18 17.50M,
    /// W32 37.30M, W40 53.54M; 1877 state-dict entries with the BN statistics and counters).
    func testPresetsHaveMMDetectionsSizes() throws {
        for (name, millions) in [("fcos_hrnetv2p_w18", 17.50), ("fcos_hrnetv2p_w32", 37.30), ("fcos_hrnetv2p_w40", 53.54)] {
            let model = DetectorModel(spec: try DetectorPresets.spec(named: name))
            XCTAssertEqual(Double(model.parameterCount) / 1e6, millions, accuracy: 0.005, name)
            let bnCount = model.graph.parameters.filter { $0.key.hasSuffix(".running_mean") }.count
            // + one num_batches_tracked per BN in the state dict
            XCTAssertEqual(model.graph.parameters.count + bnCount, 1877, name)
        }
        // Faster R-CNN: 27.48M / 47.28M / 63.53M and 1856 entries.
        for (name, millions) in [("faster_rcnn_hrnetv2p_w18", 27.48), ("faster-rcnn_hrnetv2p-w32", 47.28), ("faster_rcnn_hrnetv2p_w40", 63.53)] {
            let model = DetectorModel(spec: try DetectorPresets.spec(named: name))
            XCTAssertEqual(Double(model.parameterCount) / 1e6, millions, accuracy: 0.005, name)
            let parameters = model.graph.parameters + model.boxHead!.parameters
            XCTAssertEqual(parameters.count + parameters.filter { $0.key.hasSuffix(".running_mean") }.count, 1856, name)
        }
        XCTAssertThrowsError(try DetectorPresets.spec(named: "fcos_hrnetv2p_w64"))
    }

    /// Keys as mmdetection names them, and the head's weights shared by the five levels.
    func testKeys() {
        let keys = Set(DetectorModel(spec: Self.tinySpec()).graph.parameters.map(\.key))
        for key in ["backbone.conv1.weight", "backbone.stage4.0.fuse_layers.0.3.1.running_var", "neck.reduction_conv.conv.bias",
                    "neck.fpn_convs.4.conv.weight", "bbox_head.cls_convs.1.gn.weight", "bbox_head.reg_convs.0.conv.weight",
                    "bbox_head.conv_centerness.bias", "bbox_head.scales.4.scale"] {
            XCTAssertTrue(keys.contains(key), key)
        }
        XCTAssertFalse(keys.contains("bbox_head.cls_convs.0.conv.bias"), "tower convs before GN have no bias")
        XCTAssertFalse(keys.contains("bbox_head.scales.5.scale"))
    }

    /// The whole detector network (backbone with four outputs, HRFPN, shared FCOS head on five
    /// levels, GN, scale and exp) compiled by the engine against the reference kernels; fp32
    /// sums of a few hundred terms: 1e-4 relative to each output's range.
    func testPlanMatchesReference() throws {
        let model = DetectorModel(spec: Self.tinySpec())
        let params = model.graph.randomParameters(seed: 3)
        let x = randomTensor([1, 3, 64, 96], seed: 4)
        let expected = try model.graph.referenceForward(parameters: params, input: x)
        let got = try Plan(graph: model.graph, parameters: params, input: Shape4(1, 3, 64, 96), threads: 2).run(x)
        XCTAssertEqual(got.count, 15)
        // Levels at strides 8..128 of a 64x96 input: 8x12, 4x6, 2x3, 1x2, 1x1.
        XCTAssertEqual(got.map { $0.shape[2] * 1000 + $0.shape[3] }.enumerated().filter { $0.offset % 3 == 0 }.map(\.element),
                       [8012, 4006, 2003, 1002, 1001])
        for (k, (g, e)) in zip(got, expected).enumerated() {
            XCTAssertEqual(g.shape, e.shape)
            let range = max(e.scalars.map(abs).max() ?? 0, 1)
            XCTAssertLessThanOrEqual(g.maxAbsDifference(e), 1e-4 * range, "output \(k)")
        }
    }
}
