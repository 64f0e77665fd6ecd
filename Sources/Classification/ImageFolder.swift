import Foundation
import Imaging

/// An image classification data set laid out as torchvision's `ImageFolder`:
/// `ROOT/<class>/**/<image>.{jpg,jpeg,png}`. Classes are the subfolder names in sorted order
/// (code-point order, as Python's `sorted`), so class i is the i-th name; images are sorted
/// by path within each class.
///
/// Stricter than torchvision where it would silently do the wrong thing: a file in a class
/// folder that is not a .jpg/.jpeg/.png is an error naming it (torchvision skips it), as is
/// a class folder without images (torchvision raises too) or a root without class folders.
/// Hidden files (".DS_Store") and files directly in the root (a README, a labels file) are
/// ignored. Images are decoded later, when a batch needs them; a file that does not decode is
/// then an error naming it.
public struct ImageFolder: Sendable {
    public struct Sample: Sendable, Equatable {
        public var url: URL
        public var label: Int
    }

    public let root: URL
    /// Class folder names, sorted; index = label.
    public let classes: [String]
    public let samples: [Sample]

    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    public var count: Int { samples.count }

    /// Lists `root`'s class folders and their images (no decoding).
    public init(root: URL) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir) else {
            throw ClassificationError("\(root.path): no such directory")
        }
        guard isDir.boolValue else { throw ClassificationError("\(root.path) is not a directory (expected ROOT/<class>/<image>)") }
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: root.path) } catch {
            throw ClassificationError("\(root.path): cannot be listed (\(error.localizedDescription))")
        }
        let classes = entries.filter { name in
            var d: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: root.appendingPathComponent(name).path, isDirectory: &d) && d.boolValue
        }.sorted(by: Self.codePointOrder)
        guard !classes.isEmpty else {
            throw ClassificationError("\(root.path) has no class folders (expected ROOT/<class>/<image>.jpg, one folder per class)")
        }
        var samples: [Sample] = []
        for (label, name) in classes.enumerated() {
            let folder = root.appendingPathComponent(name, isDirectory: true)
            let files = try Self.files(under: folder)
            if let odd = files.first(where: { !Self.extensions.contains($0.pathExtension.lowercased()) }) {
                throw ClassificationError("\(odd.path): not an image (class folders may hold only .jpg, .jpeg and .png files)")
            }
            guard !files.isEmpty else {
                throw ClassificationError("\(folder.path): the class folder '\(name)' has no images")
            }
            samples += files.map { Sample(url: $0, label: label) }
        }
        self.root = root
        self.classes = classes
        self.samples = samples
    }

    /// Every non-hidden regular file below `folder` (recursively, following links as
    /// torchvision's os.walk(followlinks=True)), sorted by relative path.
    static func files(under folder: URL) throws -> [URL] {
        let fm = FileManager.default
        guard let walker = fm.enumerator(at: folder, includingPropertiesForKeys: [.isDirectoryKey],
                                         options: [.skipsHiddenFiles]) else {
            throw ClassificationError("\(folder.path): cannot be listed")
        }
        var out: [(String, URL)] = []
        let prefix = folder.standardizedFileURL.path + "/"
        for case let url as URL in walker {
            var d: ObjCBool = false
            guard fm.fileExists(atPath: url.path, isDirectory: &d), !d.boolValue else { continue }
            let path = url.standardizedFileURL.path
            out.append((path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path, url))
        }
        return out.sorted { codePointOrder($0.0, $1.0) }.map(\.1)
    }

    /// Python's string order (by Unicode code point), which `sorted()` uses for class names.
    static func codePointOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }

    /// Counts per class, for messages and reports.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classes.count)
        for s in samples { counts[s.label] += 1 }
        return counts
    }

    /// Reads a sample's image as torchvision's loader does (stored pixels, no EXIF rotation),
    /// with an error naming the file.
    public func image(_ index: Int) throws -> Image {
        guard samples.indices.contains(index) else { throw ClassificationError("sample \(index) is outside 0..<\(count) of \(root.path)") }
        let url = samples[index].url
        do { return try Image.load(url, applyOrientation: false) } catch {
            throw ClassificationError("\(url.path): cannot be read as an image (\(error))")
        }
    }
}
