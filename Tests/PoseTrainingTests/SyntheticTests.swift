import XCTest
import Datasets
import Imaging
import Pose
@testable import PoseTraining
import TestSupport

/// The synthetic keypoint data set: written files load back through the COCO readers with
/// consistent boxes, keypoints and visibility; generation is deterministic; bad output folders
/// are refused.
final class SyntheticTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString)")
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testWrittenSetLoadsBackConsistently() throws {
        var options = SyntheticKeypointSet.Options(images: 6)
        (options.seed, options.width, options.height, options.threads) = (4, 160, 120, 2)
        var reported: [Int] = []
        let summary = try SyntheticKeypointSet.write(to: dir, options: options) { reported.append($0) }
        XCTAssertEqual(reported.last, 6)
        XCTAssertEqual(summary.trainImages, 5)   // round(6 x 0.2) = 1 val image
        XCTAssertEqual(summary.valImages, 1)
        var people = 0
        for (split, ids) in [("train", 1...5), ("val", 6...6)] {
            let file = dir.appendingPathComponent("annotations/person_keypoints_\(split).json")
            let truth = try COCOGroundTruth.load(file)
            XCTAssertEqual(truth.imageIDs, Array(ids))
            XCTAssertEqual(truth.keypointNames[1], KeypointSet.coco.names)
            for id in ids {
                let info = try XCTUnwrap(truth.images[id])
                let image = try Image.load(dir.appendingPathComponent("images/\(split)/\(info.fileName)"))
                XCTAssertEqual([image.width, image.height], [160, 120])
                XCTAssertEqual([info.width, info.height], [160, 120])
            }
            for a in truth.annotations {
                people += 1
                let (x, y, w, h) = (a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3])
                XCTAssert(x >= 0 && y >= 0 && x + w <= 160.01 && y + h <= 120.01 && w > 0 && h > 0, "bbox \(a.bbox)")
                XCTAssert(a.area > 0 && a.area <= (w + 1) * (h + 1), "area \(a.area) vs bbox \(a.bbox)")
                XCTAssertEqual(a.keypoints.count, 51)
                var labelled = 0
                for j in 0..<17 {
                    let (kx, ky, v) = (a.keypoints[3 * j], a.keypoints[3 * j + 1], a.keypoints[3 * j + 2])
                    XCTAssert([0, 1, 2].contains(v))
                    if v == 0 { XCTAssertEqual([kx, ky], [0, 0]); continue }
                    labelled += 1
                    // Every labelled joint lies in the image and in its person's box.
                    XCTAssert(kx >= x - 0.01 && kx <= x + w + 0.01 && ky >= y - 0.01 && ky <= y + h + 0.01,
                              "joint \(j) (\(kx), \(ky)) outside bbox \(a.bbox)")
                }
                XCTAssertEqual(a.numKeypoints, labelled)
                XCTAssertGreaterThanOrEqual(labelled, 4)
            }
            // The training loader takes the split as it is (no keypoint outside, no missing file).
            let set = try KeypointDataset.coco(annotations: file, images: dir.appendingPathComponent("images/\(split)"), aspectRatio: 0.75)
            XCTAssertEqual(set.count, truth.annotations.count)
            let data = try PoseTrainingData(dataset: set, augmentation: .coco(width: 48, height: 64), seed: 1)
            let batch = try data.batch(Array(0..<min(4, set.count)), epoch: 0)
            XCTAssertGreaterThan(batch.targetWeight.scalars.reduce(0, +), 0)
        }
        XCTAssertEqual(people, summary.people)

        // The same seed gives the same images; a folder with files is refused without force.
        let again = dir.appendingPathComponent("again")
        _ = try SyntheticKeypointSet.write(to: again, options: options)
        for id in 1...5 {
            let name = "images/train/\(SyntheticKeypointSet.fileName(id: id))"
            XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent(name)), try Data(contentsOf: again.appendingPathComponent(name)))
        }
        XCTAssertThrowsError(try SyntheticKeypointSet.write(to: again, options: options)) { error in
            XCTAssertTrue("\(error)".contains("not empty"), "\(error)")
        }
        options.force = true
        XCTAssertNoThrow(try SyntheticKeypointSet.write(to: again, options: options))
    }

    /// Over many scenes: several people per image, every visibility flag, scenes that differ.
    func testScenesVaryAndUseEveryVisibilityFlag() {
        var flags = [0: 0, 1: 0, 2: 0], multi = 0, total = 0
        var first: [UInt8]?
        for index in 0..<40 {
            let scene = SyntheticScene.make(seed: 11, index: index, width: 128, height: 96)
            if index == 0 { first = scene.image.pixels } else { XCTAssertNotEqual(scene.image.pixels, first) }
            if scene.people.count > 1 { multi += 1 }
            for p in scene.people {
                total += 1
                for j in 0..<17 { flags[Int(p.keypoints[3 * j + 2]), default: 0] += 1 }
            }
        }
        XCTAssertGreaterThan(multi, 10)
        XCTAssertGreaterThan(total, 60)
        XCTAssertGreaterThan(flags[0]!, 20)
        XCTAssertGreaterThan(flags[1]!, 20)
        XCTAssertGreaterThan(flags[2]!, 500)
        // Deterministic per (seed, index).
        XCTAssertEqual(SyntheticScene.make(seed: 11, index: 3, width: 128, height: 96).image,
                       SyntheticScene.make(seed: 11, index: 3, width: 128, height: 96).image)
    }

    /// Scenes for detectors: some empty, some crowded, some people far away; the default
    /// variety makes exactly the scenes the pose sets were made of.
    func testVarietyForDetectors() {
        var variety = SyntheticScene.Variety()
        XCTAssertEqual(SyntheticScene.make(seed: 11, index: 7, width: 128, height: 96, variety: variety).image,
                       SyntheticScene.make(seed: 11, index: 7, width: 128, height: 96).image)
        (variety.emptyFraction, variety.smallestHeight, variety.extraPeople) = (0.2, 0.08, 4)
        var empty = 0, crowded = 0, small = 0
        for index in 0..<80 {
            let scene = SyntheticScene.make(seed: 11, index: index, width: 128, height: 96, variety: variety)
            if scene.people.isEmpty { empty += 1 }
            if scene.people.count >= 6 { crowded += 1 }
            small += scene.people.filter { $0.bbox[3] < 0.2 * 96 }.count
        }
        XCTAssertGreaterThan(empty, 5)
        XCTAssertGreaterThan(crowded, 2)
        XCTAssertGreaterThan(small, 10)
    }

    /// Visible boxes (COCO's convention for detectors): the same image; each box inside the
    /// whole figure's, and the whole figure's box where nothing covers the figure; smaller where
    /// an occluder or a nearer person hides an end of it.
    func testVisibleBoxes() {
        var variety = SyntheticScene.Variety()
        (variety.extraPeople, variety.smallestHeight) = (3, 0.1)
        var visibleVariety = variety
        visibleVariety.visibleBoxes = true
        var same = 0, shrunk = 0, people = 0
        for index in 0..<30 {
            let whole = SyntheticScene.make(seed: 17, index: index, width: 160, height: 120, variety: variety)
            let seen = SyntheticScene.make(seed: 17, index: index, width: 160, height: 120, variety: visibleVariety)
            XCTAssertEqual(whole.image, seen.image)
            XCTAssertLessThanOrEqual(seen.people.count, whole.people.count)
            // Match people by their keypoints (a person with nothing in view is left out).
            for p in seen.people {
                guard let w = whole.people.first(where: { $0.keypoints == p.keypoints }) else {
                    XCTFail("scene \(index): a visible person that is not in the scene"); continue
                }
                people += 1
                let (a, b) = (p.bbox, w.bbox)
                // Inside the figure's box, within the half pixel of the pixel grid.
                XCTAssertGreaterThanOrEqual(a[0], b[0] - 0.5); XCTAssertGreaterThanOrEqual(a[1], b[1] - 0.5)
                XCTAssertLessThanOrEqual(a[0] + a[2], b[0] + b[2] + 0.5); XCTAssertLessThanOrEqual(a[1] + a[3], b[1] + b[3] + 0.5)
                XCTAssertLessThanOrEqual(p.area, w.area)
                let gap = max(abs(a[0] - b[0]), abs(a[1] - b[1]), abs(a[0] + a[2] - b[0] - b[2]), abs(a[1] + a[3] - b[1] - b[3]))
                // Unoccluded and wholly in view: the same box. (A figure's box also spans shapes out
                // of view, e.g. a hand raised above the top edge widens it; the visible box does not.)
                let k = whole.people.firstIndex { $0.keypoints == p.keypoints }!
                let inView = whole.shapes.filter { $0.owner == k }.allSatisfy {
                    $0.bounds.x0 >= 0 && $0.bounds.y0 >= 0 && $0.bounds.x1 <= 160 && $0.bounds.y1 <= 120
                }
                if p.area == w.area, inView { XCTAssertLessThan(gap, 1.0, "scene \(index): unoccluded figure's box \(a) against \(b)") }
                if gap < 1 { same += 1 }
                if gap > 5 { shrunk += 1 }
            }
        }
        XCTAssertGreaterThan(same, people / 3, "\(same) of \(people) unchanged")
        XCTAssertGreaterThan(shrunk, 5, "\(shrunk) of \(people) shrunk by more than 5 pixels")
    }

    /// Extreme points (a box refiner's targets): the same image and boxes as visible boxes; each
    /// point a pixel that shows its person, on the box's edge (left and top on the box's first
    /// column and row, right and bottom one pixel inside its far edges, COCO's convention).
    func testExtremePoints() {
        var variety = SyntheticScene.Variety()
        (variety.extraPeople, variety.smallestHeight, variety.visibleBoxes) = (3, 0.1, true)
        var extremes = variety
        extremes.extremePoints = true
        var people = 0
        for index in 0..<20 {
            let boxes = SyntheticScene.make(seed: 19, index: index, width: 160, height: 120, variety: variety)
            let scene = SyntheticScene.make(seed: 19, index: index, width: 160, height: 120, variety: extremes)
            XCTAssertEqual(scene.image, boxes.image)
            XCTAssertEqual(scene.people.map(\.bbox), boxes.people.map(\.bbox))
            let owner = SyntheticScene.visibleOwners(scene.shapes, width: 160, height: 120)
            // People keep their figure's index in the owner map unless someone before them is out of view.
            let seen = Set(owner.filter { $0 >= 0 })
            for (n, p) in scene.people.enumerated() {
                people += 1
                XCTAssertEqual(p.keypoints.count, 12)
                XCTAssertEqual(p.numKeypoints, 4)
                let (x, y) = (stride(from: 0, to: 12, by: 3).map { Int(p.keypoints[$0]) }, stride(from: 1, to: 12, by: 3).map { Int(p.keypoints[$0]) })
                XCTAssertEqual(Double(x[0]), p.bbox[0]); XCTAssertEqual(Double(y[1]), p.bbox[1])
                XCTAssertEqual(Double(x[2] + 1), p.bbox[0] + p.bbox[2]); XCTAssertEqual(Double(y[3] + 1), p.bbox[1] + p.bbox[3])
                let who = owner[y[0] * 160 + x[0]]
                XCTAssertGreaterThanOrEqual(who, 0, "scene \(index) person \(n): the left point shows nobody")
                for j in 1..<4 { XCTAssertEqual(owner[y[j] * 160 + x[j]], who, "scene \(index) person \(n): point \(j) shows someone else") }
                XCTAssertEqual(stride(from: 2, to: 12, by: 3).map { p.keypoints[$0] }, [2, 2, 2, 2])
            }
            XCTAssertLessThanOrEqual(scene.people.count, seen.count)
        }
        XCTAssertGreaterThan(people, 30)
    }

    /// Visibility flags against a painted owner map: each scene's shapes are painted in order
    /// with their owner's id (pixel centres they cover); a visible joint's pixel shows its own
    /// person, a hidden one's shows someone or something else.
    func testVisibilityAgreesWithAPaintedOwnerMap() {
        var agree = 0, total = 0, hidden = 0
        for index in 0..<25 {
            let scene = SyntheticScene.make(seed: 5, index: index, width: 128, height: 96)
            var owner = [Int](repeating: -2, count: 128 * 96)
            for shape in scene.shapes {
                let b = shape.bounds
                let (ya, yb) = (max(0, Int(b.y0.rounded(.down))), min(96, Int(b.y1.rounded(.up)) + 1))
                let (xa, xb) = (max(0, Int(b.x0.rounded(.down))), min(128, Int(b.x1.rounded(.up)) + 1))
                guard ya < yb, xa < xb else { continue }
                for y in ya..<yb {
                    for x in xa..<xb where shape.covers(Point(Double(x), Double(y))) {
                        owner[y * 128 + x] = shape.owner
                    }
                }
            }
            for (i, p) in scene.people.enumerated() {
                for j in 0..<17 where p.keypoints[3 * j + 2] > 0 {
                    let x = Int(p.keypoints[3 * j].rounded()), y = Int(p.keypoints[3 * j + 1].rounded())
                    let shown = owner[y * 128 + x]
                    let visible = p.keypoints[3 * j + 2] == 2
                    total += 1
                    hidden += visible ? 0 : 1
                    if visible == (shown == i) { agree += 1 }
                }
            }
        }
        // Joints right at a shape's edge can fall either way once moved to the nearest pixel.
        XCTAssertGreaterThan(hidden, 10)
        XCTAssertGreaterThan(Double(agree) / Double(total), 0.97, "\(agree) of \(total)")
    }

    /// Boxes mirror as detectors flip them (x -> width - x, pixel i spanning [i, i + 1)) while
    /// the drawing mirrors pixel for pixel (x -> width - 1 - x): a shape drawn mirrored paints
    /// the mirrored image, and its box, whole or visible, is the box flipped. Boxes half a pixel
    /// short (pixel centres as box edges) fail this by a whole pixel.
    func testBoxesMirrorAsDetectorsFlipThem() {
        let (width, height) = (40, 30)
        let shapes: [SyntheticShape.Kind] = [
            .disc(center: Point(7.3, 11.6), radius: 3.2),
            .capsule(a: Point(12.25, 4.5), b: Point(26.8, 19.1), radius: 2.4),
            .capsule(a: Point(0.5, 20), b: Point(9, 27.7), radius: 1.7),  // cut by the left edge
        ]
        for kind in shapes {
            let mirroredKind: SyntheticShape.Kind
            switch kind {
            case let .disc(c, r): mirroredKind = .disc(center: Point(Double(width - 1) - c.x, c.y), radius: r)
            case let .capsule(a, b, r):
                mirroredKind = .capsule(a: Point(Double(width - 1) - a.x, a.y), b: Point(Double(width - 1) - b.x, b.y), radius: r)
            case .box: continue
            }
            let shape = SyntheticShape(kind: kind, color: .red, owner: 0)
            let mirrored = SyntheticShape(kind: mirroredKind, color: .red, owner: 0)
            var (image, image2) = (Image(width: width, height: height, fill: (0, 0, 0)), Image(width: width, height: height, fill: (0, 0, 0)))
            shape.draw(on: &image)
            mirrored.draw(on: &image2)
            for y in 0..<height { for x in 0..<width {
                XCTAssertEqual(image.pixel(x: x, y: y)!.0, image2.pixel(x: width - 1 - x, y: y)!.0, "\(kind): pixel (\(x), \(y))")
            } }
            let whole = (SyntheticScene.extent([shape], width: width, height: height).bbox,
                         SyntheticScene.extent([mirrored], width: width, height: height).bbox)
            let seen = SyntheticScene.visibleExtents(people: 1, in: SyntheticScene.visibleOwners([shape], width: width, height: height),
                                                      width: width, height: height)[0]!.bbox
            let seen2 = SyntheticScene.visibleExtents(people: 1, in: SyntheticScene.visibleOwners([mirrored], width: width, height: height),
                                                       width: width, height: height)[0]!.bbox
            for (a, b) in [whole, (seen, seen2)] {
                // Two decimals in the JSON: 0.011.
                XCTAssertEqual(b[0], Double(width) - a[0] - a[2], accuracy: 0.011, "\(kind): \(a) mirrored is \(b)")
                XCTAssertEqual(b[1], a[1], accuracy: 0.011); XCTAssertEqual(b[2], a[2], accuracy: 0.011)
                XCTAssertEqual(b[3], a[3], accuracy: 0.011)
            }
            // The visible box is the painted pixels' extent, pixel i spanning [i, i + 1).
            var (x0, y0, x1, y1) = (width, height, -1, -1)
            for y in 0..<height { for x in 0..<width where shape.covers(Point(Double(x), Double(y))) {
                (x0, y0, x1, y1) = (min(x0, x), min(y0, y), max(x1, x), max(y1, y))
            } }
            XCTAssertEqual(seen, [Double(x0), Double(y0), Double(x1 + 1 - x0), Double(y1 + 1 - y0)], "\(kind)")
        }
    }

    func testShapesCoverWhatTheyPaint() {
        let occluder = SyntheticShape(kind: .box(x0: 10, y0: 10, x1: 20, y1: 20), color: .red, owner: -1)
        XCTAssertTrue(occluder.covers(Point(15, 15)))
        XCTAssertFalse(occluder.covers(Point(25, 15)))
        let limb = SyntheticShape(kind: .capsule(a: Point(0, 0), b: Point(10, 0), radius: 2), color: .red, owner: 0)
        XCTAssertTrue(limb.covers(Point(12, 0)))
        XCTAssertFalse(limb.covers(Point(5, 2.5)))
        var image = Image(width: 30, height: 30, fill: (0, 0, 0))
        occluder.draw(on: &image)
        limb.draw(on: &image)
        for y in 0..<30 { for x in 0..<30 {
            let painted = image.pixel(x: x, y: y)!.0 > 0  // anti-aliased rims are partly painted
            let covered = occluder.covers(Point(Double(x), Double(y))) || limb.covers(Point(Double(x), Double(y)))
            if covered { XCTAssertTrue(painted, "(\(x), \(y)) covered but not painted") }
        } }
    }

    func testUnwritableOutputIsAClearError() throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("plain-file")
        try Data("x".utf8).write(to: file)
        // A path below a regular file cannot be created.
        XCTAssertThrowsError(try SyntheticKeypointSet.write(to: file.appendingPathComponent("out"), options: .init(images: 2))) { error in
            XCTAssertTrue("\(error)".contains("cannot create the folder"), "\(error)")
        }
        XCTAssertThrowsError(try SyntheticKeypointSet.write(to: file, options: .init(images: 2))) { error in
            XCTAssertTrue("\(error)".contains("not a folder"), "\(error)")
        }
        // A read-only folder (meaningless for root, which may write anywhere).
        if geteuid() != 0 {
            let locked = dir.appendingPathComponent("locked")
            try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: locked.path)
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked.path) }
            XCTAssertThrowsError(try SyntheticKeypointSet.write(to: locked, options: .init(images: 2)))
        }
    }
}
