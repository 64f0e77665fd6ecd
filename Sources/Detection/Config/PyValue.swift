import Foundation

/// A value of the literal subset of Python that mmdet/mmengine config files use.
///
/// Lists and tuples stay distinct because configs give them different meanings (a tuple
/// `scale=(1333, 800)` is one size; a list is several), and `==` follows Python: an int equals
/// the same float, and dicts compare without regard to key order.
public enum PyValue: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list([PyValue])
    case tuple([PyValue])
    case dict(PyDict)
}

extension PyValue {
    /// The value at `key` when this is a dict holding it.
    public subscript(key: String) -> PyValue? {
        if case .dict(let d) = self { return d[key] }
        return nil
    }

    /// The element at `index` when this is a list or tuple long enough; negative indexes count
    /// from the end as in Python.
    public subscript(index: Int) -> PyValue? {
        guard let items = array else { return nil }
        let i = index < 0 ? items.count + index : index
        return items.indices.contains(i) ? items[i] : nil
    }

    /// The integer, when this is an int (bools are not: a config's `True` is never a count).
    public var int: Int? {
        if case .int(let v) = self { return v }
        return nil
    }

    /// The number as a double; ints widen, since configs write `1` and `1.0` interchangeably.
    public var double: Double? {
        switch self {
        case .float(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }

    public var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    /// The elements of a list or a tuple: readers rarely care which one the config wrote.
    public var array: [PyValue]? {
        switch self {
        case .list(let v), .tuple(let v): return v
        default: return nil
        }
    }

    public var dict: PyDict? {
        if case .dict(let v) = self { return v }
        return nil
    }

    public var isNone: Bool {
        if case .none = self { return true }
        return false
    }

    /// The Python type name, as error messages say it ("expected a dict, found a list").
    public var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        }
    }
}

extension PyValue: Equatable {
    /// Python's `==`: `1 == 1.0`, a list never equals a tuple, dict order does not matter.
    /// (`True == 1` is true in Python but false here: a flag is not a count in a config.)
    public static func == (lhs: PyValue, rhs: PyValue) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.float, .float), (.int, .float), (.float, .int): return lhs.double == rhs.double
        case (.string(let a), .string(let b)): return a == b
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)): return a == b
        case (.dict(let a), .dict(let b)): return a == b
        default: return false
        }
    }
}

extension PyValue: CustomStringConvertible {
    /// Python's `repr`, close enough to paste back into a config.
    public var description: String {
        switch self {
        case .none: return "None"
        case .bool(let v): return v ? "True" : "False"
        case .int(let v): return String(v)
        case .float(let v): return PyValue.repr(v)
        case .string(let v): return PyValue.repr(v)
        case .list(let v): return "[" + v.map(\.description).joined(separator: ", ") + "]"
        case .tuple(let v):
            if v.count == 1 { return "(" + v[0].description + ",)" }
            return "(" + v.map(\.description).joined(separator: ", ") + ")"
        case .dict(let d): return d.description
        }
    }

    static func repr(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        let s = String(v)
        return s.contains(where: { ".en".contains($0) }) ? s : s + ".0"
    }

    static func repr(_ s: String) -> String {
        var out = "'"
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    out += String(format: "\\x%02x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "'"
    }
}

extension PyValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .none }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .float(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    /// An array literal is a Python list; write `.tuple([...])` for a tuple.
    public init(arrayLiteral elements: PyValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, PyValue)...) {
        self = .dict(PyDict(elements))
    }
}
