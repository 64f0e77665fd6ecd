import Foundation

/// Number and string literals, with Python 3's rules: underscores between digits, `0x`/`0o`/`0b`,
/// `.5` and `1.` and `1e-4`; quotes of either kind, triple quotes, `r` and `u` prefixes and the
/// escape sequences. f-strings and bytes are refused: an f-string runs code.
extension PyTokenizer {
    mutating func scanNumber() throws -> PyToken.Kind {
        let start = i
        let c1 = peek(1).map { Character(UnicodeScalar($0)).lowercased() }
        if bytes[i] == UInt8(ascii: "0"), let c1, let radix = ["x": 16, "o": 8, "b": 2][c1] {
            i += 2
            let digits = try scanDigits { Int(String(UnicodeScalar($0)), radix: radix) != nil }
            try rejectTrailingNameChar(start)
            guard !digits.isEmpty, let v = Int(digits, radix: radix) else {
                throw badNumber(start, digits.isEmpty ? "invalid number literal" : "integer literal too large")
            }
            return .int(v)
        }
        var text = try scanDigits(PyTokenizer.isDigit)
        var isFloat = false
        if peek() == UInt8(ascii: ".") {
            isFloat = true
            i += 1
            text += "." + (try scanDigits(PyTokenizer.isDigit))
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            isFloat = true
            i += 1
            text += "e"
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                text.append(Character(UnicodeScalar(sign)))
                i += 1
            }
            let exponent = try scanDigits(PyTokenizer.isDigit)
            if exponent.isEmpty { throw badNumber(start, "invalid number literal (empty exponent)") }
            text += exponent
        }
        if let j = peek(), j == UInt8(ascii: "j") || j == UInt8(ascii: "J") {
            throw badNumber(start, "complex numbers are not supported")
        }
        try rejectTrailingNameChar(start)
        if isFloat {
            if text.hasPrefix(".") { text = "0" + text }
            if text.hasSuffix(".") || text.contains(".e") { text = text.replacingOccurrences(of: ".", with: ".0") }
            guard let v = Double(text) else { throw badNumber(start, "invalid number literal") }
            return .float(v)
        }
        if text.count > 1, text.first == "0", text.contains(where: { $0 != "0" }) {
            throw badNumber(start, "leading zeros in decimal integer literals are not permitted")
        }
        guard let v = Int(text) else { throw badNumber(start, "integer literal too large") }
        return .int(v)
    }

    /// Digits with single underscores between them (`1_000`), underscores dropped.
    mutating func scanDigits(_ isDigit: (UInt8) -> Bool) throws -> String {
        let start = i
        var out = ""
        while let c = peek() {
            if isDigit(c) {
                out.append(Character(UnicodeScalar(c)))
                i += 1
            } else if c == UInt8(ascii: "_"), !out.isEmpty, let n = peek(1), isDigit(n) {
                i += 1
            } else {
                break
            }
        }
        if peek() == UInt8(ascii: "_") { throw badNumber(start, "invalid underscore in number literal") }
        return out
    }

    /// `12abc` or `1.2.3` are one bad literal, not a number followed by a name.
    func rejectTrailingNameChar(_ start: Int) throws {
        if let c = peek(), PyTokenizer.isNameChar(c) || c == UInt8(ascii: ".") {
            throw badNumber(start, "invalid number literal")
        }
    }

    func badNumber(_ start: Int, _ message: String) -> PythonConfigError {
        var end = i
        while end < bytes.count, PyTokenizer.isNameChar(bytes[end]) || bytes[end] == UInt8(ascii: ".") {
            end += 1
        }
        let text = String(decoding: bytes[start..<min(end, start + 40)], as: UTF8.self)
        return error("\(message): '\(text)'", column: start - lineStart + 1)
    }

    /// A string literal at `i` (its prefix already consumed), decoded.
    mutating func scanString(prefix: String) throws -> String {
        let startLine = line, startColumn = column - prefix.utf8.count
        if prefix.contains("f") {
            throw error("f-strings are not allowed in a config", line: startLine, column: startColumn)
        }
        if prefix.contains("b") {
            throw error("bytes literals are not supported in a config", line: startLine, column: startColumn)
        }
        let raw = prefix.contains("r")
        let quote = bytes[i]
        let triple = peek(1) == quote && peek(2) == quote
        i += triple ? 3 : 1
        var out: [UInt8] = []
        while true {
            guard let c = peek() else {
                throw error(
                    triple ? "unterminated triple-quoted string" : "unterminated string",
                    line: startLine, column: startColumn)
            }
            if c == quote && (!triple || (peek(1) == quote && peek(2) == quote)) {
                i += triple ? 3 : 1
                return String(decoding: out, as: UTF8.self)
            }
            if PyTokenizer.isNewline(c) {
                guard triple else { throw error("unterminated string", line: startLine, column: startColumn) }
                out.append(0x0A)
                consumeNewline()
                continue
            }
            if c == UInt8(ascii: "\\") {
                guard let next = peek(1) else {
                    throw error(
                        triple ? "unterminated triple-quoted string" : "unterminated string",
                        line: startLine, column: startColumn)
                }
                if raw {
                    // A raw string keeps the backslash, and the next character cannot close it.
                    out.append(c)
                    i += 1
                    if PyTokenizer.isNewline(next) {
                        out.append(0x0A)
                        consumeNewline()
                    } else {
                        out.append(next)
                        i += 1
                    }
                } else {
                    try scanEscape(into: &out)
                }
                continue
            }
            out.append(c)
            i += 1
        }
    }

    /// One escape sequence at `i` (the backslash), appended to `out` as UTF-8.
    mutating func scanEscape(into out: inout [UInt8]) throws {
        let escapeColumn = column
        i += 1
        let c = bytes[i]
        if PyTokenizer.isNewline(c) {  // backslash-newline continues the string
            consumeNewline()
            return
        }
        i += 1
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "'"): 0x27, UInt8(ascii: "\""): 0x22,
            UInt8(ascii: "a"): 0x07, UInt8(ascii: "b"): 0x08, UInt8(ascii: "f"): 0x0C,
            UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
            UInt8(ascii: "v"): 0x0B,
        ]
        if let byte = simple[c] {
            out.append(byte)
            return
        }
        var scalarValue: UInt32
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "7"):
            scalarValue = UInt32(c - 0x30)
            for _ in 0..<2 {
                guard let d = peek(), d >= 0x30, d <= 0x37 else { break }
                scalarValue = scalarValue * 8 + UInt32(d - 0x30)
                i += 1
            }
        case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = c == UInt8(ascii: "x") ? 2 : c == UInt8(ascii: "u") ? 4 : 8
            guard i + count <= bytes.count,
                let v = UInt32(String(decoding: bytes[i..<i + count], as: UTF8.self), radix: 16),
                bytes[i..<i + count].allSatisfy({ Character(UnicodeScalar($0)).isHexDigit })
            else {
                throw error("truncated \\\(Character(UnicodeScalar(c))) escape", column: escapeColumn)
            }
            scalarValue = v
            i += count
        case UInt8(ascii: "N"):
            throw error("\\N{...} escapes are not supported in a config", column: escapeColumn)
        default:
            // Python keeps an unknown escape as written.
            out.append(0x5C)
            i -= 1
            return
        }
        guard let scalar = UnicodeScalar(scalarValue) else {
            throw error("invalid character escape", column: escapeColumn)
        }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }
}
