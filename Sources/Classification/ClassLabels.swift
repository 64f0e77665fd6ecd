import Foundation

/// Names of a classifier's outputs, index i naming logit i.
public struct ClassLabels: Sendable, Equatable {
    public let names: [String]
    /// Where they came from (a file name, or "ImageNet-1k"), for messages.
    public let source: String

    public init(names: [String], source: String) {
        (self.names, self.source) = (names, source)
    }

    public var count: Int { names.count }

    /// ImageNet-1k in the standard index order (0 tench, 1 goldfish, ... 999 toilet tissue), the
    /// names of torchvision's and timm's pretrained classifiers; `imageNetWordNetIDs` gives n01440764 ....
    public static let imageNet = ClassLabels(names: ImageNetClasses.table.names, source: "ImageNet-1k")
    public static let imageNetWordNetIDs: [String] = ImageNetClasses.table.wordNetIDs

    /// Largest labels file read (far above any class list; keeps a wrong file from filling memory).
    public static let maximumFileBytes = 16 << 20

    /// Reads a labels file: UTF-8, one name per line (CR LF accepted, surrounding spaces trimmed),
    /// trailing empty lines ignored. An empty file or an empty line among the names is an error.
    public init(contentsOf url: URL) throws {
        let name = url.lastPathComponent
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        guard let size = attributes?[.size] as? Int else { throw ClassificationError("\(name): no such file") }
        guard size <= Self.maximumFileBytes else {
            throw ClassificationError("\(name): \(size) bytes is too large for a labels file (at most \(Self.maximumFileBytes))")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ClassificationError("\(name): cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw ClassificationError("\(name): not UTF-8 text") }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)  // "\r\n" is one Character
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard !lines.isEmpty else { throw ClassificationError("\(name): no class names (expected one per line)") }
        if let empty = lines.firstIndex(where: \.isEmpty) {
            throw ClassificationError("\(name): line \(empty + 1) is empty (expected one class name per line)")
        }
        self.init(names: lines, source: name)
    }

    /// Throws unless there is exactly one name per classifier output.
    public func check(classes: Int) throws {
        guard count == classes else {
            throw ClassificationError("\(source) has \(count) class names but the classifier has \(classes) outputs")
        }
    }
}

/// Wrong labels, a model that is not a classifier, logits of the wrong shape.
public struct ClassificationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
