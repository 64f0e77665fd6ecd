import Foundation

/// A place in a config reached by key path, for readers that need a value of one type and an
/// error that says where when it is not there:
///
///     let classes = try config["model"]["bbox_head"]["num_classes"].int()
///     // tiny.py: model.bbox_head.num_classes: expected an integer, found a string
///
/// Subscripts never fail; the typed accessors throw. A missing key's descendants are missing
/// too (their error names the first missing key); a key under a value that is not a dict is
/// a type error.
public struct PyConfigNode: Sendable {
    /// The config's file name, for messages.
    public let file: String
    /// `model.test_cfg.rcnn`, `train_pipeline[2].scale`.
    public let path: String
    /// The value here, nil when it is missing.
    public let value: PyValue?
    /// Why `value` is nil: the first missing key, or a parent that is not a dict or list.
    private let problem: Problem?

    private enum Problem: Sendable {
        case missing(PythonConfigError)
        case wrongParent(PythonConfigError)

        var error: PythonConfigError {
            switch self {
            case .missing(let e), .wrongParent(let e): return e
            }
        }
    }

    public init(file: String, path: String = "", value: PyValue?) {
        self.init(file: file, path: path, value: value, problem: nil)
    }

    private init(file: String, path: String, value: PyValue?, problem: Problem?) {
        self.file = file
        self.path = path
        self.value = value
        self.problem = problem
    }

    public subscript(key: String) -> PyConfigNode {
        let childPath = path.isEmpty ? key : path + "." + key
        if let problem { return PyConfigNode(file: file, path: childPath, value: nil, problem: problem) }
        switch value {
        case .dict(let d)?:
            return PyConfigNode(
                file: file, path: childPath, value: d[key],
                problem: d[key] == nil ? .missing(failure(at: childPath, "required key is missing")) : nil)
        default:
            return PyConfigNode(file: file, path: childPath, value: nil, problem: .wrongParent(mismatch("a dict")))
        }
    }

    public subscript(index: Int) -> PyConfigNode {
        let childPath = path + "[\(index)]"
        if let problem { return PyConfigNode(file: file, path: childPath, value: nil, problem: problem) }
        guard let items = value?.array else {
            return PyConfigNode(file: file, path: childPath, value: nil, problem: .wrongParent(mismatch("a list or tuple")))
        }
        let i = index < 0 ? items.count + index : index
        guard items.indices.contains(i) else {
            return PyConfigNode(
                file: file, path: childPath, value: nil,
                problem: .missing(failure(at: childPath, "index out of range (\(items.count) elements)")))
        }
        return PyConfigNode(file: file, path: childPath, value: items[i], problem: nil)
    }

    /// Whether the key is present (its value may be None).
    public var exists: Bool { value != nil }

    /// Whether the key is missing or None: both mean "use the default" to mmdet's modules.
    public var isAbsent: Bool { value == nil || value?.isNone == true }

    public func int() throws -> Int { try typed("an integer") { $0.int } }
    public func double() throws -> Double { try typed("a number") { $0.double } }
    public func string() throws -> String { try typed("a string") { $0.string } }
    public func bool() throws -> Bool { try typed("a boolean") { $0.bool } }
    public func dict() throws -> PyDict { try typed("a dict") { $0.dict } }

    /// The value, or `fallback` when the key is missing or None; a value of another type
    /// still throws.
    public func int(default fallback: Int) throws -> Int { try isAbsentHere() ? fallback : int() }
    public func double(default fallback: Double) throws -> Double { try isAbsentHere() ? fallback : double() }
    public func string(default fallback: String) throws -> String { try isAbsentHere() ? fallback : string() }
    public func bool(default fallback: Bool) throws -> Bool { try isAbsentHere() ? fallback : bool() }

    /// The elements of a list or tuple, each a node with its own path.
    public func array() throws -> [PyConfigNode] {
        let items = try typed("a list or tuple") { $0.array }
        return items.indices.map { self[$0] }
    }

    public func ints() throws -> [Int] { try array().map { try $0.int() } }
    public func doubles() throws -> [Double] { try array().map { try $0.double() } }
    public func strings() throws -> [String] { try array().map { try $0.string() } }

    /// Missing or None here; a parent of the wrong type is an error, not an absence.
    private func isAbsentHere() throws -> Bool {
        switch problem {
        case .missing?: return true
        case .wrongParent(let e)?: throw e
        case nil: return value?.isNone == true
        }
    }

    private func typed<T>(_ expected: String, _ read: (PyValue) -> T?) throws -> T {
        if let problem { throw problem.error }
        guard let value else { throw failure(at: path, "required key is missing") }
        guard let result = read(value) else { throw mismatch(expected) }
        return result
    }

    private func mismatch(_ expected: String) -> PythonConfigError {
        let found = value.map { PyConfigNode.article(for: $0) } ?? "nothing"
        return failure(at: path, "expected \(expected), found \(found)")
    }

    private func failure(at path: String, _ message: String) -> PythonConfigError {
        PythonConfigError(.access, file: file, keyPath: path.isEmpty ? "(top level)" : path, message)
    }

    static func article(for value: PyValue) -> String {
        switch value {
        case .none: return "None"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .float: return "a float"
        case .string: return "a string"
        case .list: return "a list"
        case .tuple: return "a tuple"
        case .dict: return "a dict"
        }
    }
}
