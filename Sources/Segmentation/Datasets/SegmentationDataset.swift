import Foundation
import HRNet
import Imaging

/// One image and its label map (train ids; `LabelMap.ignore` for unlabelled pixels), the unit a
/// test loop or a training data loader reads.
public struct SegmentationSample: Sendable {
    public let name: String
    public let imageURL: URL
    public let image: Image
    public let label: LabelMap
}

/// A segmentation data set on disk: a list of (image, label PNG) pairs, a class list and how
/// stored label values become train ids. Opening lists and pairs the files (a missing label is
/// an error); `sample(at:)` reads one pair and checks it (sizes agree, ids in range), so a data
/// loader can call it from worker threads.
///
/// Layouts:
/// - `cityscapes`: `leftImg8bit/<split>/<city>/<name>_leftImg8bit.png` with
///   `gtFine/<split>/<city>/<name>_gtFine_labelIds.png`; label ids map to the 19 train ids
///   (`Cityscapes.trainIDOfLabelID`, the official mapping), others to ignore.
/// - `pascalContext`: the common PNG-label layout `JPEGImages/<id>.jpg`,
///   `SegmentationClassContext/<id>.png` (0 background, 1...59 the classes),
///   `ImageSets/SegmentationContext/<split>.txt` (ids; all labels when absent). With 59 classes
///   background is ignored and value k is class k-1 (the official `reduce_zero_label` /
///   pytorch-v1.1 `label_transform`); with 60, values are kept and class 0 is background.
///   Evaluation runs on the original image, as pytorch-v1.1's `testval` split (the HRNet-OCR
///   branch's PASCAL-Context testval first resizes the short side to 520 for its OCR models;
///   that extra step is not reproduced).
/// - `folder` (users' own data): `classes.txt` (one class per line: `name` or `name R G B`;
///   `#` comments), `images/<split>/<stem>.jpg|png` and `labels/<split>/<stem>.png` holding
///   class ids (255 ignore).
public struct SegmentationDataset: Sendable {
    public enum Layout: String, Sendable, CaseIterable {
        case cityscapes
        case pascalContext = "pascal-context"
        case folder
    }

    public struct Entry: Sendable {
        public let name: String
        public let image: URL
        public let label: URL
    }

    public let layout: Layout
    public let root: URL
    public let split: String
    public let classNames: [String]
    public let palette: Palette
    public let entries: [Entry]

    public var count: Int { entries.count }

    /// Finds the layout of `root` by its folders: leftImg8bit + gtFine, SegmentationClassContext, or classes.txt.
    public static func detectLayout(_ root: URL) throws -> Layout {
        func exists(_ p: String) -> Bool { FileManager.default.fileExists(atPath: root.appendingPathComponent(p).path) }
        guard FileManager.default.fileExists(atPath: root.path) else { throw SegmentationError("\(root.path): no such directory") }
        if exists("leftImg8bit") && exists("gtFine") { return .cityscapes }
        if exists("SegmentationClassContext") { return .pascalContext }
        if exists("classes.txt") { return .folder }
        throw SegmentationError("\(root.path): not a known data set layout (expected leftImg8bit/ and gtFine/ (Cityscapes), "
                                + "SegmentationClassContext/ (PASCAL-Context) or classes.txt with images/ and labels/ (folder))")
    }

    /// Opens a split. `classes` is the model's class count (PASCAL-Context: 59 or 60); nil takes
    /// the layout's own (19, 59, or classes.txt).
    public static func open(_ root: URL, split: String, layout: Layout? = nil, classes: Int? = nil) throws -> SegmentationDataset {
        let layout = try layout ?? detectLayout(root)
        switch layout {
        case .cityscapes: return try openCityscapes(root, split: split)
        case .pascalContext: return try openPascalContext(root, split: split, classes: classes ?? 59)
        case .folder: return try openFolder(root, split: split)
        }
    }

    /// Fails unless this data set's classes are the model's: the same count (and for Cityscapes,
    /// the Cityscapes config).
    public func checkClasses(against config: HRNetConfig) throws {
        guard let n = config.numClasses else { throw SegmentationError("\(config.source) is not a segmentation model") }
        guard n == classNames.count else {
            throw SegmentationError("\(root.path): the data set has \(classNames.count) classes (\(classNames.prefix(4).joined(separator: ", "))"
                                    + "\(classNames.count > 4 ? ", ..." : "")) but \(config.source) has DATASET.NUM_CLASSES \(n)")
        }
    }

