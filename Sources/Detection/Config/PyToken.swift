import Foundation

/// One token of a config file, with the 1-based line and column (in UTF-8 bytes) it starts at.
struct PyToken: Sendable {
    enum Kind: Equatable, Sendable {
        case name(String)
        case int(Int)
        case float(Double)
        /// A string literal, prefixes and escapes already applied.
        case string(String)
        /// An operator or delimiter, longest match first (`**`, `//`, `==`, `(`, `,`...).
        case op(String)
        /// The end of a logical line (not emitted inside brackets or for blank lines).
        case newline
        /// Leading whitespace on a statement: Python's block indentation, which a config cannot
        /// have. Reported by the parser, so that `if x:` on the line before is named instead.
        case indent
        case end
    }

    var kind: Kind
    var line: Int
    var column: Int

    func isOp(_ s: String) -> Bool { kind == .op(s) }
    func isName(_ s: String) -> Bool { kind == .name(s) }

    var name: String? {
        if case .name(let n) = kind { return n }
        return nil
    }

    /// How an error message quotes the token.
    var display: String {
        switch kind {
        case .name(let n): return "'\(n)'"
        case .int(let v): return "'\(v)'"
        case .float(let v): return "'\(PyValue.repr(v))'"
        case .string: return "a string"
        case .op(let o): return "'\(o)'"
        case .newline: return "the end of the line"
        case .indent: return "an indented line"
        case .end: return "the end of the file"
        }
    }
}
