import XCTest
import HRNet
import Imaging
import Pose
@testable import PoseTraining
import TestSupport

/// The official training transform against Tests/Fixtures/posedata/make_posedata_fixtures.py,
/// which writes out JointsDataset.__getitem__ (half body, scale, rotation, flip, affine crop,
/// joints, Gaussian targets) with its random numbers passed in as draws.
final class AugmentationTests: XCTestCase {
    struct Cases: Decodable {
        struct Case: Decodable {
            let center: [Double], scale: [Double], rotation: Double, flipped: Bool, half_body: Bool
            let transform: [Double], joints: [[Double]], visibility: [Double], target: [Float], target_weight: [Float]
            let sample_center: [Double], sample_scale: [Double], sample_joints: [[Double]], sample_visibility: [Double]
            let draws: [String: Double]
        }
        let image_size: [Int], heatmap_size: [Int], sigma: Double, scale_factor: Double, rotation_factor: Double
        let image_width: Int
        let cases: [Case]
    }

    static func load() throws -> Cases {
        try JSONDecoder().decode(Cases.self, from: Data(contentsOf: Fixtures.url("posedata/training_cases.json")))
    }

    func draws(_ d: [String: Double]) -> AugmentationDraws {
        AugmentationDraws(halfBodyUniform: d["half_uniform"]!, halfBodyNormal: d["half_normal"]!, scaleNormal: d["scale_normal"]!,
                          rotationUniform: d["rotation_uniform"]!, rotationNormal: d["rotation_normal"]!, flipUniform: d["flip_uniform"]!)
    }

    func augmentation(_ c: Cases) -> PoseAugmentation {
        var a = PoseAugmentation(imageSize: (c.image_size[0], c.image_size[1]), heatmapSize: (c.heatmap_size[0], c.heatmap_size[1]))
        (a.sigma, a.scaleFactor, a.rotationFactor) = (c.sigma, c.scale_factor, c.rotation_factor)
        return a
    }

    func testTrainingTransformMatchesOfficial() throws {
        let cases = try Self.load()
        let aug = augmentation(cases)
        let image = try Image.load(Fixtures.url("imaging/warp_source.png"))
        let crops = try Data(contentsOf: Fixtures.url("posedata/training_crops.rgb"))
        let cropBytes = 3 * aug.imageSize.width * aug.imageSize.height
        XCTAssertEqual(crops.count, cropBytes * cases.cases.count)
        var sawHalfBody = 0, sawFlip = 0, sawRotation = 0
        for (k, c) in cases.cases.enumerated() {
            let sample = KeypointSample(image: Fixtures.url("imaging/warp_source.png"), center: Point(c.sample_center[0], c.sample_center[1]),
                                        scale: (c.sample_scale[0], c.sample_scale[1]),
                                        joints: c.sample_joints.map { Point($0[0], $0[1]) }, visibility: c.sample_visibility)
            let e = aug.example(sample, image: image, flipPairs: KeypointSet.coco.flipPairs, upperBody: Set(0...10), draws: draws(c.draws))
            let what = "case \(k)"
            XCTAssertEqual(e.crop.flipped, c.flipped, what)
            XCTAssertEqual(e.crop.halfBody, c.half_body, what)
            // The official center and scale are float32: agreement to float32 precision.
            XCTAssertEqual(e.crop.crop.center.x, c.center[0], accuracy: 1e-4, what)
            XCTAssertEqual(e.crop.crop.center.y, c.center[1], accuracy: 1e-4, what)
            XCTAssertEqual(e.crop.crop.scale.w, c.scale[0], accuracy: 1e-6, what)
            XCTAssertEqual(e.crop.crop.scale.h, c.scale[1], accuracy: 1e-6, what)
            XCTAssertEqual(e.crop.crop.rotation, c.rotation, accuracy: 1e-9, what)
            // cv2.getAffineTransform of float32 points: ~1e-5 relative.
            for i in 0..<6 { XCTAssertEqual(e.transform.m[i], c.transform[i], accuracy: 1e-4 * max(1, abs(c.transform[i])), "\(what) m[\(i)]") }
            XCTAssertEqual(e.visibility, c.visibility, what)
            for j in 0..<17 {
                XCTAssertEqual(e.joints[j].x, c.joints[j][0], accuracy: 2e-3, "\(what) joint \(j)")
                XCTAssertEqual(e.joints[j].y, c.joints[j][1], accuracy: 2e-3, "\(what) joint \(j)")
            }
            XCTAssertEqual(e.targetWeight, c.target_weight, what)
            XCTAssertEqual(e.target.count, c.target.count, what)
            // float32 Gaussian values (numpy's exp vs ours): 1e-6.
            var worst: Float = 0
            for i in 0..<e.target.count { worst = max(worst, abs(e.target[i] - c.target[i])) }
            XCTAssertLessThan(worst, 1e-6, "\(what) target")
            // The crop: OpenCV bilinear of the same image; the matrices differ in the last float32
            // bits (the official one comes from float32 points), so a pixel may round the other way.
            let expected = [UInt8](crops[(k * cropBytes)..<((k + 1) * cropBytes)])
            let patch = (c.flipped ? image.applying(.upMirrored) : image)
                .warpAffine(e.transform.m, width: aug.imageSize.width, height: aug.imageSize.height)
            var off = 0, maxDiff = 0
            for i in 0..<cropBytes {
                let d = abs(Int(patch.pixels[i]) - Int(expected[i]))
                maxDiff = max(maxDiff, d)
                if d > 0 { off += 1 }
            }
            XCTAssertLessThanOrEqual(maxDiff, 2, "\(what) crop")
            XCTAssertLessThan(Double(off) / Double(cropBytes), 0.02, "\(what) crop")
            // The normalized input is that crop.
            XCTAssertEqual(e.input, patch.normalizedCHW(mean: aug.mean, std: aug.std), what)
            sawHalfBody += c.half_body ? 1 : 0; sawFlip += c.flipped ? 1 : 0; sawRotation += c.rotation != 0 ? 1 : 0
        }
        XCTAssertGreaterThanOrEqual(sawHalfBody, 3)
        XCTAssertGreaterThanOrEqual(sawFlip, 3)
        XCTAssertGreaterThanOrEqual(sawRotation, 3)
    }

