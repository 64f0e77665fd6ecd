import Foundation
@testable import Imaging
import XCTest

final class DrawingTests: XCTestCase {
    private func color(_ image: Image, _ x: Int, _ y: Int) -> Color {
        let p = image.pixel(x: x, y: y)!
        return Color(p.0, p.1, p.2)
    }

    func testDrawPoseColoursLimbsAndJointsAndSkipsLowScores() {
        var image = Image(width: 100, height: 80, fill: (0, 0, 0))
        let keypoints: [(x: Double, y: Double, score: Double)] = [(20, 20, 0.9), (70, 20, 0.9), (70, 60, 0.1)]
        image.drawPose(keypoints: keypoints, skeleton: [(0, 1), (1, 2), (0, 7)], threshold: 0.5,
                       limbColors: [.red, .blue], jointColor: .white, thickness: 3, jointRadius: 3)
        // Along the drawn limb, on its axis and one pixel off it (inside the 3-pixel width).
        for x in stride(from: 26, through: 64, by: 2) {
            XCTAssertEqual(color(image, x, 20), .red, "x = \(x)")
            XCTAssertEqual(color(image, x, 21), .red, "x = \(x)")
        }
        // The joints above the threshold are white discs; the one below is not drawn.
        XCTAssertEqual(color(image, 20, 20), .white)
        XCTAssertEqual(color(image, 70, 20), .white)
        XCTAssertEqual(color(image, 72, 21), .white)
        XCTAssertEqual(color(image, 70, 60), .black)
        // The limb to the low-score joint and the limb to a missing index are skipped.
        XCTAssertEqual(color(image, 70, 40), .black)
        // Far pixels are untouched: nothing changes outside a 6-pixel band around the segment.
        for y in 0..<80 {
            for x in 0..<100 where abs(y - 20) > 6 || x < 13 || x > 77 {
                XCTAssertEqual(color(image, x, y), .black, "(\(x), \(y))")
            }
        }
    }

    func testAntialiasedLineFadesAtTheRim() {
        var image = Image(width: 40, height: 20, fill: (0, 0, 0))
        image.drawLine(from: Point(5, 10.3), to: Point(35, 10.3), color: Color(200, 200, 200), thickness: 2)
        XCTAssertEqual(color(image, 20, 10), Color(200, 200, 200))
        XCTAssertEqual(color(image, 20, 9).r, 40)         // 1.3 from the axis: 20% covered
        XCTAssertEqual(color(image, 20, 11).r, 160)       // 0.7 from the axis: 80% covered
        XCTAssertEqual(color(image, 20, 12), .black)      // 1.7 from the axis: outside
        var hard = Image(width: 40, height: 20, fill: (0, 0, 0))
        hard.drawLine(from: Point(5, 10.3), to: Point(35, 10.3), color: .green, thickness: 2, antialiased: false)
        XCTAssertTrue(Set(hard.pixels).isSubset(of: [0, 255]))
    }

    func testRectangleOutlineLeavesTheInside() {
        var image = Image(width: 30, height: 30, fill: (10, 10, 10))
        image.drawRectangle(x: 5, y: 5, width: 20, height: 10, color: .yellow, thickness: 2)
        XCTAssertEqual(color(image, 5, 5), .yellow)
        XCTAssertEqual(color(image, 24, 14), .yellow)
        XCTAssertEqual(color(image, 6, 6), .yellow)
        XCTAssertEqual(color(image, 7, 7), Color(10, 10, 10))
        XCTAssertEqual(color(image, 25, 15), Color(10, 10, 10))
        image.drawRectangle(x: -10, y: 28, width: 100, height: 100, color: .red)   // clipped, no crash
        XCTAssertEqual(color(image, 0, 29), .red)
    }