    /// Reads pair `index`: the image, and its label converted to train ids and checked.
    public func sample(at index: Int) throws -> SegmentationSample {
        let e = entries[index]
        let image = try Image.load(e.image)
        var label = try LabelMap.loadPNG(e.label)
        guard label.width == image.width, label.height == image.height else {
            throw SegmentationError("\(e.label.path): label is \(label.width) x \(label.height) but its image \(e.image.lastPathComponent) is \(image.width) x \(image.height)")
        }
        switch layout {
        case .cityscapes:
            label = try Cityscapes.trainIDs(fromLabelIDs: label, file: e.label.path)
        case .pascalContext where classNames.count == 59:
            for i in 0..<label.labels.count {
                let v = label.labels[i]
                guard v <= 59 else {
                    throw SegmentationError("\(e.label.path): label \(v) at (x \(i % label.width), y \(i / label.width)) is not a PASCAL-Context value (0 background, 1...59)")
                }
                label.labels[i] = v == 0 ? LabelMap.ignore : v - 1
            }
        default:
            try label.validate(classes: classNames.count, file: e.label.path)
        }
        return SegmentationSample(name: e.name, imageURL: e.image, image: image, label: label)
    }
}

// MARK: - Layouts

extension SegmentationDataset {
    static func files(in dir: URL, recursive: Bool) throws -> [URL] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw SegmentationError("\(dir.path): no such directory")
        }
        if !recursive {
            return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        }
        guard let walker = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }.sorted { $0.path < $1.path }
    }

    static func openCityscapes(_ root: URL, split: String) throws -> SegmentationDataset {
        // The official trainval list (list/cityscapes/trainval.lst) is the train and val images
        // together; Cityscapes has no such folder.
        if split == "trainval", !FileManager.default.fileExists(atPath: root.appendingPathComponent("leftImg8bit/trainval").path) {
            let parts = try ["train", "val"].map { try openCityscapes(root, split: $0) }
            return SegmentationDataset(layout: .cityscapes, root: root, split: split, classNames: Cityscapes.classNames,
                                       palette: .cityscapes, entries: parts.flatMap(\.entries))
        }
        let images = root.appendingPathComponent("leftImg8bit/\(split)")
        let suffix = "_leftImg8bit.png"
        var entries: [Entry] = []
        for url in try files(in: images, recursive: true) where url.lastPathComponent.hasSuffix(suffix) {
            let stem = String(url.lastPathComponent.dropLast(suffix.count))
            let city = url.deletingLastPathComponent().lastPathComponent
            let label = root.appendingPathComponent("gtFine/\(split)/\(city)/\(stem)_gtFine_labelIds.png")
            guard FileManager.default.fileExists(atPath: label.path) else {
                throw SegmentationError("\(url.path) has no label: expected \(label.path)")
            }
            entries.append(Entry(name: stem, image: url, label: label))
        }
        guard !entries.isEmpty else { throw SegmentationError("\(images.path): no *\(suffix) images") }
        return SegmentationDataset(layout: .cityscapes, root: root, split: split, classNames: Cityscapes.classNames,
                                   palette: .cityscapes, entries: entries)
    }

    static func openPascalContext(_ root: URL, split: String, classes: Int) throws -> SegmentationDataset {
        guard classes == 59 || classes == 60 else {
            throw SegmentationError("PASCAL-Context has 59 classes (background ignored) or 60 (with background), not \(classes)")
        }
        let labels = root.appendingPathComponent("SegmentationClassContext")
        let list = root.appendingPathComponent("ImageSets/SegmentationContext/\(split).txt")
        var ids: [String]
        if FileManager.default.fileExists(atPath: list.path) {
            guard let text = try? String(contentsOf: list, encoding: .utf8) else { throw SegmentationError("\(list.path): cannot be read as text") }
            ids = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        } else {
            ids = try files(in: labels, recursive: false).filter { $0.pathExtension.lowercased() == "png" }
                .map { $0.deletingPathExtension().lastPathComponent }
        }
        var entries: [Entry] = []
        for id in ids {
            let label = labels.appendingPathComponent(id + ".png")
            guard FileManager.default.fileExists(atPath: label.path) else { throw SegmentationError("\(id): no label \(label.path)") }
            let candidates = ["jpg", "jpeg", "png"].map { root.appendingPathComponent("JPEGImages/\(id).\($0)") }
            guard let image = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
                throw SegmentationError("\(label.path) has no image: expected \(candidates[0].path)")
            }
            entries.append(Entry(name: id, image: image, label: label))
        }
        guard !entries.isEmpty else { throw SegmentationError("\(root.path): no PASCAL-Context pairs for split \(split)") }
        let names = classes == 59 ? PascalContext.classNames : ["background"] + PascalContext.classNames
        return SegmentationDataset(layout: .pascalContext, root: root, split: split, classNames: names,
                                   palette: .voc(count: classes, offset: classes == 59 ? 1 : 0), entries: entries)
    }

    static func openFolder(_ root: URL, split: String) throws -> SegmentationDataset {
        let (names, colors) = try readClassList(root.appendingPathComponent("classes.txt"))
        let labels = root.appendingPathComponent("labels/\(split)")
        let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]
        var entries: [Entry] = []
        let images = try files(in: root.appendingPathComponent("images/\(split)"), recursive: false)
            .filter { imageExtensions.contains($0.pathExtension.lowercased()) }
        for url in images {
            let stem = url.deletingPathExtension().lastPathComponent
            let label = labels.appendingPathComponent(stem + ".png")
            guard FileManager.default.fileExists(atPath: label.path) else {
                throw SegmentationError("\(url.path) has no label: expected \(label.path)")
            }
            entries.append(Entry(name: stem, image: url, label: label))
        }
        guard !entries.isEmpty else { throw SegmentationError("\(root.path)/images/\(split): no .jpg or .png images") }
        let stems = Set(entries.map(\.name))
        if let orphan = try files(in: labels, recursive: false).first(where: { $0.pathExtension.lowercased() == "png"
            && !stems.contains($0.deletingPathExtension().lastPathComponent) }) {
            throw SegmentationError("\(orphan.path) has no image in \(root.path)/images/\(split)")
        }
        let palette = colors.contains { $0 == nil } ? Palette.voc(count: names.count) : Palette(colors: colors.map { $0! })
        return SegmentationDataset(layout: .folder, root: root, split: split, classNames: names, palette: palette, entries: entries)
    }

    /// `classes.txt`: one class a line, `name` or `name R G B`; blank lines and `#` comments skipped.
    public static func readClassList(_ url: URL) throws -> (names: [String], colors: [(UInt8, UInt8, UInt8)?]) {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw SegmentationError("\(url.path): \(FileManager.default.fileExists(atPath: url.path) ? "cannot be read as UTF-8 text" : "no such file")")
        }
        var names: [String] = [], colors: [(UInt8, UInt8, UInt8)?] = []
        // Any line end (a "\r\n" is one Character to Swift: splitting on "\n" would not split it).
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let tail = parts.suffix(3).compactMap { Int($0) }
            if parts.count >= 4, tail.count == 3 {
                // Three numbers after a name are a colour: out of 0...255 is a mistake, not part of the name.
                guard tail.allSatisfy({ (0...255).contains($0) }) else {
                    throw SegmentationError("\(url.path): line \(n + 1): the colour \(tail.map(String.init).joined(separator: " ")) is not R G B in 0...255")
                }
                names.append(parts.dropLast(3).joined(separator: " ")); colors.append((UInt8(tail[0]), UInt8(tail[1]), UInt8(tail[2])))
            } else {
                names.append(line); colors.append(nil)
            }
            if names.count > 255 { throw SegmentationError("\(url.path): line \(n + 1): more than 255 classes (255 is ignore)") }
        }
        guard !names.isEmpty else { throw SegmentationError("\(url.path): no classes listed") }
        if let dup = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw SegmentationError("\(url.path): class '\(dup)' is listed twice")
        }
        return (names, colors)
    }
}
