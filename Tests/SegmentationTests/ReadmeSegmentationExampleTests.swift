import XCTest
import HRNet
import Imaging
import Segmentation
import TestSupport

/// README.md's segmentation example, as written there, on the tiny seg model and a synthetic
/// data set, so the README cannot rot.
final class ReadmeSegmentationExampleTests: XCTestCase {
    func testReadmeExample() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-readme-seg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SyntheticSegmentation.write(to: dir.appendingPathComponent("cityscapes"), splits: [("val", 2)], width: 96, height: 64,
                                        classes: 4, seed: 1)
        let photo = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cityscapes/images/val").path).sorted()[0]
        try FileManager.default.copyItem(at: dir.appendingPathComponent("cityscapes/images/val/\(photo)"),
                                         to: dir.appendingPathComponent("frankfurt.png"))
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(dir.path)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }

        // The README's lines (the tiny model instead of the W48 preset and its checkpoint):
        let model = HRNetModel(config: try HRNetConfig.load(Fixtures.url("hrnet/tiny_seg.yaml")))
        let (weights, _) = try model.loadWeights(Fixtures.url("hrnet/tiny_seg_legacy.pth"))
        let segmenter = try Segmenter(model: model, parameters: weights, threads: 2)   // options from the config's TEST section
        let prediction = try segmenter.segment(try Image.load(URL(fileURLWithPath: "frankfurt.png")))
        try prediction.labels.writePNG(to: URL(fileURLWithPath: "labels.png"))           // train ids
        let data = try SegmentationDataset.open(URL(fileURLWithPath: "cityscapes"), split: "val")
        let sample = try data.sample(at: 0)                                               // image + train-id label map
        // HRNet-OCR: the same calls; the segmenter reads the output TEST.OUTPUT_INDEX names (the main head).
        let ocr = HRNetModel(config: try Presets.config(named: "ocr_w48_cityscapes"))
        XCTAssertEqual(ocr.graph.outputs.count, 2)
        XCTAssertEqual(ocr.config.outputIndex, 1)
        XCTAssertEqual(ocr.parameterCount, 70_372_678, "HRNetV2-W48 + OCR: 70.3 M parameters (the OCR paper's count)")

        XCTAssertEqual(prediction.labels.width, 96)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("labels.png").path))
        XCTAssertEqual(sample.image.width, 96)
        XCTAssertEqual(data.count, 2)
    }
}
