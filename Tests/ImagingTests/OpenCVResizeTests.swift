import Foundation
@testable import Imaging
import TestSupport
import XCTest

/// OpenCVResize against cv2.resize(INTER_LINEAR) outputs written by
/// Tests/Fixtures/imaging/opencv_resize/make_opencv_resize_fixtures.py (opencv-python 5.0).
final class OpenCVResizeTests: XCTestCase {
    static func url(_ name: String) -> URL { Fixtures.url("imaging/opencv_resize/" + name) }

    func cases() throws -> (source: (w: Int, h: Int), cases: [(name: String, w: Int, h: Int)]) {
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Self.url("cases.json"))) as? [String: Any])
        let source = try XCTUnwrap(json["source"] as? [String: Int])
        let list = try XCTUnwrap(json["cases"] as? [[String: Any]]).map {
            ($0["name"] as! String, $0["width"] as! Int, $0["height"] as! Int)
        }
        return ((source["width"]!, source["height"]!), list.map { (name: $0.0, w: $0.1, h: $0.2) })
    }

    func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: Self.url(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// 8-bit: tolerance 0. OpenCV's fixed-point arithmetic (11-bit weights, the SIMD vertical
    /// pass's shifts) is reproduced step by step, so every sample must be equal.
    func testUInt8MatchesOpenCVExactly() throws {
        let (s, list) = try cases()
        XCTAssertGreaterThanOrEqual(list.count, 8)
        let source = try Image(width: s.w, height: s.h, pixels: [UInt8](Data(contentsOf: Self.url("source.rgb"))))
        for c in list {
            let expected = try Image(width: c.w, height: c.h, pixels: [UInt8](Data(contentsOf: Self.url(c.name + ".rgb"))))
            let got = source.resizedLinearCV(width: c.w, height: c.h)
            let d = sampleDifference(got, expected)
            XCTAssertEqual(d.count, 0, "\(c.name) \(c.w)x\(c.h): \(d.count) samples differ, max \(d.max)")
        }
        // The same size is a copy.
        XCTAssertEqual(source.resizedLinearCV(width: s.w, height: s.h), source)
    }

    /// INTER_NEAREST on a one-channel map (how label maps are resized): tolerance 0 (an index rule).
    func testNearestOnLabelMapsMatchesOpenCVExactly() throws {
        let (s, list) = try cases()
        let rgb = [UInt8](try Data(contentsOf: Self.url("source.rgb")))
        let gray = try GrayImage(width: s.w, height: s.h, pixels: stride(from: 0, to: rgb.count, by: 3).map { rgb[$0] })
        for c in list {
            let expected = [UInt8](try Data(contentsOf: Self.url(c.name + ".nearest.gray")))
            XCTAssertEqual(gray.resizedNearestCV(width: c.w, height: c.h).pixels, expected, c.name)
        }
    }

    /// Float planes: tolerance 1e-5 absolute on values of magnitude <= 2.7. The weights and the
    /// order of the two products are OpenCV's; only its SIMD's fused multiply-adds may round
    /// the last bit differently (float ulp at 2.7 is 2.4e-7).
    func testFloatPlanesMatchOpenCV() throws {
        let (s, list) = try cases()
        let hwc = try floats("source.f32")
        var chw = [Float](repeating: 0, count: hwc.count)
        for p in 0..<(s.w * s.h) { for c in 0..<3 { chw[c * s.w * s.h + p] = hwc[p * 3 + c] } }
        var worst: Float = 0
        for c in list {
            let expected = try floats(c.name + ".f32")
            let got = OpenCVResize.linear(chw, planes: 3, width: s.w, height: s.h, toWidth: c.w, toHeight: c.h)
            XCTAssertEqual(got.count, expected.count)
            for p in 0..<(c.w * c.h) { for ch in 0..<3 {
                worst = max(worst, abs(got[ch * c.w * c.h + p] - expected[p * 3 + ch]))
            }}
        }
        XCTAssertLessThan(worst, 1e-5)
    }

    /// Label PNGs keep their values: gray and palette PNGs round-trip; RGB is refused by name.
    func testGrayImagePNGRoundTripAndRefusals() throws {
        let map = try GrayImage(width: 5, height: 3, pixels: [0, 1, 2, 255, 7, 19, 18, 0, 0, 3, 33, 34, 200, 1, 2])
        let data = try map.pngData()
        XCTAssertEqual(try GrayImage.decodePNG(data), map)
        let rgb = try Image(width: 2, height: 2, fill: (1, 2, 3)).pngData()
        XCTAssertThrowsError(try GrayImage.decodePNG(rgb, name: "x.png")) { error in
            XCTAssertTrue("\(error)".contains("x.png") && "\(error)".contains("8-bit RGB"), "\(error)")
        }
        let jpeg = try Image(width: 8, height: 8, fill: (1, 2, 3)).jpegData()
        XCTAssertThrowsError(try GrayImage.decodePNG(jpeg, name: "y.jpg")) { XCTAssertTrue("\($0)".contains("must be a PNG")) }
        XCTAssertThrowsError(try GrayImage.decodePNG(data.prefix(40), name: "t.png")) { XCTAssertTrue("\($0)".contains("t.png")) }
        // A palette PNG gives its indices (the fixture from make_imaging_fixtures.py has a palette).
        let palette = try GrayImage.loadPNG(Fixtures.url("imaging/palette_trns.png"))
        XCTAssertGreaterThan(palette.pixels.count, 0)
    }
}
