import Foundation
import HRNet
import Imaging
@testable import Segmentation
import TestSupport
import XCTest

/// Data set readers on small layouts written into a temporary directory.
final class DatasetTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("seg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func write(_ relative: String, gray: [UInt8], width: Int, height: Int) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try GrayImage(width: width, height: height, pixels: gray).writePNG(to: url)
    }

    func writeImage(_ relative: String, width: Int, height: Int) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Image(width: width, height: height, fill: (10, 20, 30)).write(to: url)
    }

    func testCityscapesLayout() throws {
        try writeImage("leftImg8bit/val/aachen/aachen_000000_000019_leftImg8bit.png", width: 4, height: 2)
        try write("gtFine/val/aachen/aachen_000000_000019_gtFine_labelIds.png", gray: [7, 8, 0, 26, 33, 1, 24, 23], width: 4, height: 2)
        let ds = try SegmentationDataset.open(root, split: "val")
        XCTAssertEqual(ds.layout, .cityscapes)
        XCTAssertEqual(ds.count, 1)
        let s = try ds.sample(at: 0)
        XCTAssertEqual(s.name, "aachen_000000_000019")
        XCTAssertEqual(s.label.labels, [0, 1, 255, 13, 18, 255, 11, 10])
        try ds.checkClasses(against: try Presets.config(named: "seg_w18_small_v1_cityscapes"))
        XCTAssertThrowsError(try ds.checkClasses(against: try HRNetConfig.load(Fixtures.url("hrnet/tiny_seg.yaml")))) {
            XCTAssertTrue("\($0)".contains("19 classes") && "\($0)".contains("NUM_CLASSES 4"), "\($0)")
        }
        // A label of the wrong size, an id outside 0...33, an image without its label.
        try write("gtFine/val/aachen/aachen_000000_000019_gtFine_labelIds.png", gray: [7, 8, 0], width: 3, height: 1)
        XCTAssertThrowsError(try ds.sample(at: 0)) { XCTAssertTrue("\($0)".contains("label is 3 x 1 but its image") && "\($0)".contains("4 x 2"), "\($0)") }
        try write("gtFine/val/aachen/aachen_000000_000019_gtFine_labelIds.png", gray: [7, 8, 0, 26, 34, 1, 24, 23], width: 4, height: 2)
        XCTAssertThrowsError(try ds.sample(at: 0)) { XCTAssertTrue("\($0)".contains("label id 34 at (x 0, y 1)"), "\($0)") }
        try writeImage("leftImg8bit/val/bonn/bonn_000001_000019_leftImg8bit.png", width: 4, height: 2)
        XCTAssertThrowsError(try SegmentationDataset.open(root, split: "val")) {
            XCTAssertTrue("\($0)".contains("bonn_000001_000019_leftImg8bit.png has no label") && "\($0)".contains("bonn_000001_000019_gtFine_labelIds.png"), "\($0)")
        }
        XCTAssertThrowsError(try SegmentationDataset.open(root, split: "test")) { XCTAssertTrue("\($0)".contains("no such directory")) }
        // trainval (the official list of the trainval configs) = train + val.
        try write("gtFine/val/bonn/bonn_000001_000019_gtFine_labelIds.png", gray: [7, 7, 7, 7, 7, 7, 7, 7], width: 4, height: 2)
        XCTAssertThrowsError(try SegmentationDataset.open(root, split: "trainval")) { XCTAssertTrue("\($0)".contains("leftImg8bit/train: no such directory"), "\($0)") }
        try writeImage("leftImg8bit/train/ulm/ulm_000000_000019_leftImg8bit.png", width: 4, height: 2)
        try write("gtFine/train/ulm/ulm_000000_000019_gtFine_labelIds.png", gray: [7, 8, 0, 26, 33, 1, 24, 23], width: 4, height: 2)
        let both = try SegmentationDataset.open(root, split: "trainval")
        XCTAssertEqual(both.split, "trainval")
        XCTAssertEqual(both.entries.map(\.name), ["ulm_000000_000019", "aachen_000000_000019", "bonn_000001_000019"])
    }

    func testPascalContextLayout() throws {
        try writeImage("JPEGImages/2008_000002.jpg", width: 3, height: 1)
        try write("SegmentationClassContext/2008_000002.png", gray: [0, 1, 59], width: 3, height: 1)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("ImageSets/SegmentationContext"), withIntermediateDirectories: true)
        try "2008_000002\n".write(to: root.appendingPathComponent("ImageSets/SegmentationContext/val.txt"), atomically: true, encoding: .utf8)
        let ds = try SegmentationDataset.open(root, split: "val")
        XCTAssertEqual(ds.layout, .pascalContext)
        XCTAssertEqual(try ds.sample(at: 0).label.labels, [255, 0, 58])  // background ignored, k -> k-1
        let with60 = try SegmentationDataset.open(root, split: "val", classes: 60)
        XCTAssertEqual(try with60.sample(at: 0).label.labels, [0, 1, 59])
        try write("SegmentationClassContext/2008_000002.png", gray: [0, 60, 1], width: 3, height: 1)
        XCTAssertThrowsError(try ds.sample(at: 0)) { XCTAssertTrue("\($0)".contains("label 60 at (x 1, y 0)"), "\($0)") }
        XCTAssertThrowsError(try SegmentationDataset.open(root, split: "val", classes: 21))
    }

    func testSyntheticFolderLayoutRoundTrip() throws {
        try SyntheticSegmentation.write(to: root, splits: [("train", 2), ("val", 2)], width: 40, height: 32, classes: 5, seed: 3)
        let ds = try SegmentationDataset.open(root, split: "val")
        XCTAssertEqual(ds.layout, .folder)
        XCTAssertEqual(ds.classNames, ["background", "disc", "box", "triangle", "wire"])
        XCTAssertEqual(ds.count, 2)
        let s = try ds.sample(at: 1)
        // The files hold exactly what the generator makes (val follows the 2 train images).
        let (image, label) = SyntheticSegmentation.sample(index: 3, width: 40, height: 32, classes: 5, seed: 3)
        XCTAssertEqual(s.image, image)
        XCTAssertEqual(s.label, label)
        // Several classes present across the set, and the generator is deterministic.
        var present = Set<UInt8>()
        for k in 0..<8 { present.formUnion(SyntheticSegmentation.sample(index: k, width: 40, height: 32, classes: 5, seed: 3).1.labels) }
        XCTAssertGreaterThanOrEqual(present.count, 4)
        XCTAssertEqual(SyntheticSegmentation.sample(index: 5, width: 40, height: 32, classes: 5, seed: 3).0,
                       SyntheticSegmentation.sample(index: 5, width: 40, height: 32, classes: 5, seed: 3).0)
        // No overwrite without force; the class list disagrees with the 4-class tiny model.
        XCTAssertThrowsError(try SyntheticSegmentation.write(to: root, splits: [("val", 1)], width: 40, height: 32, classes: 5, seed: 3)) {
            XCTAssertTrue("\($0)".contains("--force"))
        }
        XCTAssertThrowsError(try ds.checkClasses(against: try HRNetConfig.load(Fixtures.url("hrnet/tiny_seg.yaml")))) {
            XCTAssertTrue("\($0)".contains("5 classes") && "\($0)".contains("NUM_CLASSES 4"), "\($0)")
        }
        // Out-of-range ids, an image without a label, a label without an image, a bad class list.
        try write("labels/val/00000.png", gray: [UInt8](repeating: 9, count: 40 * 32), width: 40, height: 32)
        XCTAssertThrowsError(try ds.sample(at: 0)) { XCTAssertTrue("\($0)".contains("00000.png: label 9 at (x 0, y 0)"), "\($0)") }
        try writeImage("images/val/extra.png", width: 40, height: 32)
        XCTAssertThrowsError(try SegmentationDataset.open(root, split: "val")) { XCTAssertTrue("\($0)".contains("extra.png has no label"), "\($0)") }
        try FileManager.default.removeItem(at: root.appendingPathComponent("images/val/extra.png"))
        try write("labels/val/orphan.png", gray: [0], width: 1, height: 1)
        XCTAssertThrowsError(try SegmentationDataset.open(root, split: "val")) { XCTAssertTrue("\($0)".contains("orphan.png has no image"), "\($0)") }
        try "a\nb\na\n".write(to: root.appendingPathComponent("classes.txt"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SegmentationDataset.open(root, split: "train")) { XCTAssertTrue("\($0)".contains("'a' is listed twice"), "\($0)") }
        XCTAssertThrowsError(try SegmentationDataset.open(root.appendingPathComponent("nope"), split: "val"))
    }
}
