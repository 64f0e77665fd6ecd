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

    /// RFC 8259, strictly: what strtod or a lenient reader would take is an error with its byte.
    func testStrictGrammar() throws {
        for (text, words) in [("[01]", "leading zeros"), ("[1.]", "digits after it"), ("[.5]", "unexpected character"), ("[1e]", "exponent"),
                              ("[-]", "needs a digit"), ("[0x10]", "bad number"), ("[\"a\nb\"]", "raw control character"),
                              ("[1.5e+3, -0, 0.25]", "")] {
            if words.isEmpty {
                XCTAssertEqual(try JSONParser.parse(Data(text.utf8)).doubles, [1500, 0, 0.25])
                continue
            }
            XCTAssertThrowsError(try JSONParser.parse(Data(text.utf8)), text) { XCTAssertTrue("\($0)".contains(words), "\(text): \($0)") }
        }
        var bad = Data("[\"ab".utf8)
        bad.append(contentsOf: [0xC3, 0x28])  // an invalid UTF-8 sequence
        bad.append(contentsOf: Data("\"]".utf8))
        XCTAssertThrowsError(try JSONParser.parse(bad)) { XCTAssertTrue("\($0)".contains("not valid UTF-8"), "\($0)") }
    }
}