    /// The check: paint a dot at a joint, transform image and joints with random
    /// augmentations; the dot's centroid in the crop lies within 1 px of the transformed joint
    /// (after a flip, the joint's left/right partner carries the position).
    func testPaintedKeypointLandsOnTransformedJoint() throws {
        var aug = PoseAugmentation.coco(width: 96, height: 128)
        aug.halfBodyProbability = 0.5
        var random = AugmentationRandom(seed: 5)
        var checked = 0, flips = 0
        let base = Image(width: 240, height: 200, fill: (0, 0, 0))
        let joints: [Point] = (0..<17).map { (j: Int) -> Point in
            let jd = Double(j)
            let x: Double = 90 + Double(j % 5) * 14 + 0.3 * jd
            return Point(x, 40 + jd * 8.2)
        }
        let sample = KeypointSample(image: URL(fileURLWithPath: "/none"), center: Point(120, 105), scale: (0.75, 1.0),
                                    joints: joints, visibility: Array(repeating: 1, count: 17))
        for trial in 0..<24 {
            let j = trial % 17
            var image = base
            image.drawCircle(center: joints[j], radius: 2.5, color: .white, antialiased: true)
            let draws = AugmentationDraws(&random)
            let e = aug.example(sample, image: image, flipPairs: KeypointSet.coco.flipPairs, upperBody: Set(0...10), draws: draws)
            let patch = (e.crop.flipped ? image.applying(.upMirrored) : image).warpAffine(e.transform.m, width: 96, height: 128)
            // The joint whose label the painted one carries after the transform.
            var target = j
            if e.crop.flipped { for p in KeypointSet.coco.flipPairs where p.contains(j) { target = p[0] == j ? p[1] : p[0] } }
            let p = e.joints[target]
            guard p.x > 3, p.y > 3, p.x < 92, p.y < 124 else { continue }  // dot outside the crop
            var sum = 0.0, sx = 0.0, sy = 0.0
            for y in 0..<128 { for x in 0..<96 {
                let v = Double(patch.pixels[(y * 96 + x) * 3])
                sum += v; sx += v * Double(x); sy += v * Double(y)
            } }
            XCTAssertGreaterThan(sum, 0, "trial \(trial): the dot vanished")
            XCTAssertEqual(sx / sum, p.x, accuracy: 1, "trial \(trial), joint \(j), flipped \(e.crop.flipped)")
            XCTAssertEqual(sy / sum, p.y, accuracy: 1, "trial \(trial), joint \(j), flipped \(e.crop.flipped)")
            checked += 1
            flips += e.crop.flipped ? 1 : 0
        }
        XCTAssertGreaterThan(checked, 15)
        XCTAssertGreaterThan(flips, 3)
    }

