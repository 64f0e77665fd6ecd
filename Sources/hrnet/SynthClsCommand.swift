import ArgumentParser
import Classification
import Foundation

struct SynthClsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-cls",
        abstract: "Write a procedural image-classification set of coloured shapes (no download needed).",
        discussion: """
        One shape per image, the class being the shape (the first --classes of circle, square, \
        triangle, star, cross, ring, diamond, hexagon, pentagon, crescent), with random colours, \
        position, size, rotation and gradient backgrounds. Written as image folders that \
        `hrnet train` (DATASET.TRAIN_SET train, TEST_SET val) and `hrnet eval-cls` read: \
        OUT/train/<shape>/*.png and OUT/val/<shape>/*.png. The same seed gives the same files.
        """
    )

    @Option(help: "The data set folder to create.")
    var out: String

    @Option(help: "Classes (shapes), 2...10.")
    var classes: Int = 4

    @Option(help: "Training images per class.")
    var images: Int = 100

    @Option(help: "Validation images per class.")
    var val: Int = 25

    @Option(help: "Image side in pixels.")
    var size: Int = 64

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(help: "Write into a non-empty --out.")
    var force = false

    func validate() throws {
        if !(2...SyntheticShapes.shapeNames.count).contains(classes) {
            throw ValidationError("--classes must be 2...\(SyntheticShapes.shapeNames.count)")
        }
        if images < 1 || val < 0 || (images + val) * classes > 1_000_000 { throw ValidationError("--images must be at least 1 and the set at most 1000000 images") }
        if !(8...1024).contains(size) { throw ValidationError("--size must be 8...1024") }
    }

    func run() throws {
        let root = URL(fileURLWithPath: out, isDirectory: true)
        if !force, let existing = try? FileManager.default.contentsOfDirectory(atPath: root.path), !existing.isEmpty {
            throw ValidationError("\(root.path) is not empty; pass --force to write into it")
        }
        try OutputDirectory.prepare(root, files: [], force: true)
        let total = (images + val) * classes
        let progress = ProgressBar("synth-cls", total: total)
        try SyntheticShapes(width: size, height: size).write(to: root, classes: classes, train: images, val: val, seed: seed) { done in
            progress.advance(done - progress.done)
        }
        progress.finish()
        print("\(images * classes) train + \(val * classes) val images, \(size)x\(size), classes "
              + SyntheticShapes.shapeNames.prefix(classes).joined(separator: ", ") + ": \(root.path)")
    }
}
