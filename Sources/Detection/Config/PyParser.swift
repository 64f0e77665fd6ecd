import Foundation

/// A recursive-descent parser that evaluates a config file's statements as it reads them.
///
/// Nothing is ever executed: the grammar has no way to name a function other than `dict`,
/// and anything outside the subset is refused with the file and line. Names resolve to the
/// values assigned earlier in the same file; a base's values are read as `_base_.name` or
/// `{{_base_.name}}`, as in mmengine (which does not make a base's names visible either).
struct PyParser {
    let file: String
    let tokens: [PyToken]
    let limits: PythonConfig.Limits
    /// The merged bases that `_base_` names; nil when the file has no `_base_`.
    let base: PyDict?
    var pos = 0
    /// The module's names in assignment order, and what each one's value measures.
    var names = PyDict()
    var metrics: [String: (depth: Int, size: Int)] = [:]
    /// Expression recursion, checked so a chain of unary signs or `**` cannot overflow the stack.
    var recursion = 0
    /// Values built, copied or measured so far: bounds time and memory whatever the text does.
    var work = 0
    /// The sizes of all values assigned, bounding what a merge or a reader will walk.
    var assignedSize = 0

    init(file: String, tokens: [PyToken], base: PyDict?, limits: PythonConfig.Limits) {
        self.file = file
        self.tokens = tokens
        self.base = base
        self.limits = limits
    }

    var current: PyToken { tokens[pos] }
    func next(_ offset: Int = 1) -> PyToken { tokens[min(pos + offset, tokens.count - 1)] }

    func error(_ kind: PythonConfigError.Kind, _ message: String, at token: PyToken? = nil) -> PythonConfigError {
        let t = token ?? current
        return PythonConfigError(kind, file: file, line: t.line, column: t.column, message)
    }

    func unexpected(_ expected: String) -> PythonConfigError {
        error(.syntax, "invalid syntax: expected \(expected), found \(current.display)")
    }

    mutating func expectOp(_ op: String) throws {
        guard current.isOp(op) else { throw unexpected("'\(op)'") }
        pos += 1
    }

    // MARK: Statements

