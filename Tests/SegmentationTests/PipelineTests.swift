import DNN
import Foundation
import HRNet
import Imaging
@testable import Segmentation
import TestSupport
import XCTest

/// The whole test pipeline on the tiny segmentation models against the official procedure run
/// in PyTorch (make_segmentation_fixtures.py): normalization, logits, multi-scale + flip,
/// sliding windows of both placements, padding, resizing back, arg-max.
///
/// Tolerance 1e-4 relative (|a - b| <= 1e-4 * max(1, |b|)): the logits agree to ~1e-6 (fp32 sums
/// in another order; see GoldenTests) and the scores are exp(logits) summed over up to three
/// scales, so their absolute error grows with their size (up to ~630 in one case).
final class PipelineTests: XCTestCase {
    let tolerance: Float = 1e-4

    func photo() throws -> Image { try Image.load(SegFixtures.url("photo.png")) }

    func testNormalizationMatchesOfficialInputTransform() throws {
        let (model, parameters) = try SegFixtures.model("tiny_seg")
        let segmenter = try Segmenter(model: model, parameters: parameters, threads: 1)
        let expected = try NPY.read(SegFixtures.url("input.npy"))
        let got = segmenter.normalize(try photo())
        XCTAssertEqual(expected.shape, [3, 48, 80])
        // float32 (x/255 - mean)/std against numpy's float64 mean/std arithmetic: last-bit differences.
        XCTAssertLessThan(maxRelativeError(got, expected.scalars), 1e-6)
    }

    func testLogitsUpsampledToTheInput() throws {
        let (model, parameters) = try SegFixtures.model("tiny_seg")
        let segmenter = try Segmenter(model: model, parameters: parameters, threads: 1)
        let input = try NPY.read(SegFixtures.url("input.npy"))
        let expected = try NPY.read(SegFixtures.url("logits.npy"))
        let got = try segmenter.logits(normalized: input.scalars, height: 48, width: 80, flip: false)
        XCTAssertEqual(expected.shape, [4, 48, 80])
        XCTAssertLessThan(maxRelativeError(got, expected.scalars), tolerance)
    }

    func testEveryCaseMatchesTheOfficialMultiScaleInference() throws {
        let cases = try SegFixtures.cases()
        XCTAssertEqual(cases.count, 6)
        let image = try photo()
        for c in cases {
            let (model, parameters) = try SegFixtures.model(c.model)
            let options = Segmenter.Options(scales: c.scales, flip: c.flip, baseSize: c.baseSize, crop: c.crop, policy: c.policy)
            let segmenter = try Segmenter(model: model, parameters: parameters, options: options, threads: 1)
            let prediction = try segmenter.segment(image)
            let expected = try NPY.read(SegFixtures.url(c.name + ".npy"))
            XCTAssertEqual(expected.shape, [4, 48, 80], c.name)
            let err = maxRelativeError(prediction.scores, expected.scalars)
            XCTAssertLessThan(err, tolerance, "\(c.name): max relative error \(err)")
            // Arg-max: equal wherever the reference's top two scores are not within the tolerance.
            let reference = SegmentationPrediction.argmax(expected.scalars, classes: 4, height: 48, width: 80)
            var differ = 0
            for p in 0..<(48 * 80) where reference.labels[p] != prediction.labels.labels[p] {
                let a = expected.scalars[Int(reference.labels[p]) * 3840 + p]
                let b = expected.scalars[Int(prediction.labels.labels[p]) * 3840 + p]
                if abs(a - b) > 1e-3 * max(1, abs(a)) { differ += 1 }
            }
            XCTAssertEqual(differ, 0, c.name)
        }
    }

    /// Window placement, checked by hand against base_dataset.py / cityscapes.py arithmetic.
    func testWindowLayouts() {
        // Official: 48x80 in 32x56 crops: strides 21 and 37, 2 x 2 windows, bottom/right cut.
        let a = WindowLayout(height: 48, width: 80, crop: (32, 56), policy: .official, scale: 1)
        XCTAssertEqual(a.windows.map { [$0.y0, $0.y1, $0.x0, $0.x1] }, [[0, 32, 0, 56], [0, 32, 37, 80], [21, 48, 0, 56], [21, 48, 37, 80]])
        XCTAssertTrue(a.windows.allSatisfy { $0.inputHeight == 32 && $0.inputWidth == 56 })
        // Official, small image: one padded run.
        let b = WindowLayout(height: 24, width: 40, crop: (48, 48), policy: .official, scale: 0.5)
        XCTAssertEqual(b.windows, [Window(y0: 0, y1: 24, x0: 0, x1: 40, inputHeight: 48, inputWidth: 48)])
        // Official, smaller than the crop in one axis only: padded canvas.
        let c = WindowLayout(height: 30, width: 100, crop: (32, 48), policy: .official, scale: 1)
        XCTAssertEqual(c.canvasHeight, 32)
        XCTAssertEqual(c.windows.count, 3)  // ceil((100-48)/32)+1
        // Cityscapes 1024x2048 at 1.5 (1536x3072) in 1024x2048 crops: windows moved back inside.
        let d = WindowLayout(height: 1536, width: 3072, crop: (1024, 2048), policy: .cityscapes, scale: 1.5)
        XCTAssertEqual(d.windows.map { [$0.y0, $0.y1, $0.x0, $0.x1] },
                       [[0, 1024, 0, 2048], [0, 1024, 1024, 3072], [512, 1536, 0, 2048], [512, 1536, 1024, 3072]])
        // Cityscapes at scale <= 1: the whole image, any size.
        let e = WindowLayout(height: 768, width: 1536, crop: (1024, 2048), policy: .cityscapes, scale: 0.75)
        XCTAssertEqual(e.windows, [Window(y0: 0, y1: 768, x0: 0, x1: 1536, inputHeight: 768, inputWidth: 1536)])
        // Scaled sizes (multi_scale_aug): long side int(base*s+0.5), the other rounded half up.
        XCTAssertTrue(scaledSize(height: 1024, width: 2048, baseSize: 2048, scale: 0.75) == (768, 1536))
        XCTAssertTrue(scaledSize(height: 48, width: 80, baseSize: 80, scale: 0.75) == (36, 60))
        XCTAssertTrue(scaledSize(height: 375, width: 500, baseSize: 520, scale: 1.25) == (488, 650))
    }

