import XCTest
@testable import HRNet
import TestSupport

/// YAML that aliases aliases ("billion laughs": 350 bytes, 10^9 nodes expanded) is refused
/// before it is expanded, in milliseconds and megabytes; deep nesting too.
final class BoundedYAMLTests: XCTestCase {
    static func laughs(levels: Int = 9) -> String {
        var lines = ["a: &a [" + Array(repeating: "\"lol\"", count: 9).joined(separator: ",") + "]"]
        var previous = "a"
        for name in "bcdefghijk".prefix(levels - 1).map(String.init) {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]")
            previous = name
        }
        return (lines + ["MODEL: *\(previous)"]).joined(separator: "\n") + "\n"
    }

    func testAliasBombIsRefused() throws {
        let start = ContinuousClock.now
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: Self.laughs(), source: "laughs.yaml")) { error in
            XCTAssertTrue("\(error)".contains("laughs.yaml") && "\(error)".contains("expands to more than"), "\(error)")
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
        // A few aliases are fine: three levels of nine is 819 nodes.
        XCTAssertNotNil(try BoundedYAML.load(Self.laughs(levels: 3)))
    }

    func testDeepNestingIsRefused() throws {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        XCTAssertThrowsError(try BoundedYAML.load("a: " + deep)) { error in
            XCTAssertTrue("\(error)".contains("nested more than"), "\(error)")
        }
    }

    /// Found by fuzzing (Fuzz/run.sh yaml): a key that is a mapping or a list (`? {a: b}`, `? [1]`)
    /// crashed the process inside Yams's loader; it is refused with the line.
    func testComplexKeysAreRefusedNotCrashing() throws {
        for text in ["MODEL:\n  ? DATASET: sh\n  : 1\n", "? [1, 2]\n: x\n", "{? {a: b}: c}"] {
            XCTAssertThrowsError(try BoundedYAML.load(text)) { error in
                XCTAssertTrue("\(error)".contains("mapping key is itself a mapping or a list"), "\(error)")
            }
            XCTAssertThrowsError(try HRNetConfig.parse(yaml: text, source: "keys.yaml")) { XCTAssertTrue("\($0)".contains("keys.yaml"), "\($0)") }
        }
        XCTAssertNotNil(try BoundedYAML.load("? plain\n: 1\n1: 2\n"))
    }

    /// A size typo (99968) is refused at parsing, before a 120 GB allocation aborted the process.
    func testImpossibleImageSizeIsRefused() throws {
        let text = try String(contentsOf: Fixtures.url("hrnet/tiny_pose.yaml"), encoding: .utf8)
        let huge = text.replacingOccurrences(of: "IMAGE_SIZE:\n  - 64\n  - 96", with: "IMAGE_SIZE:\n  - 99968\n  - 99968")
        XCTAssertNotEqual(huge, text)
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: huge, source: "huge.yaml")) { error in
            XCTAssertTrue("\(error)".contains("huge.yaml") && "\(error)".contains("IMAGE_SIZE 99968x99968"), "\(error)")
        }
    }
}
