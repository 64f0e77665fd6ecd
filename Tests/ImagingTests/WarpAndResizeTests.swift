import Foundation
@testable import Imaging
import XCTest

final class WarpAndResizeTests: XCTestCase {
    /// Against cv2.warpAffine (OpenCV 5.0, float32 kernels) and against OpenCV's fixed-point
    /// remap (the OpenCV <= 4.10 warpAffine): scale+rotate+translate, shrinking, mirroring,
    /// HRNet's 3-point crop matrices, crops partly outside the image, widths that are not
    /// multiples of 16. Tolerance: 0 for both (we emulate each arithmetic step by step); the
    /// brief's bound is 1/255 per sample.
    func testWarpAffineMatchesOpenCV() throws {
        let source = try Image.load(ImagingFixtures.url("warp_source.png"))
        let cases = ImagingFixtures.entries("warp")
        XCTAssertGreaterThanOrEqual(cases.count, 8)
        var worst = (float32: 0, fixed: 0)
        for entry in cases {
            let name = try XCTUnwrap(entry["name"] as? String)
            // Strings parsed by Double(_:) (exact); Foundation's JSON number parsing can be off by an ulp.
            let m = try XCTUnwrap(entry["matrix"] as? [String]).compactMap(Double.init)
            XCTAssertEqual(m.count, 6)
            let w = try XCTUnwrap(entry["width"] as? Int), h = try XCTUnwrap(entry["height"] as? Int)
            let modern = try ImagingFixtures.reference(["file": entry["float32"]!, "width": w, "height": h])
            let legacy = try ImagingFixtures.reference(["file": entry["fixedPoint"]!, "width": w, "height": h])
            let a = sampleDifference(source.warpAffine(m, width: w, height: h), modern)
            let b = sampleDifference(source.warpAffine(m, width: w, height: h, arithmetic: .fixedPoint), legacy)
            XCTAssertLessThanOrEqual(a.max, 1, "\(name) float32: \(a.count) samples differ")
            XCTAssertLessThanOrEqual(b.max, 1, "\(name) fixed point: \(b.count) samples differ")
            XCTAssertEqual(a.count, 0, "\(name) float32")
            XCTAssertEqual(b.count, 0, "\(name) fixed point")
            worst = (max(worst.float32, a.max), max(worst.fixed, b.max))
        }
        print("warpAffine max |diff| vs OpenCV: float32 \(worst.float32), fixed point \(worst.fixed)")
    }

    /// Large outputs run in row bands on several threads; the split must not change a sample.
    func testRowBandsGiveTheSameResult() throws {
        let source = try Image.load(ImagingFixtures.url("warp_source.png"))
        let m = [1.3 * cos(0.4), -1.3 * sin(0.4), 40.0, 1.3 * sin(0.4), 1.3 * cos(0.4), -30.0]
        for arithmetic in [AffineWarpArithmetic.float32, .fixedPoint] {
            let one = source.warpAffine(m, width: 203, height: 157, arithmetic: arithmetic, bands: 1)
            XCTAssertEqual(source.warpAffine(m, width: 203, height: 157, arithmetic: arithmetic, bands: 3), one)
            XCTAssertEqual(source.warpAffine(m, width: 203, height: 157, arithmetic: arithmetic, bands: 1000), one)
        }
    }

    func testWarpEdgeCases() throws {
        let image = Image(width: 4, height: 3, fill: (200, 100, 50))
        // Singular matrix: OpenCV inverts it to zeros, every destination pixel samples (0, 0).
        let singular = image.warpAffine([0, 0, 0, 0, 0, 0], width: 5, height: 2)
        XCTAssertEqual(singular.pixels, [UInt8](repeating: 0, count: 30).enumerated().map { [200, 100, 50][$0.offset % 3] })
        // Wrong matrix length: black, never a crash.
        XCTAssertEqual(image.warpAffine([1, 0, 0], width: 2, height: 2).pixels, [UInt8](repeating: 0, count: 12))
        // Far outside and NaN: black.
        XCTAssertEqual(image.warpAffine([1, 0, 1e12, 0, 1, 0], width: 3, height: 3).pixels.max(), 0)
        XCTAssertEqual(image.warpAffine([.nan, 0, 0, 0, 1, 0], width: 3, height: 3).pixels.max(), 0)
        // Identity keeps the pixels, in both arithmetics.
        let photo = try Image.load(ImagingFixtures.url("rgb8.png"))
        XCTAssertEqual(photo.warpAffine([1, 0, 0, 0, 1, 0], width: photo.width, height: photo.height), photo)
        XCTAssertEqual(photo.warpAffine([1, 0, 0, 0, 1, 0], width: photo.width, height: photo.height, arithmetic: .fixedPoint), photo)
    }

    /// Pillow's Image.resize(BILINEAR): shrinking (antialiased), enlarging, mixed. Tolerance 0:
    /// the same 22-bit fixed-point coefficients and rounding.
    func testResizeMatchesPIL() throws {
        let source = try Image.load(ImagingFixtures.url("warp_source.png"))
        let cases = ImagingFixtures.entries("resize")
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        for entry in cases {
            let expected = try ImagingFixtures.reference(entry)
            let got = source.resized(width: expected.width, height: expected.height)
            let diff = sampleDifference(got, expected)
            XCTAssertEqual(diff.max, 0, "\(expected.width)x\(expected.height): \(diff.count) samples differ")
        }
    }
}
