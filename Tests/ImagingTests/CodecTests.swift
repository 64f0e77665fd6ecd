import Foundation
import Imaging
import XCTest

final class CodecTests: XCTestCase {
    /// Every JPEG and PNG fixture decodes to exactly OpenCV's cv2.imread(IMREAD_COLOR) result
    /// (RGB order): tolerance 0, because both run the same libjpeg-turbo / libpng arithmetic.
    /// Covers baseline, progressive, 4:4:4, 4:2:2 odd size, grayscale and CMYK JPEGs, EXIF
    /// orientations 1-8, and PNG 8/16-bit RGB, 4/8/16-bit gray, gray+alpha, RGBA,
    /// palette+tRNS and Adam7.
    func testDecodesEqualOpenCVExactly() throws {
        let cases = ImagingFixtures.entries("decode")
        XCTAssertGreaterThanOrEqual(cases.count, 24, "manifest missing; run make_imaging_fixtures.py")
        for entry in cases {
            let name = try XCTUnwrap(entry["image"] as? String)
            let decoded = try Image.load(ImagingFixtures.url(name))
            let expected = try ImagingFixtures.reference(entry)
            XCTAssertEqual(decoded.width, expected.width, name)
            XCTAssertEqual(decoded.height, expected.height, name)
            let diff = sampleDifference(decoded, expected)
            XCTAssertEqual(diff.max, 0, "\(name): \(diff.count) samples differ from cv2.imread")
        }
    }

    func testOrientationSixAndThreeTurnThePixels() throws {
        let up = try Image.load(ImagingFixtures.url("orient1.jpg"))
        let six = try Image.load(ImagingFixtures.url("orient6.jpg"))
        let three = try Image.load(ImagingFixtures.url("orient3.jpg"))
        XCTAssertEqual(six.width, up.height)
        XCTAssertEqual(six.height, up.width)
        XCTAssertEqual(three.width, up.width)
        // The stored pixels are identical in all three files (only the tag differs), so the
        // turned images must be exact rotations of the upright decode.
        XCTAssertEqual(six, up.applying(.right))
        XCTAssertEqual(three, up.applying(.down))
        XCTAssertEqual(up.applying(.right).applying(.right), three)
    }

    func testBrokenFilesGiveErrorsNamingTheFile() throws {
        let cases = ImagingFixtures.entries("broken")
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        for entry in cases {
            let name = try XCTUnwrap(entry["file"] as? String)
            let expect = try XCTUnwrap(entry["expect"] as? String)
            let url = ImagingFixtures.url(name)
            XCTAssertThrowsError(try Image.load(url), name) { error in
                guard let error = error as? ImageError else { return XCTFail("\(name): \(error) is not an ImageError") }
                XCTAssertTrue(error.description.contains(url.path), "\(name): '\(error)' does not name the file")
                XCTAssertEqual("\(error.kind)", expect, "\(name): \(error)")
            }
        }
    }

    func testPixelLimitIsCheckedBeforeDecoding() throws {
        let url = ImagingFixtures.url("baseline.jpg")   // 64 x 48 = 3072 pixels
        XCTAssertNoThrow(try Image.load(url, maxPixels: 3072))
        XCTAssertThrowsError(try Image.load(url, maxPixels: 3071)) { error in
            XCTAssertEqual((error as? ImageError)?.kind, .tooLarge)
            XCTAssertTrue("\(error)".contains("64 x 48"), "\(error)")
        }
        let png = ImagingFixtures.url("rgb8.png")       // 40 x 30
        XCTAssertThrowsError(try Image.load(png, maxPixels: 1199)) { XCTAssertEqual(($0 as? ImageError)?.kind, .tooLarge) }
    }

    /// Found by fuzzing (Fuzz/run.sh image): a PNG header declaring 0xf6f6f6f6 x 0xf6f6f6f6
    /// pixels overflowed the 64-bit product in the size check, wrapped below the limit, and the
    /// decoder trapped computing the buffer size. Each side is now checked, then the product.
    func testHugeDeclaredSidesAreRefusedNotOverflowed() throws {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        bytes += [0xF6, 0xF6, 0xF6, 0xF6, 0xF6, 0xF6, 0xF6, 0xF6, 8, 2, 0, 0, 0] + [UInt8](repeating: 0xF6, count: 40)
        for limit in [1 << 20, Image.defaultMaxPixels, Int(Int32.max)] {
            XCTAssertThrowsError(try Image.decode(Data(bytes), name: "sides.png", maxPixels: limit)) { error in
                XCTAssertEqual((error as? ImageError)?.kind, .tooLarge, "\(error)")
                XCTAssertTrue("\(error)".contains("sides.png") && "\(error)".contains("4143380214 x 4143380214"), "\(error)")
            }
            XCTAssertThrowsError(try GrayImage.decodePNG(Data(bytes), name: "sides.png", maxPixels: limit))
        }
    }