    /// With DATASET.UNBIASED_ENCODING the heatmaps of augmented examples centre on the transformed
    /// joint itself (x / 4), not on its rounded cell: the centroid of each map is within 0.02 cells
    /// of it, for joints at least 3.5 sigma inside the map. Rounded targets miss by up to 0.5.
    func testUnbiasedTargetsFollowTheTransformedJoint() throws {
        var aug = PoseAugmentation.coco(width: 96, height: 128)
        aug.unbiasedEncoding = true
        var random = AugmentationRandom(seed: 9)
        let joints: [Point] = (0..<17).map { (j: Int) -> Point in
            let x: Double = 100 + Double(j % 4) * 9.7
            return Point(x, 50 + Double(j) * 6.3)
        }
        let sample = KeypointSample(image: URL(fileURLWithPath: "/none"), center: Point(120, 105), scale: (0.75, 1.0),
                                    joints: joints, visibility: Array(repeating: 1, count: 17))
        let image = Image(width: 240, height: 200, fill: (0, 0, 0))
        var checked = 0, offCell = 0
        for _ in 0..<8 {
            let e = aug.example(sample, image: image, flipPairs: KeypointSet.coco.flipPairs, upperBody: Set(0...10),
                                draws: AugmentationDraws(&random))
            for j in 0..<17 where e.targetWeight[j] > 0 {
                let (mx, my) = (e.joints[j].x / 4, e.joints[j].y / 4)
                guard mx > 7, mx < 17, my > 7, my < 25 else { continue }
                var sum = 0.0, sx = 0.0, sy = 0.0
                for y in 0..<32 { for x in 0..<24 {
                    let v = Double(e.target[j * 24 * 32 + y * 24 + x])
                    sum += v; sx += v * Double(x); sy += v * Double(y)
                } }
                XCTAssertEqual(sx / sum, mx, accuracy: 0.02, "joint \(j)")
                XCTAssertEqual(sy / sum, my, accuracy: 0.02, "joint \(j)")
                checked += 1
                if abs(mx - mx.rounded()) > 0.1 || abs(my - my.rounded()) > 0.1 { offCell += 1 }
            }
        }
        XCTAssertGreaterThan(checked, 20)
        XCTAssertGreaterThan(offCell, 10, "joints between cells, where rounding would show")
    }

    func testFlipPairsSwap() {
        let joints: [Point] = (0..<17).map { Point(Double($0) * 10 + 1, Double($0) + 0.5) }
        var visibility = [Double](repeating: 1, count: 17)
        visibility[4] = 0  // right ear unlabelled
        let (out, vis) = KeypointFlip.mirror(joints: joints, visibility: visibility, width: 200, pairs: KeypointSet.coco.flipPairs)
        XCTAssertEqual(out[0].x, 200 - 1 - 1, accuracy: 1e-12)  // nose: mirrored, stays index 0
        for pair in KeypointSet.coco.flipPairs {
            let (a, b) = (pair[0], pair[1])
            XCTAssertEqual(vis[a], visibility[b])
            XCTAssertEqual(vis[b], visibility[a])
            if visibility[b] > 0 {
                XCTAssertEqual(out[a].x, 199 - joints[b].x, accuracy: 1e-12)
                XCTAssertEqual(out[a].y, joints[b].y, accuracy: 1e-12)
            }
        }
        // The unlabelled right ear became the left ear's slot (index 3), at (0, 0) as official.
        XCTAssertEqual(vis[3], 0)
        XCTAssertEqual(out[3].x, 0); XCTAssertEqual(out[3].y, 0)
        // Mirroring twice gives the labelled joints back.
        let (back, backVis) = KeypointFlip.mirror(joints: out, visibility: vis, width: 200, pairs: KeypointSet.coco.flipPairs)
        XCTAssertEqual(backVis, visibility)
        for j in 0..<17 where visibility[j] > 0 { XCTAssertEqual(back[j].x, joints[j].x, accuracy: 1e-12) }
    }

