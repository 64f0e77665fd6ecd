import Foundation

/// Operators by Python's precedence (`+ -` < `* / // %` < unary `- +` < `**`), names, and the
/// postfix forms a config may use: `dict(...)` calls, subscripts, and attributes of `_base_`.
extension PyParser {
    /// One expression, or a bare tuple (`x = 1, 2`) as Python allows on the right of `=`.
    mutating func parseExpressionList() throws -> PyEvaluated {
        let start = current
        let first = try parseExpression()
        guard current.isOp(",") else { return first }
        var items = [first]
        while current.isOp(",") {
            pos += 1
            if current.kind == .newline || current.kind == .end { break }
            items.append(try parseExpression())
        }
        return try container(items, at: start) { .tuple($0) }
    }

    mutating func parseExpression() throws -> PyEvaluated {
        try enter()
        defer { recursion -= 1 }
        switch current.kind {
        case .name("lambda"): throw error(.notAllowed, "lambda is not allowed in a config")
        case .name("not"): throw error(.notAllowed, "boolean operators (not, and, or) are not supported in a config")
        case .name("yield"), .name("await"): throw error(.notAllowed, "'\(current.name!)' is not allowed in a config")
        default: break
        }
        let value = try parseSum()
        try refuseOperatorAfterValue()
        return value
    }

    mutating func enter() throws {
        recursion += 1
        if recursion > 2 * limits.maxNesting + 8 {
            throw error(.limit, "expression nested more than \(limits.maxNesting) deep")
        }
    }

    /// Python operators a config may not use, named precisely where a value ended.
    func refuseOperatorAfterValue() throws {
        switch current.kind {
        case .name("if"):
            throw error(.notAllowed, "conditional expressions (x if c else y) are not allowed in a config")
        case .name("for"), .name("async"):
            throw error(.notAllowed, "comprehensions are not allowed in a config")
        case .name("and"), .name("or"), .name("not"), .name("in"), .name("is"):
            throw error(.notAllowed, "boolean and comparison operators are not supported in a config")
        case .op(":="):
            throw error(.notAllowed, "assignment expressions (:=) are not allowed in a config")
        case .op(let o) where ["<", ">", "==", "!=", "<=", ">="].contains(o):
            throw error(.notAllowed, "comparisons ('\(o)') are not supported in a config")
        case .op(let o) where ["|", "&", "^", "<<", ">>", "@"].contains(o):
            throw error(.notAllowed, "the operator '\(o)' is not supported in a config")
        default:
            break
        }
    }

    mutating func parseSum() throws -> PyEvaluated {
        var left = try parseProduct()
        while case .op(let op) = current.kind, op == "+" || op == "-" {
            let token = current
            pos += 1
            let right = try parseProduct()
            left = try binary(op, left, right, at: token)
        }
        return left
    }

    mutating func parseProduct() throws -> PyEvaluated {
        var left = try parseUnary()
        while case .op(let op) = current.kind, ["*", "/", "//", "%"].contains(op) {
            let token = current
            pos += 1
            let right = try parseUnary()
            left = try binary(op, left, right, at: token)
        }
        return left
    }

    /// Signs are collected in a loop, not by recursion: `- - - 1` may be long.
    mutating func parseUnary() throws -> PyEvaluated {
        var signs: [PyToken] = []
        while current.isOp("-") || current.isOp("+") {
            signs.append(current)
            pos += 1
        }
        if current.isOp("~") { throw error(.notAllowed, "the operator '~' is not supported in a config") }
        var value = try parsePower()
        for sign in signs.reversed() {
            value = try unary(sign, value)
        }
        return value
    }

    /// `**` binds tighter than a sign on its left and looser than one on its right:
    /// `-2 ** 2 == -4`, `2 ** -1 == 0.5`.
    mutating func parsePower() throws -> PyEvaluated {
        let base = try parsePostfix()
        guard current.isOp("**") else { return base }
        let token = current
        pos += 1
        try enter()
        defer { recursion -= 1 }
        let exponent = try parseUnary()
        return try binary("**", base, exponent, at: token)
    }

    // MARK: Names and postfix forms

