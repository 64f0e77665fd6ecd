import Foundation

/// Splits config text into tokens the way Python's tokenizer does for the subset: newlines
/// inside brackets and after a backslash join lines, comments and blank lines vanish, and an
/// indented statement is marked (a config has no blocks, so the parser refuses it).
///
/// Bracket nesting is capped here, before any recursion, so `[` repeated 10^5 times fails in
/// linear time instead of overflowing the parser's stack.
struct PyTokenizer {
    let file: String
    let maxNesting: Int
    let bytes: [UInt8]
    var i = 0
    var line = 1
    var lineStart = 0
    var tokens: [PyToken] = []
    /// Open brackets, innermost last, with where they opened (for "was never closed").
    var brackets: [(char: UInt8, line: Int, column: Int)] = []

    init(text: String, file: String, maxNesting: Int) {
        self.file = file
        self.maxNesting = maxNesting
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        self.bytes = bytes
    }

    static func tokenize(_ text: String, file: String, maxNesting: Int) throws -> [PyToken] {
        var tokenizer = PyTokenizer(text: text, file: file, maxNesting: maxNesting)
        try tokenizer.run()
        return tokenizer.tokens
    }

    var column: Int { i - lineStart + 1 }

    func peek(_ offset: Int = 0) -> UInt8? {
        i + offset < bytes.count ? bytes[i + offset] : nil
    }

    func error(_ message: String, line: Int? = nil, column: Int? = nil) -> PythonConfigError {
        PythonConfigError(.syntax, file: file, line: line ?? self.line, column: column ?? self.column, message)
    }

    /// Consumes one newline (`\n`, `\r\n` or `\r`) at `i` and starts the next line.
    mutating func consumeNewline() {
        if bytes[i] == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { i += 1 }
        i += 1
        line += 1
        lineStart = i
    }

    static func isNewline(_ c: UInt8) -> Bool { c == 0x0A || c == 0x0D }
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0C }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isNameStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }
    static func isNameChar(_ c: UInt8) -> Bool { isNameStart(c) || isDigit(c) }

    mutating func run() throws {
        var atLogicalLineStart = true
        while i < bytes.count {
            let c = bytes[i]
            if PyTokenizer.isSpace(c) {
                let start = i
                while let s = peek(), PyTokenizer.isSpace(s) { i += 1 }
                if atLogicalLineStart && start == lineStart && brackets.isEmpty,
                    let next = peek(), !PyTokenizer.isNewline(next), next != UInt8(ascii: "#")
                {
                    tokens.append(PyToken(kind: .indent, line: line, column: column))
                }
                continue
            }
            if PyTokenizer.isNewline(c) {
                if brackets.isEmpty, let last = tokens.last, last.kind != .newline {
                    tokens.append(PyToken(kind: .newline, line: line, column: column))
                }
                consumeNewline()
                atLogicalLineStart = brackets.isEmpty
                continue
            }
            if c == UInt8(ascii: "#") {
                while let s = peek(), !PyTokenizer.isNewline(s) { i += 1 }
                continue
            }
            if c == UInt8(ascii: "\\") {
                guard let next = peek(1) else { throw error("unexpected end of file after '\\'") }
                guard PyTokenizer.isNewline(next) else {
                    throw error("unexpected character after line continuation character '\\'")
                }
                i += 1
                consumeNewline()
                if i >= bytes.count { throw error("unexpected end of file after '\\'") }
                atLogicalLineStart = false
                continue
            }
            atLogicalLineStart = false
            let startLine = line, startColumn = column
            let kind = try scanToken()
            tokens.append(PyToken(kind: kind, line: startLine, column: startColumn))
        }
        if let open = brackets.last {
            throw error(
                "'\(Character(UnicodeScalar(open.char)))' was never closed", line: open.line,
                column: open.column)
        }
        if let last = tokens.last, last.kind != .newline {
            tokens.append(PyToken(kind: .newline, line: line, column: column))
        }
        tokens.append(PyToken(kind: .end, line: line, column: column))
    }

    /// One token starting at a non-blank character.
    mutating func scanToken() throws -> PyToken.Kind {
        let c = bytes[i]
        if PyTokenizer.isNameStart(c) {
            let start = i
            while let s = peek(), PyTokenizer.isNameChar(s) { i += 1 }
            let name = String(decoding: bytes[start..<i], as: UTF8.self)
            if let q = peek(), q == UInt8(ascii: "'") || q == UInt8(ascii: "\""),
                PyTokenizer.stringPrefixes.contains(name.lowercased())
            {
                return .string(try scanString(prefix: name.lowercased()))
            }
            return .name(name)
        }
        if PyTokenizer.isDigit(c) || (c == UInt8(ascii: ".") && peek(1).map(PyTokenizer.isDigit) == true) {
            return try scanNumber()
        }
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
            return .string(try scanString(prefix: ""))
        }
        if c >= 0x80 {
            throw error("non-ASCII characters are only allowed in strings and comments")
        }
        return .op(try scanOperator())
    }

    static let stringPrefixes: Set<String> = ["r", "u", "f", "b", "br", "rb", "fr", "rf"]
    static let operators3: Set<String> = ["**=", "//=", ">>=", "<<=", "..."]
    static let operators2: Set<String> = [
        "**", "//", "==", "!=", "<=", ">=", "->", ":=", "+=", "-=", "*=", "/=", "%=", "&=", "|=",
        "^=", "@=", "<<", ">>",
    ]
    static let operators1 = Set("+-*/%@&|^~<>()[]{},:.;=".utf8)

    mutating func scanOperator() throws -> String {
        for length in [3, 2] where i + length <= bytes.count {
            let s = String(decoding: bytes[i..<i + length], as: UTF8.self)
            if (length == 3 ? PyTokenizer.operators3 : PyTokenizer.operators2).contains(s) {
                i += length
                return s
            }
        }
        let c = bytes[i]
        guard PyTokenizer.operators1.contains(c) else {
            throw error("unexpected character '\(Character(UnicodeScalar(c)))'")
        }
        try trackBracket(c)
        i += 1
        return String(UnicodeScalar(c))
    }

    mutating func trackBracket(_ c: UInt8) throws {
        switch c {
        case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"):
            if brackets.count >= maxNesting {
                throw PythonConfigError(
                    .limit, file: file, line: line, column: column,
                    "brackets nested more than \(maxNesting) deep")
            }
            brackets.append((c, line, column))
        case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
            let close = Character(UnicodeScalar(c))
            guard let open = brackets.popLast() else { throw error("unmatched '\(close)'") }
            let expected: UInt8 =
                open.char == UInt8(ascii: "(") ? UInt8(ascii: ")")
                : open.char == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: "}")
            if c != expected {
                throw error(
                    "closing '\(close)' does not match opening '\(Character(UnicodeScalar(open.char)))' "
                        + "on line \(open.line)")
            }
        default:
            break
        }
    }
}