    /// Half body keeps the right joints: the upper-body crop holds the upper joints and not the
    /// ankles; the lower-body crop the reverse; too few joints give no crop.
    func testHalfBodyKeepsTheRightJoints() throws {
        let joints: [Point] = [Point(100, 40), Point(104, 37), Point(96, 37), Point(108, 39), Point(92, 39), Point(115, 60), Point(85, 60),
                                                Point(120, 85), Point(80, 85), Point(122, 108), Point(78, 108), Point(110, 120), Point(90, 120),
                                                Point(112, 165), Point(88, 165), Point(113, 210), Point(87, 210)]
        let vis = [Double](repeating: 1, count: 17)
        let upper = try XCTUnwrap(HalfBody.crop(joints: joints, visibility: vis, upperBody: Set(0...10), upperNormal: 0, aspectRatio: 0.75))
        let crop = PersonCrop(center: upper.center, scale: upper.scale)
        func inside(_ p: Point, _ c: PersonCrop) -> Bool {
            let q = c.transform(width: 192, height: 256).apply(p)
            return q.x >= 0 && q.y >= 0 && q.x < 192 && q.y < 256
        }
        for j in 0...10 { XCTAssertTrue(inside(joints[j], crop), "upper joint \(j)") }
        for j in 15...16 { XCTAssertFalse(inside(joints[j], crop), "ankle \(j) in the upper-body crop") }
        XCTAssertEqual(upper.center.x, (0...10).map { joints[$0].x }.reduce(0, +) / 11, accuracy: 1e-12)
        // Extent 44 x 71 -> widened to 53.25 x 71, / 200, x 1.5.
        XCTAssertEqual(upper.scale.h, 71.0 / 200 * 1.5, accuracy: 1e-12)
        XCTAssertEqual(upper.scale.w, 71.0 * 0.75 / 200 * 1.5, accuracy: 1e-12)

        let lower = try XCTUnwrap(HalfBody.crop(joints: joints, visibility: vis, upperBody: Set(0...10), upperNormal: 0.5, aspectRatio: 0.75))
        let lowerCrop = PersonCrop(center: lower.center, scale: lower.scale)
        for j in 11...16 { XCTAssertTrue(inside(joints[j], lowerCrop), "lower joint \(j)") }
        for j in 0...4 { XCTAssertFalse(inside(joints[j], lowerCrop), "face joint \(j) in the lower-body crop") }

        // Only 2 lower and 2 upper joints labelled: the upper body (not > 2) is not preferred,
        // the lower has 2 (not > 2) either, so the upper two are used; 1 joint: no crop.
        var few = [Double](repeating: 0, count: 17)
        few[0] = 1; few[5] = 1; few[15] = 1; few[16] = 1
        let two = try XCTUnwrap(HalfBody.crop(joints: joints, visibility: few, upperBody: Set(0...10), upperNormal: 0, aspectRatio: 0.75))
        XCTAssertEqual(two.center.x, (joints[0].x + joints[5].x) / 2, accuracy: 1e-12)
        var one = [Double](repeating: 0, count: 17)
        one[3] = 1; one[12] = 1
        XCTAssertNil(HalfBody.crop(joints: joints, visibility: one, upperBody: Set(0...10), upperNormal: 0, aspectRatio: 0.75))
    }

    func testRandomDrawsAreStandard() {
        var r = AugmentationRandom(seed: 1)
        let n = 200_000
        var s = 0.0, s2 = 0.0, u = 0.0, below = 0
        for _ in 0..<n {
            let z = r.normal(); s += z; s2 += z * z
            let v = r.uniform(); u += v
            XCTAssert(v >= 0 && v < 1)
            if z < 0.5 { below += 1 }
        }
        // Standard errors at n = 200k: mean 0.0022, variance 0.0032, uniform mean 0.00065.
        XCTAssertEqual(s / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(s2 / Double(n), 1, accuracy: 0.015)
        XCTAssertEqual(u / Double(n), 0.5, accuracy: 0.003)
        // P(N < 0.5) = 0.6915: how often the official half body picks the upper body.
        XCTAssertEqual(Double(below) / Double(n), 0.6915, accuracy: 0.005)
        // Same seed, same stream; per-sample streams differ.
        var a = AugmentationRandom(seed: 3, epoch: 1, index: 2), b = AugmentationRandom(seed: 3, epoch: 1, index: 2)
        var c = AugmentationRandom(seed: 3, epoch: 1, index: 3), d = AugmentationRandom(seed: 3, epoch: 2, index: 2)
        XCTAssertEqual(AugmentationDraws(&a), AugmentationDraws(&b))
        let x = AugmentationDraws(&c), y = AugmentationDraws(&d)
        var e = AugmentationRandom(seed: 3, epoch: 1, index: 2)
        let reference = AugmentationDraws(&e)
        XCTAssertNotEqual(x, reference)
        XCTAssertNotEqual(y, reference)
    }
}

extension AugmentationTests {
    /// The augmentation an experiment file describes: sizes and sigma from MODEL, the factors,
    /// flip and half body from DATASET (what `hrnet train` builds).
    func testAugmentationFromConfig() throws {
        let url = Fixtures.url("hrnet/tiny_pose.yaml")
        let config = try HRNetConfig.load(url)
        var training = try TrainingConfig.load(url)
        (training.scaleFactor, training.rotationFactor, training.flip, training.halfBodyProbability) = (0.25, 30, false, 0.1)
        let a = PoseAugmentation(config: config, training: training)
        XCTAssertTrue(a.imageSize == config.imageSize && a.heatmapSize == config.heatmapSize)
        XCTAssertEqual(a.sigma, config.sigma)
        XCTAssertEqual(a.scaleFactor, 0.25)
        XCTAssertEqual(a.rotationFactor, 30)
        XCTAssertFalse(a.flip)
        XCTAssertEqual(a.halfBodyProbability, 0.1)
        XCTAssertEqual(a.halfBodyJoints, training.halfBodyJoints)
        XCTAssertEqual(a.unbiasedEncoding, training.unbiasedEncoding)
    }
}
