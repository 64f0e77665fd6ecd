import XCTest
import Datasets

final class JSONParserTests: XCTestCase {
    func testValues() throws {
        let text = #"{"a": [1, -2.5e3, 0.1, 3], "b": [{"x": "h\u00e9\"llo"}, null, true, false], "c": [], "d": -0.0}"#
        let v = try JSONParser.parse(Data(text.utf8))
        XCTAssertEqual(v["a"]?.doubles, [1, -2500, 0.1, 3])       // strtod: correctly rounded, 0.1 == Double("0.1")
        XCTAssertEqual(v["b"]?.array?.first?["x"]?.string, "h\u{e9}\"llo")
        XCTAssertEqual(v["c"]?.doubles, [])
        XCTAssertEqual(v["a"]?.array?[1].int, -2500)
        guard case .null = v["b"]!.array![1] else { return XCTFail("null") }
    }

    func testErrorsNameTheOffset() {
        for bad in ["{", "[1, 2", "{\"a\" 1}", "[1,]", "tru", "\"open", "[1] 2", String(repeating: "[", count: 600)] {
            XCTAssertThrowsError(try JSONParser.parse(Data(bad.utf8)), bad) { XCTAssertTrue("\($0)".contains("byte"), "\($0)") }
        }
    }
}
