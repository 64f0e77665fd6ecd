import XCTest
import DNN
import HRNet
import TestSupport

/// The encoder-decoder baselines at their published sizes: parameter counts of MMPose's
/// hourglass52 (COCO, 17 joints) and MMSegmentation's unet-s5-d16 FCN (2 classes with the
/// auxiliary head), counted from their sources (written out in
/// Tests/Fixtures/baselines/README.md), and the shapes every output takes.
final class BaselineArchitectureTests: XCTestCase {
    func config(_ yaml: String) throws -> HRNetConfig { try HRNetConfig.parse(yaml: yaml, source: "test.yaml") }

    func testHourglass52() throws {
        let c = try config("MODEL: {NAME: pose_hourglass, NUM_JOINTS: 17, IMAGE_SIZE: [256, 256], HEATMAP_SIZE: [64, 64]}\nDATASET: {COLOR_RGB: true}\n")
        XCTAssertEqual(c.architecture.hourglass, HourglassSpec())
        let m = HRNetModel(config: c)
        XCTAssertEqual(m.parameterCount, 94_847_889 - 256 * 256 * 9 * 2 - 4 * 256, "MMPose's count less the unused inters.0 block")
        let shapes = try m.graph.inferShapes(input: m.inputShape())
        XCTAssertEqual(m.graph.outputs.map { shapes[$0.id].dims }, [[1, 17, 64, 64]])
        XCTAssertEqual(c.outputIndex, 0)
        // Two stacks: two heatmap sets, the test reads the last.
        let two = try config("MODEL: {NAME: pose_hourglass, NUM_JOINTS: 17, IMAGE_SIZE: [128, 128], EXTRA: {NUM_STACKS: 2}}\n")
        XCTAssertEqual(HRNetModel(config: two).graph.outputs.count, 2)
        XCTAssertEqual(two.outputIndex, 1)
    }

    func testUNetS5D16() throws {
        let c = try config("MODEL: {NAME: seg_unet}\nDATASET: {NUM_CLASSES: 2}\nTRAIN: {IMAGE_SIZE: [64, 64]}\n")
        XCTAssertEqual(c.architecture.unet, UNetSpec())
        if case .segmentation(_, _, let ac, _) = c.architecture.head { XCTAssertFalse(ac, "MMSegmentation resizes with align_corners False") }
        let m = HRNetModel(config: c)
        XCTAssertEqual(m.parameterCount, 29_060_676)
        let shapes = try m.graph.inferShapes(input: Shape4(1, 3, 64, 64))
        XCTAssertEqual(m.graph.outputs.map { shapes[$0.id].dims }, [[1, 2, 32, 32], [1, 2, 64, 64]], "[aux at 1/2, main at full size]")
        XCTAssertEqual(c.outputIndex, 1, "TEST.OUTPUT_INDEX -1: the decode head")
        XCTAssertEqual(try TrainingConfig.parse(yaml: "MODEL: {NAME: seg_unet}", source: "t.yaml").segmentation.balanceWeights, [0.4, 1])
    }

    /// Sizes the encoder-decoders cannot take: one clear error before anything is built.
    func testInputSidesMustDivide() throws {
        let unet = HRNetModel(config: try config("MODEL: {NAME: seg_unet}\nDATASET: {NUM_CLASSES: 2}\n"))
        XCTAssertThrowsError(try unet.graph.inferShapes(input: Shape4(1, 3, 30, 48))) {
            XCTAssertTrue("\($0)".contains("1x3x30x48") && "\($0)".contains("multiples of 16"), "\($0)")
        }
        XCTAssertNoThrow(try unet.graph.inferShapes(input: Shape4(1, 3, 32, 48)))
        let hourglass = HRNetModel(config: try config("MODEL: {NAME: pose_hourglass, NUM_JOINTS: 17, IMAGE_SIZE: [256, 256]}\n"))
        XCTAssertThrowsError(try hourglass.graph.inferShapes(input: Shape4(1, 3, 256, 192))) { XCTAssertTrue("\($0)".contains("multiples of 128"), "\($0)") }
    }

    func testBadConfigsNameTheKey() {
        func refused(_ yaml: String, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try config(yaml), file: file, line: line) { XCTAssertTrue("\($0)".contains(needle), "\($0)", file: file, line: line) }
        }
        refused("MODEL: {NAME: pose_hourglass, NUM_JOINTS: 17, IMAGE_SIZE: [192, 256]}\n", "multiples of 128")
        refused("MODEL: {NAME: pose_hourglass, NUM_JOINTS: 17, IMAGE_SIZE: [256, 256], EXTRA: {STAGE_BLOCKS: [2, 2]}}\n", "MODEL.EXTRA.STAGE_BLOCKS")
        refused("MODEL: {NAME: pose_hourglass, NUM_JOINTS: 17, IMAGE_SIZE: [256, 256], EXTRA: {DOWNSAMPLE_TIMES: 6}}\n", "MODEL.EXTRA.STAGE_CHANNELS")
        refused("MODEL: {NAME: seg_unet, EXTRA: {ENC_NUM_CONVS: [2, 2, 2], DEC_NUM_CONVS: [2, 2, 2]}}\nDATASET: {NUM_CLASSES: 2}\n", "MODEL.EXTRA.DEC_NUM_CONVS")
        refused("MODEL: {NAME: seg_unet, NUM_OUTPUTS: 1}\nDATASET: {NUM_CLASSES: 2}\n", "MODEL.NUM_OUTPUTS")
    }
}
