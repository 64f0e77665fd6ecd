import ArgumentParser
import Foundation
import Imaging

/// `--skip-bad` for the commands that read many images: an image that cannot be read stops the
/// run naming it, or, with the flag, is skipped and reported at the end.
struct BadImageOptions: ParsableArguments {
    @Flag(help: "Skip images that cannot be read (reported at the end) instead of stopping at the first.")
    var skipBad = false

    /// The images skipped so far, with why.
    final class Skipped {
        var reasons: [String] = []
    }

    /// `load(url)`, or nil when it fails and bad images are skipped (the failure noted in `skipped`).
    func image(_ url: URL, skipped: Skipped, load: (URL) throws -> Image) throws -> Image? {
        do { return try load(url) } catch where skipBad {
            skipped.reasons.append("\(error)")
            return nil
        }
    }

    /// A warning listing what was skipped (the first 20), if anything was.
    func report(_ skipped: Skipped, of total: Int) {
        guard !skipped.reasons.isEmpty else { return }
        let reasons = skipped.reasons
        warn("skipped \(reasons.count) of \(total) images that cannot be read:\n  " + reasons.prefix(20).joined(separator: "\n  ")
             + (reasons.count > 20 ? "\n  ... and \(reasons.count - 20) more" : ""))
    }
}
