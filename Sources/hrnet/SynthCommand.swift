import ArgumentParser
import Foundation
import PoseTraining

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a procedural COCO-format keypoint data set (no download needed).",
        discussion: """
        Articulated human-like figures with COCO's 17 joints (plausible proportions, random \
        poses, scales, clothing and skin colours), several per image, on textured backgrounds, \
        partly hidden by other figures and occluders. Visibility: 2 visible, 1 occluded, 0 not \
        labelled (outside the image or a face seen from behind). Writes \
        OUT/images/{train,val}/*.jpg and OUT/annotations/person_keypoints_{train,val}.json, so \
        `hrnet eval --data OUT --split val` and the training loader read it directly. The same \
        seed gives the same data set.
        """
    )

    @Option(help: "The output folder (must be empty or absent unless --force).")
    var out: String

    @Option(help: "How many images.")
    var images: Int

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Share of the images in the val split.")
    var valFraction: Double = 0.2

    @Option(help: ArgumentHelp("Image size.", valueName: "WxH"))
    var size: String = "320x240"

    @Option(help: "JPEG quality 1...100.")
    var quality: Int = 90

    @Option(help: "Threads (default: one per core).")
    var threads: Int?

    @Flag(help: "Write into a folder that already has files.")
    var force = false

    @Option(help: "For detectors: the share of images with nobody in them (0...1).")
    var emptyFraction: Double = 0

    @Option(help: "For detectors: the smallest person as a share of the image height (default 0.3; e.g. 0.08 for people far away).")
    var smallestHeight: Double = 0.3

    @Option(help: "For detectors: up to this many extra people in a third of the images (crowds).")
    var extraPeople: Int = 0

    @Flag(help: "For detectors: boxes (and areas) of what is seen of each person, as COCO draws them, not of the whole figure behind occluders.")
    var visibleBoxes = false

    @Flag(help: "For box refiners: each person's keypoints are the four extreme points of what is seen of them (left, top, right, bottom; implies --visible-boxes) instead of the 17 joints.")
    var extremePoints = false

    func validate() throws {
        if images < 1 || images > 10_000_000 { throw ValidationError("--images must be 1...10000000") }
        if !(0...1).contains(valFraction) { throw ValidationError("--val-fraction must be in 0...1") }
        if !(1...100).contains(quality) { throw ValidationError("--quality must be 1...100") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !(0...1).contains(emptyFraction) { throw ValidationError("--empty-fraction must be in 0...1") }
        if !(0.02...1).contains(smallestHeight) { throw ValidationError("--smallest-height must be in 0.02...1") }
        if !(0...20).contains(extraPeople) { throw ValidationError("--extra-people must be 0...20") }
        _ = try parsedSize()
    }

    func parsedSize() throws -> (Int, Int) {
        let parts = size.lowercased().split(separator: "x").map { Int($0) }
        guard parts.count == 2, let w = parts[0], let h = parts[1], (16...8192).contains(w), (16...8192).contains(h) else {
            throw ValidationError("--size '\(size)' must be WIDTHxHEIGHT, each 16...8192 (e.g. 320x240)")
        }
        return (w, h)
    }

    func run() throws {
        var options = SyntheticKeypointSet.Options(images: images)
        (options.seed, options.valFraction, options.jpegQuality, options.force) = (seed, valFraction, quality, force)
        (options.width, options.height) = try parsedSize()
        options.threads = threads ?? 0
        (options.variety.emptyFraction, options.variety.smallestHeight, options.variety.extraPeople) = (emptyFraction, smallestHeight, extraPeople)
        options.variety.visibleBoxes = visibleBoxes || extremePoints
        options.variety.extremePoints = extremePoints
        let dir = URL(fileURLWithPath: out, isDirectory: true)
        let progress = ProgressBar("synth", total: images)
        let summary: SyntheticKeypointSet.Summary
        do {
            summary = try SyntheticKeypointSet.write(to: dir, options: options) { done in progress.advance(done - progress.done) }
        } catch let error as PoseTrainingError {
            throw ValidationError(error.description)
        }
        progress.finish()
        ProgressBar.say(String(format: "%d images (train %d, val %d), %d people, %d labelled keypoints in %.1f s (%.0f images/s): %@",
                            images, summary.trainImages, summary.valImages, summary.people, summary.keypoints,
                            progress.elapsedSeconds, progress.rate, dir.path))
    }
}
