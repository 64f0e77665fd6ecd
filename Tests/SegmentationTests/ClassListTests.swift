import XCTest
@testable import Segmentation

/// classes.txt of the folder layout: one class a line (`name` or `name R G B`), any line end,
/// comments and blank lines skipped; a colour out of range is an error naming the line.
final class ClassListTests: XCTestCase {
    func read(_ text: String) throws -> (names: [String], colors: [(UInt8, UInt8, UInt8)?]) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("classes-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try SegmentationDataset.readClassList(url)
    }

    func testLineEndsCommentsAndColours() throws {
        for text in ["road 128 64 128\r\nsky\r\n# note\r\n\r\ntraffic light\t250 170 30\r\n", "road 128 64 128\nsky\n# note\n\ntraffic light\t250 170 30"] {
            let list = try read(text)
            XCTAssertEqual(list.names, ["road", "sky", "traffic light"])
            XCTAssertEqual(list.colors.map { $0.map { [$0.0, $0.1, $0.2] } }, [[128, 64, 128], nil, [250, 170, 30]])
        }
        XCTAssertEqual(try read("level 2\nlevel 3\n").names, ["level 2", "level 3"], "numbers in a name stay in it")
    }

    func testBadColourIsNamed() throws {
        XCTAssertThrowsError(try read("road 128 64 128\nsky 12 300 4\n")) { error in
            XCTAssertTrue("\(error)".contains("line 2") && "\(error)".contains("12 300 4"), "\(error)")
        }
    }
}
