import ArgumentParser
import Foundation
import Segmentation

struct SynthSegCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-seg",
        abstract: "Write a procedural synthetic segmentation data set (no download needed).",
        discussion: """
        Textured backgrounds with discs, boxes, triangles, thin wires and rings (class 0 is the \
        background; --classes takes the first N of background, disc, box, triangle, wire, ring). \
        Written in the folder layout that `hrnet eval-seg --data` reads: classes.txt, \
        images/{train,val}/NNNNN.png and labels/{train,val}/NNNNN.png (8-bit class ids). \
        The same seed gives the same files.
        """
    )

    @Option(help: "The data set folder to create.")
    var out: String

    @Option(help: "Training images.")
    var train: Int = 64

    @Option(help: "Validation images.")
    var val: Int = 16

    @Option(help: ArgumentHelp("Image size WxH.", valueName: "WxH"))
    var size: String = "128x96"

    @Option(help: "Classes including the background, 2...6.")
    var classes: Int = 5

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(help: "Replace an existing data set in --out.")
    var force = false

    func validate() throws {
        if train < 0 || val < 0 || train + val == 0 || train + val > 1_000_000 { throw ValidationError("--train and --val must give 1...1000000 images") }
        if !(2...6).contains(classes) { throw ValidationError("--classes must be 2...6") }
    }

    func run() throws {
        let wh = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard wh.count == 2 else { throw ValidationError("--size '\(size)' must be WxH, e.g. 128x96") }
        let root = URL(fileURLWithPath: out, isDirectory: true)
        let progress = ProgressBar("synth-seg", total: train + val)
        try SyntheticSegmentation.write(to: root, splits: [("train", train), ("val", val)], width: wh[0], height: wh[1],
                                        classes: classes, seed: seed, force: force) { progress.advance($0) }
        progress.finish()
        print("\(train) train + \(val) val images, \(wh[0])x\(wh[1]), \(classes) classes: \(root.path)")
    }
}