    static let hardKeywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ]

    static func refusedStatement(_ keyword: String) -> String? {
        switch keyword {
        case "import", "from": return "import statements are not allowed in a config"
        case "lambda": return "lambda is not allowed in a config"
        case "if", "elif", "else", "for", "while", "def", "class", "with", "try", "except", "finally",
            "async", "del", "assert", "global", "nonlocal", "return", "raise", "pass", "break",
            "continue", "yield", "await":
            return "'\(keyword)' statements are not allowed in a config (only NAME = value)"
        default: return nil
        }
    }

    /// The names a file assigns, in order, without the `__private` ones mmengine drops.
    mutating func parseModule() throws -> PyDict {
        var sawBase = false
        while current.kind != .end {
            try parseStatement(sawBase: &sawBase)
        }
        var result = PyDict()
        for (name, value) in names where !name.hasPrefix("__") { result[name] = value }
        return result
    }

    mutating func parseStatement(sawBase: inout Bool) throws {
        if current.kind == .indent {
            throw error(.syntax, "unexpected indent (a config has only top-level statements)")
        }
        let first = current
        if let name = first.name, let refusal = PyParser.refusedStatement(name) {
            throw error(.notAllowed, refusal)
        }
        try refuseCodeInStatement()
        if let target = try assignmentTarget() {
            pos += 2
            if target.name == "_base_" {
                // Read by the loader before this file is evaluated (`baseFiles`).
                if sawBase { throw error(.notAllowed, "_base_ is assigned more than once", at: first) }
                sawBase = true
                skipStatement()
                return
            }
            let value = try parseExpressionList()
            try expectStatementEnd()
            try assign(target.name, value, at: first)
            return
        }
        // An expression on its own: only a docstring means anything in a config.
        let value = try parseExpressionList()
        try expectStatementEnd()
        guard case .string = first.kind, case .string = value.value else {
            throw error(.notAllowed, "an expression on its own does nothing in a config (only NAME = value)", at: first)
        }
    }

    /// Constructs that bind or test names (comprehensions, lambdas, conditionals, `:=`) are
    /// refused before the statement is evaluated, so the error names the construct rather than
    /// the loop variable it would find undefined.
    func refuseCodeInStatement() throws {
        var j = pos + 1
        while tokens[j].kind != .newline && tokens[j].kind != .end {
            let t = tokens[j]
            switch t.kind {
            case .name("for"), .name("async"):
                throw error(.notAllowed, "comprehensions are not allowed in a config", at: t)
            case .name("lambda"): throw error(.notAllowed, "lambda is not allowed in a config", at: t)
            case .name("if"):
                throw error(.notAllowed, "conditional expressions (x if c else y) are not allowed in a config", at: t)
            case .op(":="): throw error(.notAllowed, "assignment expressions (:=) are not allowed in a config", at: t)
            case .name("yield"), .name("await"): throw error(.notAllowed, "'\(t.name!)' is not allowed in a config", at: t)
            default: j += 1
            }
        }
    }

    /// The name a statement assigns (`name = ...`), nil for an expression statement; refuses
    /// other targets (`a.b = ...`, `a[0] = ...`, `a, b = ...`, `a += ...`) before evaluating.
    func assignmentTarget() throws -> (name: String, token: PyToken)? {
        if let name = current.name, next().isOp("=") {
            if PyParser.hardKeywords.contains(name) {
                throw error(.syntax, "cannot assign to the keyword '\(name)'")
            }
            if let second = topLevelEquals(from: pos + 2) {
                throw error(.notAllowed, "chained assignment (a = b = value) is not supported", at: tokens[second])
            }
            return (name, current)
        }
        if current.name != nil, case .op(let op) = next().kind {
            if op.count >= 2, op.hasSuffix("="), !["==", "<=", ">=", "!="].contains(op) {
                throw error(.notAllowed, "augmented assignment ('\(op)') is not supported (only NAME = value)", at: next())
            }
            if op == ":" { throw error(.notAllowed, "annotated assignments are not supported (only NAME = value)", at: next()) }
        }
        // A top-level '=' further on: an assignment to something other than a name.
        guard let equals = topLevelEquals(from: pos) else { return nil }
        var text = ""
        for t in tokens[pos..<equals] {
            switch t.kind {
            case .name(let n): text += n
            case .op(let o): text += o
            case .int(let v): text += String(v)
            case .float(let v): text += PyValue.repr(v)
            case .string(let s): text += PyValue.repr(s)
            default: break
            }
        }
        throw error(.notAllowed, "assigning to '\(text)' is not supported (only NAME = value)")
    }

    /// The index of the first '=' outside brackets in the statement from `start`.
    func topLevelEquals(from start: Int) -> Int? {
        var depth = 0
        var j = start
        while true {
            switch tokens[j].kind {
            case .newline, .end, .op(";"): return nil
            case .op("("), .op("["), .op("{"): depth += 1
            case .op(")"), .op("]"), .op("}"): depth -= 1
            case .op("=") where depth == 0: return j
            default: break
            }
            j += 1
        }
    }

    mutating func assign(_ name: String, _ value: PyEvaluated, at token: PyToken) throws {
        if name == "dict" { throw error(.notAllowed, "cannot rebind 'dict' in a config", at: token) }
        if name == "_delete_" {
            throw error(.notAllowed, "_delete_ is a merge flag for a dict's entries, not a top-level name", at: token)
        }
        if ["filename", "text", "pretty_text", "env_variables"].contains(name) {
            throw error(.notAllowed, "'\(name)' is a reserved key in mmengine configs", at: token)
        }
        assignedSize += value.size
        if assignedSize > limits.maxValues {
            throw error(.limit, "the config's values exceed \(limits.maxValues) elements", at: token)
        }
        names[name] = value.value
        metrics[name] = (value.depth, value.size)
    }

    mutating func expectStatementEnd() throws {
        switch current.kind {
        case .newline: pos += 1
        case .end: break
        case .op(";"): throw error(.notAllowed, "';' is not supported: put each statement on its own line")
        default: throw error(.syntax, "invalid syntax: unexpected \(current.display)")
        }
    }

    mutating func skipStatement() {
        while current.kind != .newline && current.kind != .end { pos += 1 }
        if current.kind == .newline { pos += 1 }
    }

    // MARK: Bases

    /// The `_base_` paths a file names (a string or a list or tuple of strings), read before the
    /// file is evaluated because its statements may use `_base_.x`. Each path comes with the
    /// token it was written at, for errors about that base.
    static func baseFiles(tokens: [PyToken], file: String, limits: PythonConfig.Limits) throws
        -> [(path: String, token: PyToken)]
    {
        var parser = PyParser(file: file, tokens: tokens, base: nil, limits: limits)
        while parser.current.kind != .end {
            let atStart = parser.current
            if atStart.isName("_base_") && parser.next().isOp("=") {
                parser.pos += 2
                let valueToken = parser.current
                let value = try parser.parseExpressionList()
                let paths: [String]
                switch value.value {
                case .string(let s): paths = [s]
                case .list(let items), .tuple(let items):
                    paths = try items.map {
                        guard let s = $0.string else {
                            throw parser.error(.inheritance, "_base_ must list file paths (strings)", at: valueToken)
                        }
                        return s
                    }
                default:
                    throw parser.error(.inheritance, "_base_ must be a file path or a list of them", at: valueToken)
                }
                return paths.map { ($0, atStart) }
            }
            parser.skipStatement()
        }
        return []
    }
}
