import Foundation
import Imaging
import TestSupport
import XCTest

/// The fixtures written by Tests/Fixtures/imaging/make_imaging_fixtures.py and their manifest.
enum ImagingFixtures {
    static func url(_ name: String) -> URL { Fixtures.url("imaging/" + name) }

    nonisolated(unsafe) static let manifest: [String: Any] = {  // read-only after first use
        guard let data = try? Data(contentsOf: url("manifest.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }()

    static func entries(_ key: String) -> [[String: Any]] { manifest[key] as? [[String: Any]] ?? [] }

    /// A raw `.rgb` reference (height * width * 3 bytes).
    static func reference(_ entry: [String: Any], fileKey: String = "file") throws -> Image {
        let name = try XCTUnwrap(entry[fileKey] as? String)
        let width = try XCTUnwrap(entry["width"] as? Int), height = try XCTUnwrap(entry["height"] as? Int)
        return try Image(width: width, height: height, pixels: [UInt8](Data(contentsOf: url(name))))
    }
}

/// Largest absolute per-sample difference and the number of differing samples.
func sampleDifference(_ a: Image, _ b: Image) -> (max: Int, count: Int) {
    guard a.width == b.width, a.height == b.height else { return (Int.max, Int.max) }
    var worst = 0, count = 0
    for i in 0..<a.pixels.count {
        let d = abs(Int(a.pixels[i]) - Int(b.pixels[i]))
        if d > 0 { count += 1; worst = max(worst, d) }
    }
    return (worst, count)
}
