import Foundation
import Imaging
import XCTest

/// Damaged files must give an ImageError (or, for harmless damage, a picture of the declared
/// size), never a crash, an exit() from libjpeg, a hang or a huge allocation.
final class HostileInputTests: XCTestCase {
    private struct Generator {  // SplitMix64: deterministic mutations
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private func decodeOrError(_ data: Data, _ label: String) {
        do {
            let image = try Image.decode(data, name: label, maxPixels: 1 << 20)
            XCTAssertEqual(image.pixels.count, image.width * image.height * 3, label)
        } catch let error as ImageError {
            XCTAssertTrue(error.description.hasPrefix(label + ": "), "\(error)")
        } catch {
            XCTFail("\(label): unexpected \(error)")
        }
    }

    func testEveryTruncationIsAnErrorOrComplete() throws {
        for name in ["baseline.jpg", "progressive.jpg", "rgb8.png", "interlaced.png"] {
            let data = try Data(contentsOf: ImagingFixtures.url(name))
            for length in stride(from: 0, to: data.count - 2, by: max(1, data.count / 97)) {
                let label = "\(name)[..<\(length)]"
                XCTAssertThrowsError(try Image.decode(data.prefix(length), name: label), label) { error in
                    XCTAssertTrue("\(error)".hasPrefix(label), "\(error)")
                }
            }
        }
        // A JPEG missing only its final EOI marker still has every pixel: accepted, like OpenCV.
        let jpeg = try Data(contentsOf: ImagingFixtures.url("baseline.jpg"))
        XCTAssertEqual(try Image.decode(jpeg.dropLast(2)), try Image.decode(jpeg))
    }

    func testRandomByteDamageNeverCrashes() throws {
        var random = Generator(state: 7)
        for name in ["baseline.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg", "orient6.jpg",
                     "rgb8.png", "rgb16.png", "palette_trns.png", "interlaced.png"] {
            let original = [UInt8](try Data(contentsOf: ImagingFixtures.url(name)))
            for trial in 0..<40 {
                var bytes = original
                let flips = 1 + Int(random.next() % 8)
                for _ in 0..<flips {
                    let at = 2 + Int(random.next() % UInt64(bytes.count - 2))   // keep the magic bytes
                    bytes[at] = UInt8(truncatingIfNeeded: random.next())
                }
                decodeOrError(Data(bytes), "\(name)#\(trial)")
            }
        }
    }
}
