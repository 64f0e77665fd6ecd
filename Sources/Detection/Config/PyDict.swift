import Foundation

/// A Python dict with string keys that keeps insertion order, as Python's does: merged configs
/// list a base's keys first, then the child's new ones, and readers that print a config
/// should see that order.
public struct PyDict: Sendable {
    public private(set) var keys: [String] = []
    private var storage: [String: PyValue] = [:]

    public init() {}

    /// Later duplicates replace the value but keep the first position, as a dict literal does.
    public init<S: Sequence>(_ entries: S) where S.Element == (String, PyValue) {
        for (key, value) in entries { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Setting a new key appends it; setting an existing key keeps its position; setting nil
    /// removes it.
    public subscript(key: String) -> PyValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The entries in insertion order.
    public var entries: [(key: String, value: PyValue)] {
        keys.map { ($0, storage[$0]!) }
    }

    public func contains(_ key: String) -> Bool { storage[key] != nil }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> PyValue? {
        let old = storage[key]
        self[key] = nil
        return old
    }
}

extension PyDict: Sequence {
    public func makeIterator() -> IndexingIterator<[(key: String, value: PyValue)]> {
        entries.makeIterator()
    }
}

extension PyDict: Equatable {
    /// Python's dict equality: same keys and values, in any order.
    public static func == (lhs: PyDict, rhs: PyDict) -> Bool {
        lhs.storage == rhs.storage
    }
}

extension PyDict: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, PyValue)...) {
        self.init(elements)
    }
}

extension PyDict: CustomStringConvertible {
    public var description: String {
        "{" + entries.map { PyValue.repr($0.key) + ": " + $0.value.description }
            .joined(separator: ", ") + "}"
    }
}
