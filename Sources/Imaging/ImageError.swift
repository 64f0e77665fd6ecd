import Foundation

/// Why an image could not be read, decoded, encoded or written. The description always names
/// the file (or `<memory>` for in-memory data) and what is wrong with it.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Not a JPEG or PNG by its magic bytes.
        case unknownFormat
        /// The codec rejected the data (truncated, bad CRC, bad marker...).
        case corrupt
        /// The header declares more pixels than the caller's limit.
        case tooLarge
        /// The header declares a zero width or height.
        case empty
        /// Pixel buffer and size disagree, or a parameter is out of range.
        case invalidArgument
        /// Reading or writing the file failed.
        case io
    }

    public let kind: Kind
    /// The file (path or `<memory>`).
    public let file: String
    public let message: String

    public init(_ kind: Kind, file: String, _ message: String) {
        self.kind = kind
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
