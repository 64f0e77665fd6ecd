import Foundation
import Imaging
@testable import Segmentation
import TestSupport
import XCTest

final class MetricsTests: XCTestCase {
    /// Three committed truth/prediction label pairs (5 classes, ignore pixels, class 3 never in
    /// the truth) against the official get_confusion_matrix and testval metrics computed by the
    /// fixture script. Counts must be equal; metrics to 1e-12 (the same float64 divisions, summed
    /// in another order).
    func testConfusionMatrixAndMetricsMatchTheOfficialCode() throws {
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: SegFixtures.url("labels/metrics.json"))) as? [String: Any])
        let n = try XCTUnwrap(json["classes"] as? Int)
        var matrix = ConfusionMatrix(classes: n)
        for k in 0..<(try XCTUnwrap(json["pairs"] as? Int)) {
            let truth = try LabelMap.loadPNG(SegFixtures.url("labels/truth_\(k).png"))
            let pred = try LabelMap.loadPNG(SegFixtures.url("labels/pred_\(k).png"))
            try matrix.add(truth: truth, prediction: pred, file: "truth_\(k).png")
        }
        let expected = try XCTUnwrap(json["confusion"] as? [[Int]])
        for r in 0..<n { for c in 0..<n { XCTAssertEqual(matrix[r, c], expected[r][c], "(\(r), \(c))") } }
        let iou = try XCTUnwrap(json["iou"] as? [Double])
        for c in 0..<n { XCTAssertEqual(matrix.iou[c], iou[c], accuracy: 1e-12) }
        XCTAssertEqual(matrix.iou[3], 0)  // never true, predicted in places: IoU 0, counted in the mean
        XCTAssertEqual(matrix.meanIoU, try XCTUnwrap(json["mean_iou"] as? Double), accuracy: 1e-12)
        XCTAssertEqual(matrix.pixelAccuracy, try XCTUnwrap(json["pixel_accuracy"] as? Double), accuracy: 1e-12)
        XCTAssertEqual(matrix.meanAccuracy, try XCTUnwrap(json["mean_accuracy"] as? Double), accuracy: 1e-12)
    }

    func testPerfectPredictionAndBadLabels() throws {
        let truth = try LabelMap(width: 3, height: 2, labels: [0, 1, 2, 255, 1, 0])
        var m = ConfusionMatrix(classes: 3)
        try m.add(truth: truth, prediction: try LabelMap(width: 3, height: 2, labels: [0, 1, 2, 2, 1, 0]))
        XCTAssertEqual(m.meanIoU, 1)
        XCTAssertEqual(m.pixelAccuracy, 1)
        XCTAssertEqual(m.truthCounts.reduce(0, +), 5)  // the ignore pixel is skipped
        XCTAssertThrowsError(try m.add(truth: truth, prediction: try LabelMap(width: 2, height: 3, labels: [0, 0, 0, 0, 0, 0]), file: "a.png")) {
            XCTAssertTrue("\($0)".contains("a.png") && "\($0)".contains("3 x 2"), "\($0)")
        }
        let outOfRange = try LabelMap(width: 3, height: 2, labels: [0, 1, 7, 0, 0, 0])
        XCTAssertThrowsError(try m.add(truth: outOfRange, prediction: truth, file: "b.png")) {
            XCTAssertTrue("\($0)".contains("b.png") && "\($0)".contains("label 7 at (x 2, y 0)"), "\($0)")
        }
        XCTAssertThrowsError(try outOfRange.validate(classes: 3, file: "c.png")) { XCTAssertTrue("\($0)".contains("c.png: label 7")) }
        XCTAssertThrowsError(try LabelMap(width: 2, height: 2, labels: [0]))
    }

    func testPalettesAndCityscapesIDs() throws {
        XCTAssertEqual(Cityscapes.classNames.count, 19)
        XCTAssertEqual(PascalContext.classNames.count, 59)
        // The official label_mapping: 7 -> 0 (road), 26 -> 13 (car), 33 -> 18 (bicycle), 0..6, 9, 10, 14..16, 18, 29, 30 -> ignore.
        let table = Cityscapes.trainIDOfLabelID
        XCTAssertEqual([table[7], table[8], table[11], table[26], table[33]], [0, 1, 2, 13, 18])
        for id in [0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30] { XCTAssertEqual(table[id], 255, "label id \(id)") }
        XCTAssertEqual(table.filter { $0 != 255 }.count, 19)
        let ids = try LabelMap(width: 4, height: 1, labels: [7, 33, 0, 40])
        XCTAssertThrowsError(try Cityscapes.trainIDs(fromLabelIDs: ids, file: "x_labelIds.png")) {
            XCTAssertTrue("\($0)".contains("x_labelIds.png: label id 40"), "\($0)")
        }
        let train = try Cityscapes.trainIDs(fromLabelIDs: try LabelMap(width: 3, height: 1, labels: [7, 33, 0]), file: "")
        XCTAssertEqual(train.labels, [0, 18, 255])
        XCTAssertEqual(try Cityscapes.labelIDs(fromTrainIDs: train).labels, [7, 33, 0])
        // The official get_palette: index 1 -> (128, 0, 0), 2 -> (0, 128, 0), 3 -> (128, 128, 0), 8 -> (64, 0, 0).
        let voc = Palette.voc(count: 9)
        XCTAssertTrue(voc.colors[0] == (0, 0, 0) && voc.colors[1] == (128, 0, 0) && voc.colors[2] == (0, 128, 0)
                      && voc.colors[3] == (128, 128, 0) && voc.colors[8] == (64, 0, 0))
        let colour = Palette.cityscapes.colorize(train)
        XCTAssertTrue(colour.pixel(x: 0, y: 0)! == (128, 64, 128) && colour.pixel(x: 1, y: 0)! == (119, 11, 32) && colour.pixel(x: 2, y: 0)! == (0, 0, 0))
        let photo = Image(width: 3, height: 1, fill: (100, 100, 100))
        let over = try Palette.cityscapes.overlay(train, on: photo, alpha: 0.5)
        XCTAssertTrue(over.pixel(x: 0, y: 0)! == (114, 82, 114) && over.pixel(x: 2, y: 0)! == (100, 100, 100))
        XCTAssertThrowsError(try Palette.cityscapes.overlay(train, on: Image(width: 2, height: 1, fill: (0, 0, 0))))
    }
}