    func testMissingFileAndMemoryNames() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/dir/x.png")
        XCTAssertThrowsError(try Image.load(missing)) { error in
            XCTAssertEqual((error as? ImageError)?.kind, .io)
            XCTAssertTrue("\(error)".contains("/nonexistent/dir/x.png"))
        }
        XCTAssertThrowsError(try Image.decode(Data([0xFF, 0xD8, 0xFF, 0xE0]), name: "upload#3")) { error in
            XCTAssertTrue("\(error)".hasPrefix("upload#3: "), "\(error)")
        }
    }

    /// PNG is lossless: encode then decode returns the same samples. JPEG is lossy: the
    /// round trip stays close (mean error under 2 levels at quality 95 on a smooth image) and
    /// equals OpenCV's decode of the same bytes (checked by decoding with our decoder, which
    /// the test above ties to OpenCV).
    func testEncodeRoundTrips() throws {
        let source = try Image.load(ImagingFixtures.url("rgb8.png"))
        let png = try source.pngData()
        XCTAssertEqual(ImageFormat.sniff(png), .png)
        XCTAssertEqual(try Image.decode(png), source)

        let smooth = source.resized(width: 80, height: 60)
        let jpeg = try smooth.jpegData(quality: 95)
        XCTAssertEqual(ImageFormat.sniff(jpeg), .jpeg)
        let back = try Image.decode(jpeg)
        XCTAssertEqual(back.width, 80)
        let total = zip(back.pixels, smooth.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        XCTAssertLessThan(Double(total) / Double(smooth.pixels.count), 6.0)
        XCTAssertGreaterThan(try smooth.jpegData(quality: 95).count, try smooth.jpegData(quality: 20).count)
        XCTAssertThrowsError(try smooth.jpegData(quality: 0))
    }

    func testWriteIsAtomicAndByExtension() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = try Image.load(ImagingFixtures.url("rgb8.png"))
        for name in ["a.png", "b.JPG", "c.jpeg"] {
            let url = dir.appendingPathComponent(name)
            try image.write(to: url)
            let back = try Image.load(url)
            XCTAssertEqual(back.width, image.width)
            if name.hasSuffix("png") { XCTAssertEqual(back, image) }
        }
        // Overwriting replaces the file whole; no temporary files are left behind.
        try Image(width: 3, height: 2, fill: (1, 2, 3)).write(to: dir.appendingPathComponent("a.png"))
        XCTAssertEqual(try Image.load(dir.appendingPathComponent("a.png")).width, 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["a.png", "b.JPG", "c.jpeg"])
        XCTAssertThrowsError(try image.write(to: dir.appendingPathComponent("d.bmp"))) { error in
            XCTAssertTrue("\(error)".contains("d.bmp"))
        }
        XCTAssertThrowsError(try image.write(to: dir.appendingPathComponent("no/such/dir/e.png"))) { error in
            XCTAssertEqual((error as? ImageError)?.kind, .io)
        }
    }

    func testInitializersValidate() throws {
        XCTAssertThrowsError(try Image(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 11)))
        XCTAssertThrowsError(try Image(width: 0, height: 0, pixels: []))
        XCTAssertThrowsError(try Image(width: Int.max, height: 2, pixels: []))
        let filled = Image(width: 2, height: 1, fill: (9, 8, 7))
        XCTAssertEqual(filled.pixels, [9, 8, 7, 9, 8, 7])
    }

    /// (p / 255 - mean) / std in float32, CHW: equal to the numpy float32 computation
    /// (tolerance 0: same IEEE operations in the same order).
    func testNormalizedCHWMatchesNumpy() throws {
        let entry = try XCTUnwrap(ImagingFixtures.manifest["normalize"] as? [String: Any])
        let image = try Image.load(ImagingFixtures.url(try XCTUnwrap(entry["image"] as? String)))
        let mean = try XCTUnwrap(entry["mean"] as? [Double]).map(Float.init)
        let std = try XCTUnwrap(entry["std"] as? [Double]).map(Float.init)
        let data = try Data(contentsOf: ImagingFixtures.url(try XCTUnwrap(entry["file"] as? String)))
        let expected = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let got = image.normalizedCHW(mean: mean, std: std)
        XCTAssertEqual(got.count, expected.count)
        XCTAssertEqual(got, expected)
    }

    func testCropLikePIL() throws {
        let image = try Image.load(ImagingFixtures.url("rgb8.png"))
        let crop = image.cropped(x: 30, y: -2, width: 15, height: 6)
        XCTAssertEqual(crop.width, 15)
        XCTAssertEqual(crop.height, 6)
        XCTAssertTrue(crop.pixel(x: 0, y: 0)! == (0, 0, 0))           // above the image
        XCTAssertTrue(crop.pixel(x: 12, y: 3)! == (0, 0, 0))          // right of the image (x = 42)
        XCTAssertTrue(crop.pixel(x: 4, y: 2)! == image.pixel(x: 34, y: 0)!)
    }
}