    /// Plans are compiled once per input shape and at most `maxCachedPlans` are kept.
    func testPlanCacheIsBounded() throws {
        let (model, parameters) = try SegFixtures.model("tiny_seg")
        let segmenter = try Segmenter(model: model, parameters: parameters,
                                      options: .init(scales: [1], flip: false, baseSize: 32, crop: (64, 64), policy: .cityscapes), threads: 1)
        segmenter.maxCachedPlans = 2
        // Shapes A, B, A (cached), C (evicts B, the least recently used), A (still cached), B (again).
        let sizes = [(32, 40), (40, 32), (32, 40), (24, 32), (32, 40), (40, 32)]
        for (w, h) in sizes { _ = try segmenter.segment(Image(width: w, height: h, fill: (90, 120, 30))) }
        XCTAssertEqual(segmenter.compiledPlans, 4)
    }

    /// A long segmentation tells its caller about each window: two scales of a 40x72 image with
    /// 32x32 windows; the counts run 1...total once, total = every scale's window count.
    func testWindowProgress() throws {
        let (model, parameters) = try SegFixtures.model("tiny_seg")
        let options = Segmenter.Options(scales: [1, 1.5], flip: false, baseSize: 72, crop: (32, 32), policy: .cityscapes)
        let segmenter = try Segmenter(model: model, parameters: parameters, options: options, threads: 1)
        var calls: [(Int, Int)] = []
        segmenter.windowDone = { calls.append(($0, $1)) }
        _ = try segmenter.segment(Image(width: 72, height: 40, fill: (90, 120, 30)))
        let expected = options.scales.reduce(0) { n, s in
            let (h, w) = scaledSize(height: 40, width: 72, baseSize: 72, scale: s)
            return n + WindowLayout(height: h, width: w, crop: (32, 32), policy: .cityscapes, scale: s).windows.count
        }
        XCTAssertGreaterThan(expected, 2)
        XCTAssertEqual(calls.map(\.0), Array(1...expected))
        XCTAssertTrue(calls.allSatisfy { $0.1 == expected })
    }

    /// `labels` equals `segment(...).labels` pixel for pixel, also when it works in bands of rows
    /// from the scales' outputs (the 80x48 photo with base size 40: the banded path; 5 rows a
    /// band; flip on; align corners both ways through the two fixture models).
    func testLabelsInBandsEqualTheWholeArgMax() throws {
        for name in ["tiny_seg", "tiny_seg_ac_false"] {
            // Random weights: the fixture models call nearly every pixel of the photo one class.
            let model = try SegFixtures.model(name).0
            let parameters = model.graph.randomParameters(seed: 3)
            let options = Segmenter.Options(scales: [0.5, 0.75, 1], flip: true, baseSize: 40, crop: (32, 32), policy: .cityscapes)
            let segmenter = try Segmenter(model: model, parameters: parameters, options: options, threads: 1)
            let image = try photo()   // 80 x 48, the official cases' photo
            let whole = try segmenter.segment(image).labels
            segmenter.bandBytes = segmenter.classes * image.width * 4 * 5
            let banded = try segmenter.labels(image)
            XCTAssertEqual(banded, whole, name)
            XCTAssertGreaterThan(Set(whole.labels).count, 1, "a flat answer would prove nothing")
            // Smaller than the base size: the whole path (the scales' outputs would be larger).
            let small = Image(width: 20, height: 12, fill: (30, 200, 90))
            XCTAssertEqual(try segmenter.labels(small), try segmenter.segment(small).labels)
        }
    }

    func testBadOptionsAndModels() throws {
        let (model, parameters) = try SegFixtures.model("tiny_seg")
        var o = Segmenter.Options(config: model.config)
        o.scales = []
        XCTAssertThrowsError(try Segmenter(model: model, parameters: parameters, options: o)) { XCTAssertTrue("\($0)".contains("scales")) }
        o = Segmenter.Options(config: model.config)
        o.crop = (1, 10)
        XCTAssertThrowsError(try Segmenter(model: model, parameters: parameters, options: o)) { XCTAssertTrue("\($0)".contains("crop")) }
        o = Segmenter.Options(config: model.config)
        o.scales = [16]
        o.baseSize = 100_000
        let huge = try Segmenter(model: model, parameters: parameters, options: o)
        XCTAssertThrowsError(try huge.segment(try photo())) { XCTAssertTrue("\($0)".contains("above the limit"), "\($0)") }
        let pose = HRNetModel(config: try HRNetConfig.load(Fixtures.url("hrnet/tiny_pose.yaml")))
        XCTAssertThrowsError(try Segmenter(model: pose, parameters: [:])) { XCTAssertTrue("\($0)".contains("seg_hrnet")) }
    }
}