    /// Every glyph has 7 rows of 5 cells, and drawn text puts ink exactly on the glyph's cells.
    func testBitmapFontGlyphsAndText() throws {
        for (character, rows) in BitmapFont.glyphs {
            XCTAssertEqual(rows.count, 7, "glyph \(character)")
            XCTAssertTrue(rows.allSatisfy { $0 < 32 }, "glyph \(character)")
        }
        let digits = (0...9).map { BitmapFont.glyph(Character(String($0))) }
        XCTAssertEqual(Set(digits.map { $0.map(String.init).joined(separator: ",") }).count, 10, "digits must differ")

        var image = Image(width: 40, height: 20, fill: (0, 0, 0))
        image.drawText("0.87", x: 1, y: 2, color: .green, scale: 1)
        for (index, character) in "0.87".enumerated() {
            let glyph = BitmapFont.glyph(character)
            for gy in 0..<7 {
                for gx in 0..<6 {
                    let ink = gx < 5 && glyph[gy] & (1 << (4 - gx)) != 0
                    XCTAssertEqual(color(image, 1 + index * 6 + gx, 2 + gy), ink ? .green : .black, "\(character) (\(gx), \(gy))")
                }
            }
        }
        XCTAssertEqual(Image.textSize("0.87").width, 23)
        XCTAssertEqual(BitmapFont.glyph("a"), BitmapFont.glyph("A"))
        var boxed = Image(width: 40, height: 20, fill: (0, 0, 0))
        boxed.drawText("X", x: 5, y: 5, color: .white, scale: 2, background: .blue)
        XCTAssertEqual(color(boxed, 4, 4), .blue)
        XCTAssertEqual(color(boxed, 5, 5), .white)
    }

    /// A 16x12 map with one peak, overlaid on a 64x48 grey image: pixels under the peak change
    /// strongly (towards the jet colour of 1, dark red); where the resized map is 0 the image
    /// is unchanged (tolerance 0, the blend weight is alpha * 0).
    func testHeatmapOverlayChangesOnlyWhereTheMapIsHigh() {
        let grey = Image(width: 64, height: 48, fill: (128, 128, 128))
        var map = [Float](repeating: 0, count: 16 * 12)
        map[6 * 16 + 8] = 1
        map[6 * 16 + 9] = 0.5
        let out = grey.overlayingHeatmap(map, width: 16, height: 12, alpha: 0.7)
        // Map cell (8, 6) covers image pixels 32...35 x 24...27; its centre maps to (33.5, 25.5).
        let peak = color(out, 34, 26)
        XCTAssertGreaterThan(Int(peak.r), 140)
        XCTAssertLessThan(Int(peak.b), 60)
        XCTAssertEqual(color(out, 2, 2), Color(128, 128, 128))
        XCTAssertEqual(color(out, 60, 45), Color(128, 128, 128))
        XCTAssertEqual(color(out, 20, 26), Color(128, 128, 128))
        XCTAssertEqual(Image.jetColor(0), Color(0, 0, 128))
        XCTAssertEqual(Image.jetColor(1), Color(128, 0, 0))
        XCTAssertEqual(Image.jetColor(0.5), Color(128, 255, 128))
        // A map whose count does not match its size leaves the image as it is.
        XCTAssertEqual(grey.overlayingHeatmap([1, 2, 3], width: 2, height: 2, alpha: 1), grey)
        // Normalised: a map peaking at 0.2 colours like one peaking at 1.
        let faint = map.map { $0 * 0.2 }
        XCTAssertEqual(grey.overlayingHeatmap(faint, width: 16, height: 12, alpha: 0.7, normalize: true), out)
    }

    func testPersonPhotoFixtureLoads() throws {
        let photo = try Image.load(ImagingFixtures.url("person.jpg"))
        XCTAssertEqual(photo.width, 320)
        XCTAssertEqual(photo.height, 240)
        let sky = color(photo, 10, 10), grass = color(photo, 10, 230)
        XCTAssertGreaterThan(sky.b, sky.r)
        XCTAssertGreaterThan(grass.g, grass.b)
    }
}
