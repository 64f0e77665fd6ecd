import Foundation
import XCTest
import Classification
import DNN
import Imaging
import TestSupport

/// The validation and training transforms against torchvision 0.29 on PIL 13
/// (Tests/Fixtures/classify/make_preprocess_fixtures.py).
final class PreprocessingTests: XCTestCase {
    struct Case: Decodable {
        let image: String
        let source_size: [Int]
        let size: Int
        let resize: Int
        let resized_size: [Int]
        let crop_left: Int
        let crop_top: Int
        let file: String
        let samples: [[Double]]
        let channel_means: [Double]
    }
    struct Box: Decodable { let top, left, height, width, size: Int; let file: String }
    struct Reference: Decodable { let cases: [Case]; let resized_crop: Box }

    func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.url("classify/preprocess.json")))
    }

    /// Resize(int(size / 0.875)) + CenterCrop(size) on person.jpg (320x240: long side 341.33 ->
    /// 341, crop left round(58.5) = 58, ties to even) and a 263x411 portrait PNG (upsampled to
    /// 256x400), at 224 and 64. The uint8 crops equal torchvision's exactly (PIL's integer
    /// bilinear, libjpeg-turbo's decode as PIL's); the normalized floats then differ only by
    /// float rounding: 1e-6 (values are O(2), one ulp ~2.4e-7, and torchvision divides by 255
    /// and by std as we do, so most are bit-equal). Channel means (over 50k values, summed in
    /// double here and in torch) to 1e-5.
    func testValidationTransformMatchesTorchvision() throws {
        let ref = try reference()
        XCTAssertEqual(ref.cases.count, 4)
        for c in ref.cases {
            let image = try Image.load(Fixtures.url(c.image), applyOrientation: false)
            XCTAssertEqual([image.width, image.height], c.source_size)
            let pre = ClassificationPreprocessing.imageNet(size: c.size)
            XCTAssertEqual(pre.resize, c.resize)
            let resized = ClassificationPreprocessing.resizedSize(width: image.width, height: image.height, shorter: pre.resize)
            XCTAssertEqual([resized.width, resized.height], c.resized_size, c.image)
            XCTAssertEqual(ClassificationPreprocessing.centerOffset(length: resized.width, crop: c.size), c.crop_left, c.image)
            XCTAssertEqual(ClassificationPreprocessing.centerOffset(length: resized.height, crop: c.size), c.crop_top, c.image)

            let crop = pre.prepared(image)
            let expected = try Image.load(Fixtures.url("classify/\(c.file)"))
            XCTAssertEqual(crop.width, c.size)
            let differing = zip(crop.pixels, expected.pixels).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(c.file): samples differing from torchvision's crop")

            let x = pre.batch([image])
            XCTAssertEqual(x.shape, [1, 3, c.size, c.size])
            let plane = c.size * c.size
            var worst: Float = 0
            for s in c.samples {
                let (ch, y, xx) = (Int(s[0]), Int(s[1]), Int(s[2]))
                worst = max(worst, abs(x.scalars[ch * plane + y * c.size + xx] - Float(s[3])))
            }
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(c.file): sampled normalized values")
            for ch in 0..<3 {
                let mean = x.scalars[(ch * plane)..<((ch + 1) * plane)].reduce(0.0) { $0 + Double($1) } / Double(plane)
                XCTAssertEqual(mean, c.channel_means[ch], accuracy: 1e-5, "\(c.file) channel \(ch)")
            }
        }
    }

    /// RandomResizedCrop's crop + resize for a fixed box equals torchvision's `F.resized_crop`
    /// (antialiased PIL bilinear) exactly.
    func testResizedCropMatchesTorchvision() throws {
        let box = try reference().resized_crop
        let image = try Image.load(Fixtures.url("imaging/person.jpg"), applyOrientation: false)
        let augmentation = TrainAugmentation(width: box.size, height: box.size)
        let out = augmentation.apply(image, box: .init(x: box.left, y: box.top, width: box.width, height: box.height), flip: false)
        let expected = try Image.load(Fixtures.url("classify/\(box.file)"))
        XCTAssertEqual(out.pixels, expected.pixels)
        // The flip mirrors each row.
        let flipped = augmentation.apply(image, box: .init(x: box.left, y: box.top, width: box.width, height: box.height), flip: true)
        XCTAssertEqual(flipped.pixel(x: 0, y: 5).map { [$0.0, $0.1, $0.2] }, out.pixel(x: box.size - 1, y: 5).map { [$0.0, $0.1, $0.2] })
    }

    /// get_params: boxes stay inside the image with area and aspect in range (up to the
    /// rounding of w and h to integers); impossible draws fall back to torchvision's central
    /// crop, worked out by hand from its formula.
    func testRandomResizedCropBoxes() {
        let augmentation = TrainAugmentation(width: 32, height: 32)
        var random = ClassificationRandom(seed: 3)
        var areas: [Double] = []
        for _ in 0..<500 {
            let b = augmentation.box(width: 320, height: 240, random: &random)
            XCTAssertTrue(b.x >= 0 && b.y >= 0 && b.x + b.width <= 320 && b.y + b.height <= 240, "\(b)")
            let aspect = Double(b.width) / Double(b.height)
            XCTAssertTrue(aspect > 0.7 && aspect < 1.4, "\(b)")
            areas.append(Double(b.width * b.height) / (320 * 240))
        }
        XCTAssertGreaterThan(areas.min()!, 0.07)
        XCTAssertLessThanOrEqual(areas.max()!, 1)
        XCTAssertGreaterThan(areas.max()!, 0.8, "large crops occur")
        // 1000 x 10: in_ratio 100 > 4/3 -> h = 10, w = round(10 * 4/3) = 13, centred at (1000 - 13) // 2 = 493.
        XCTAssertEqual(TrainAugmentation.fallbackBox(width: 1000, height: 10, ratio: (3.0 / 4)...(4.0 / 3)),
                       .init(x: 493, y: 0, width: 13, height: 10))
        // 10 x 1000: w = 10, h = round(10 / 0.75) = 13, y = 493.
        XCTAssertEqual(TrainAugmentation.fallbackBox(width: 10, height: 1000, ratio: (3.0 / 4)...(4.0 / 3)),
                       .init(x: 0, y: 493, width: 10, height: 13))
        XCTAssertEqual(TrainAugmentation.fallbackBox(width: 50, height: 40, ratio: (3.0 / 4)...(4.0 / 3)), .init(x: 0, y: 0, width: 50, height: 40))
        // On a 1000 x 10 image no draw fits: h = sqrt(area / aspect) >= sqrt(800 / (4/3)) = 24.5 > 10
        // rows, so every call ends in the fallback.
        for _ in 0..<20 {
            XCTAssertEqual(augmentation.box(width: 1000, height: 10, random: &random), .init(x: 493, y: 0, width: 13, height: 10))
        }
    }

    /// A crop larger than the image is padded with black, centred as torchvision pads then crops.
    func testCenterCropPadsSmallImages() throws {
        let image = Image(width: 10, height: 30, fill: (200, 100, 50))
        let pre = ClassificationPreprocessing(resize: 10, cropWidth: 16, cropHeight: 16)
        let out = pre.prepared(image)   // shorter side already 10: no resize; 10 wide -> 3 black columns left, 3 right
        XCTAssertEqual(out.width, 16)
        XCTAssertEqual(out.pixel(x: 2, y: 8).map { $0.0 }, 0)
        XCTAssertEqual(out.pixel(x: 3, y: 8).map { $0.0 }, 200)
        XCTAssertEqual(out.pixel(x: 12, y: 8).map { $0.0 }, 200)
        XCTAssertEqual(out.pixel(x: 13, y: 8).map { $0.0 }, 0)
        XCTAssertEqual(ClassificationPreprocessing.centerOffset(length: 35, crop: 2), 16)   // round(16.5) = 16 (ties to even)
        XCTAssertEqual(ClassificationPreprocessing.centerOffset(length: 37, crop: 2), 18)   // round(17.5) = 18
    }
}