    mutating func parsePostfix() throws -> PyEvaluated {
        let start = current
        var value: PyEvaluated
        /// Set once the value is part of another (a base's, or subscripted): measured at the end,
        /// once, rather than at each step of `_base_.a.b.c`.
        var needsMeasure = false
        /// `_base_.a.b` as written, for messages; nil when the value is not a base's.
        var basePath: String?
        /// The callee's text for a refused call; nil when it is not a name.
        var calleeText: String?
        if case .name(let name) = start.kind, !["True", "False", "None"].contains(name) {
            if PyParser.hardKeywords.contains(name) {
                throw error(.syntax, "invalid syntax: unexpected keyword '\(name)'")
            }
            pos += 1
            calleeText = name
            if current.isOp("(") {
                guard name == "dict" else { throw callRefusal(name, at: start) }
                value = try parseDictCall()
                calleeText = "dict(...)"
            } else if name == "_base_" {
                guard let base else {
                    throw error(.undefined, "_base_ is used but this config has no _base_ files", at: start)
                }
                value = PyEvaluated(value: .dict(base), depth: 0, size: 0)
                needsMeasure = true
                basePath = "_base_"
            } else if current.isOp(".") {
                throw attributeRefusal(root: name)
            } else {
                value = try lookup(name, at: start)
            }
        } else {
            value = try parseAtom()
        }
        while true {
            if current.isOp("[") {
                value.value = try parseSubscript(value.value, path: basePath ?? calleeText ?? "a value")
                needsMeasure = true
                basePath = basePath.map { $0 + "[...]" }
                calleeText = nil
            } else if current.isOp(".") {
                guard let path = basePath else {
                    throw error(.notAllowed, "attribute access is not allowed in a config (only _base_.name)")
                }
                pos += 1
                guard let key = current.name else { throw unexpected("a name after '.'") }
                if next().isOp("(") { throw callRefusal(path + "." + key, at: start) }
                value.value = try attribute(value.value, key, of: path, at: current)
                basePath = path + "." + key
                pos += 1
            } else if current.isOp("(") {
                throw callRefusal(basePath ?? calleeText, at: start)
            } else {
                return needsMeasure ? try measuredForeign(value.value, at: start) : value
            }
        }
    }

    func callRefusal(_ callee: String?, at token: PyToken) -> PythonConfigError {
        let what = callee.map { "a call to '\($0)'" } ?? "a call"
        return error(.notAllowed, "\(what) is not allowed in a config (only dict(...))", at: token)
    }

    /// `os.path.join(...)` is reported as a call, `model.backbone` as attribute access.
    func attributeRefusal(root: String) -> PythonConfigError {
        var text = root
        var j = pos
        while tokens[j].isOp("."), let name = tokens[j + 1].name {
            text += "." + name
            j += 2
        }
        if tokens[j].isOp("(") { return callRefusal(text, at: tokens[pos - 1]) }
        return error(
            .notAllowed, "attribute access '\(text)' is not allowed in a config (only _base_.name)",
            at: tokens[pos - 1])
    }

    func lookup(_ name: String, at token: PyToken) throws -> PyEvaluated {
        if let value = names[name], let m = metrics[name] {
            return PyEvaluated(value: value, depth: m.depth, size: m.size)
        }
        if name == "dict" { throw error(.notAllowed, "'dict' can only be called, as dict(...)", at: token) }
        var message = "name '\(name)' is not defined"
        if base?.contains(name) == true {
            message += " in this file (a base's value is read as _base_.\(name))"
        }
        throw error(.undefined, message, at: token)
    }

    /// A base's value or part of one, measured against the limits before it is used.
    mutating func measuredForeign(_ value: PyValue, at token: PyToken) throws -> PyEvaluated {
        guard let m = value.measured(budget: limits.maxValues - work) else {
            throw error(.limit, "the config uses more than \(limits.maxValues) values", at: token)
        }
        work += m.size
        return PyEvaluated(value: value, depth: m.depth, size: m.size)
    }

    /// `_base_.a.b`: mmengine's ConfigDict reads keys as attributes.
    func attribute(_ value: PyValue, _ key: String, of path: String, at token: PyToken) throws -> PyValue {
        guard case .dict(let d) = value else {
            throw error(.evaluation, "'\(path)' is a \(value.typeName), it has no attribute '\(key)'", at: token)
        }
        guard let item = d[key] else {
            throw error(.undefined, "'\(path)' has no key '\(key)'", at: token)
        }
        return item
    }
}
