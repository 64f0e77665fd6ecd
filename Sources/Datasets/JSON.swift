import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A JSON value. Arrays of numbers get their own case: COCO files are mostly long number
/// lists (keypoints, boxes), which then cost one [Double] instead of a value per number.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case numbers([Double])
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    public var double: Double? { if case .number(let d) = self { d } else { nil } }
    /// An integral number (as COCO ids are).
    public var int: Int? {
        guard let d = double, d == d.rounded(), abs(d) < 9e15 else { return nil }
        return Int(d)
    }
    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var doubles: [Double]? {
        switch self {
        case .numbers(let a): a
        case .array(let a) where a.isEmpty: []
        default: nil
        }
    }
    public var array: [JSONValue]? {
        switch self {
        case .array(let a): a
        case .numbers(let a): a.map { .number($0) }
        default: nil
        }
    }
}

/// A strict JSON parser for large data-set files (several times faster than
/// JSONSerialization on Linux for COCO results). Numbers are parsed with strtod, which rounds
/// correctly, so values equal Python's json module's.
public struct JSONParser {
    public struct Failure: Error, CustomStringConvertible {
        public let offset: Int
        public let message: String
        public var description: String { "not valid JSON at byte \(offset): \(message)" }
    }

    public static func parse(_ data: Data) throws -> JSONValue {
        var bytes = [UInt8](data)
        bytes.append(0)   // strtod stops at the terminator
        return try bytes.withUnsafeBufferPointer { buffer in
            var p = JSONParser(b: buffer, end: buffer.count - 1)
            let v = try p.value(depth: 0)
            p.skipSpace()
            guard p.i == p.end else { throw Failure(offset: p.i, message: "unexpected data after the value") }
            return v
        }
    }

    let b: UnsafeBufferPointer<UInt8>
    let end: Int
    var i = 0

    init(b: UnsafeBufferPointer<UInt8>, end: Int) { self.b = b; self.end = end }

    func fail(_ m: String) -> Failure { Failure(offset: i, message: m) }

    mutating func skipSpace() {
        while i < end, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 512 else { throw fail("nested deeper than 512") }
        skipSpace()
        guard i < end else { throw fail("unexpected end") }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var o: [String: JSONValue] = [:]
            skipSpace()
            if i < end, b[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            while true {
                skipSpace()
                guard i < end, b[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let k = try string()
                skipSpace()
                guard i < end, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                o[k] = try value(depth: depth + 1)
                skipSpace()
                guard i < end else { throw fail("unexpected end in an object") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            var numbers: [Double] = []
            var allNumbers = true
            skipSpace()
            if i < end, b[i] == UInt8(ascii: "]") { i += 1; return .array([]) }
            while true {
                let v = try value(depth: depth + 1)
                if allNumbers, case .number(let d) = v { numbers.append(d) } else {
                    if allNumbers { items = numbers.map { .number($0) }; allNumbers = false }
                    items.append(v)
                }
                skipSpace()
                guard i < end else { throw fail("unexpected end in an array") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return allNumbers ? .numbers(numbers) : .array(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "N"): return try literal("NaN", .number(.nan))          // Python's json writes these
        case UInt8(ascii: "I"): return try literal("Infinity", .number(.infinity))
        default:
            return .number(try number())
        }
    }

    mutating func literal(_ word: String, _ v: JSONValue) throws -> JSONValue {
        for c in word.utf8 {
            guard i < end, b[i] == c else { throw fail("unexpected character") }
            i += 1
        }
        return v
    }

    mutating func number() throws -> Double {
        let start = b.baseAddress! + i
        if b[i] == UInt8(ascii: "-"), i + 1 < end, b[i + 1] == UInt8(ascii: "I") { i += 1; _ = try literal("Infinity", .null); return -.infinity }
        guard b[i] == UInt8(ascii: "-") || (b[i] >= 0x30 && b[i] <= 0x39) else { throw fail("unexpected character") }
        // RFC 8259's grammar first (strtod also takes "01", "1.", ".5", hex and "inf"):
        // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
        var j = i
        func digit(_ k: Int) -> Bool { k < end && b[k] >= 0x30 && b[k] <= 0x39 }
        if b[j] == UInt8(ascii: "-") { j += 1 }
        guard digit(j) else { throw Failure(offset: j, message: "a number needs a digit here") }
        if b[j] == UInt8(ascii: "0") {
            j += 1
            if digit(j) { throw Failure(offset: j, message: "a number may not have leading zeros") }
        } else {
            while digit(j) { j += 1 }
        }
        if j < end, b[j] == UInt8(ascii: ".") {
            j += 1
            guard digit(j) else { throw Failure(offset: j, message: "a decimal point needs digits after it") }
            while digit(j) { j += 1 }
        }
        if j < end, b[j] == UInt8(ascii: "e") || b[j] == UInt8(ascii: "E") {
            j += 1
            if j < end, b[j] == UInt8(ascii: "+") || b[j] == UInt8(ascii: "-") { j += 1 }
            guard digit(j) else { throw Failure(offset: j, message: "an exponent needs digits") }
            while digit(j) { j += 1 }
        }
        var stop: UnsafeMutablePointer<CChar>?
        let d = start.withMemoryRebound(to: CChar.self, capacity: 1) { strtod($0, &stop) }
        let n = UnsafeRawPointer(stop!) - UnsafeRawPointer(start)
        guard n == j - i else { throw fail("bad number") }
        i = j
        return d
    }

    mutating func string() throws -> String {
        i += 1  // opening quote
        let start = i
        var plain = true
        while i < end, b[i] != UInt8(ascii: "\"") {
            // Control characters must be escaped in JSON strings (a raw newline means a broken file).
            guard b[i] >= 0x20 else { throw fail("a raw control character (0x\(String(b[i], radix: 16))) in a string") }
            if b[i] == UInt8(ascii: "\\") { plain = false; i += 1 }
            i += 1
        }
        guard i < end else { throw fail("unterminated string") }
        defer { i += 1 }
        let raw = UnsafeBufferPointer(rebasing: b[start..<i])
        if plain {
            guard let s = String(validating: raw, as: UTF8.self) else { throw Failure(offset: start, message: "a string that is not valid UTF-8") }
            return s
        }
        // Escapes are rare in data-set files: decode them through Foundation.
        let quoted = Data([UInt8(ascii: "\"")] + Array(raw) + [UInt8(ascii: "\"")])
        guard let s = (try? JSONSerialization.jsonObject(with: quoted, options: .fragmentsAllowed)) as? String else {
            throw fail("bad escape in a string")
        }
        return s
    }
}

extension JSONValue {
    /// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
    public static func literal(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
