import Foundation

/// Why a config could not be read or a value could not be used, and where.
///
/// `description` reads like a compiler diagnostic — `bad.py:3:1: a call to 'open' is not
/// allowed in a config (only dict(...))` — or, for a value read after parsing, names the key
/// path: `tiny.py: model.bbox_head.num_classes: expected an integer, found a string`.
public struct PythonConfigError: Error, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The text is not Python, or not the subset (an unterminated string, a bad number).
        case syntax
        /// Valid Python that a config may not contain: imports, calls other than `dict(...)`,
        /// lambdas, attribute access outside `_base_`, statements other than assignments.
        case notAllowed
        /// A name, key or index that does not exist where the config uses it.
        case undefined
        /// An operation on values of the wrong types, a division by zero, an overflow.
        case evaluation
        /// The `_base_` chain: a cycle, a missing file, two bases defining one key, a dict
        /// merged into a non-dict.
        case inheritance
        /// A size, nesting or count limit that protects against hostile input.
        case limit
        /// The file could not be read.
        case io
        /// A value read after parsing is missing or has the wrong type.
        case access
    }

    public var kind: Kind
    /// The config file's name (or the name given to `parse`).
    public var file: String
    /// 1-based line and column (in UTF-8 bytes) of the offending text, when known.
    public var line: Int?
    public var column: Int?
    /// The key path of a value, for errors found after parsing ("model.neck.stride").
    public var keyPath: String?
    public var message: String

    public init(
        _ kind: Kind, file: String, line: Int? = nil, column: Int? = nil, keyPath: String? = nil,
        _ message: String
    ) {
        self.kind = kind
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }
}

extension PythonConfigError: CustomStringConvertible, LocalizedError {
    public var description: String {
        var where_ = file
        if let line {
            where_ += ":\(line)"
            if let column { where_ += ":\(column)" }
        }
        if let keyPath, !keyPath.isEmpty { where_ += ": " + keyPath }
        return where_ + ": " + message
    }

    public var errorDescription: String? { description }
}
