import Foundation

/// Literals and displays: numbers, strings, `True`/`False`/`None`, `(...)`, `[...]`, `{...}`,
/// `dict(...)`, `{{_base_.x}}`, and subscripts.
extension PyParser {
    mutating func parseAtom() throws -> PyEvaluated {
        let token = current
        switch token.kind {
        case .int(let v):
            pos += 1
            return .scalar(.int(v))
        case .float(let v):
            pos += 1
            return .scalar(.float(v))
        case .string(var s):
            pos += 1
            // Adjacent literals are one string: 'a' 'b' == 'ab'.
            while case .string(let more) = current.kind {
                s += more
                pos += 1
            }
            try checkString(s, at: token)
            return .scalar(.string(s))
        case .name("True"):
            pos += 1
            return .scalar(.bool(true))
        case .name("False"):
            pos += 1
            return .scalar(.bool(false))
        case .name("None"):
            pos += 1
            return .scalar(.none)
        case .op("("): return try parseParenthesized()
        case .op("["): return try parseList()
        case .op("{"):
            let second = next()
            if second.isOp("{") && second.line == token.line && second.column == token.column + 1 {
                return try parseBaseSubstitution()
            }
            return try parseDictLiteral()
        case .op("*"), .op("**"):
            throw error(.notAllowed, "unpacking with '\(token.kind == .op("*") ? "*" : "**")' is not allowed here")
        case .op("..."):
            throw error(.notAllowed, "'...' is not supported in a config")
        case .newline, .end:
            throw error(.syntax, "invalid syntax: expected a value, found \(token.display)")
        default:
            throw error(.syntax, "invalid syntax: unexpected \(token.display)")
        }
    }

    func checkString(_ s: String, at token: PyToken) throws {
        if s.utf8.count > limits.maxFileBytes {
            throw error(.limit, "a string longer than \(limits.maxFileBytes) bytes", at: token)
        }
    }

    /// A list, tuple or dict built from `items`, checked against the nesting and size limits.
    mutating func container(
        _ items: [PyEvaluated], at token: PyToken, _ make: ([PyValue]) -> PyValue
    ) throws -> PyEvaluated {
        let depth = 1 + (items.map(\.depth).max() ?? 0)
        let size = items.reduce(1) { $0 + $1.size }
        try checkValue(depth: depth, size: size, at: token)
        try charge(items.count + 1, at: token)
        return PyEvaluated(value: make(items.map(\.value)), depth: depth, size: size)
    }

    func checkValue(depth: Int, size: Int, at token: PyToken) throws {
        if depth > limits.maxNesting {
            throw error(.limit, "values nested more than \(limits.maxNesting) deep", at: token)
        }
        if size > limits.maxValues {
            throw error(.limit, "a value with more than \(limits.maxValues) elements", at: token)
        }
    }

    mutating func charge(_ count: Int, at token: PyToken) throws {
        work += count
        if work > limits.maxValues {
            throw error(.limit, "the config builds more than \(limits.maxValues) values", at: token)
        }
    }

    /// Comma-separated expressions up to `close`, a trailing comma allowed.
    mutating func parseItems(until close: String) throws -> [PyEvaluated] {
        var items: [PyEvaluated] = []
        while !current.isOp(close) {
            if current.isOp("*") || current.isOp("**") {
                throw error(.notAllowed, "unpacking with '*' is not allowed in a config")
            }
            items.append(try parseExpression())
            if current.isOp(",") {
                pos += 1
            } else if !current.isOp(close) {
                throw unexpected("',' or '\(close)'")
            }
        }
        pos += 1
        return items
    }

    mutating func parseList() throws -> PyEvaluated {
        let token = current
        pos += 1
        return try container(try parseItems(until: "]"), at: token) { .list($0) }
    }

    /// `()` and `(x,)` are tuples; `(x)` is x.
    mutating func parseParenthesized() throws -> PyEvaluated {
        let token = current
        pos += 1
        if current.isOp(")") {
            pos += 1
            return try container([], at: token) { .tuple($0) }
        }
        let first = try parseExpression()
        if current.isOp(")") {
            pos += 1
            return first
        }
        guard current.isOp(",") else { throw unexpected("',' or ')'") }
        pos += 1
        let rest = try parseItems(until: ")")
        return try container([first] + rest, at: token) { .tuple($0) }
    }

    /// `{'key': value, ...}`; keys must be strings, as mmengine's dicts are keyed by name.
    mutating func parseDictLiteral() throws -> PyEvaluated {
        let token = current
        pos += 1
        var keys: [String] = []
        var values: [PyEvaluated] = []
        while !current.isOp("}") {
            if current.isOp("**") {
                throw error(.notAllowed, "'**' unpacking is only supported in dict(...)")
            }
            let keyToken = current
            let key = try parseExpression()
            if current.isOp(",") || current.isOp("}") {
                throw error(.notAllowed, "set literals are not supported in a config", at: token)
            }
            try expectOp(":")
            guard case .string(let k) = key.value else {
                throw error(.notAllowed, "dict keys must be strings in a config, found \(key.value.typeName)", at: keyToken)
            }
            keys.append(k)
            values.append(try parseExpression())
            if current.isOp(",") {
                pos += 1
            } else if !current.isOp("}") {
                throw unexpected("',' or '}'")
            }
        }
        pos += 1
        return try container(values, at: token) { .dict(PyDict(zip(keys, $0))) }
    }

    /// `dict(k=v, ...)`, `dict(mapping, k=v)` and `dict(**mapping)` — the one call a config may
    /// make (mmdet 2.x configs write `dict(type='Normalize', **img_norm_cfg)`). Python's errors
    /// are kept: a keyword given twice is refused.
    mutating func parseDictCall() throws -> PyEvaluated {
        let token = current
        pos += 1
        var entries: [(String, PyEvaluated)] = []
        var keywords = Set<String>()
        var sawKeyword = false
        while !current.isOp(")") {
            let argToken = current
            if current.isOp("*") { throw error(.notAllowed, "unpacking with '*' is not allowed in dict(...)") }
            if current.isOp("**") {
                pos += 1
                let mapping = try parseExpression()
                guard case .dict(let d) = mapping.value else {
                    throw error(.evaluation, "'**' needs a dict, found \(mapping.value.typeName)", at: argToken)
                }
                for (key, value) in d {
                    guard keywords.insert(key).inserted else {
                        throw error(.evaluation, "dict() got multiple values for keyword argument '\(key)'", at: argToken)
                    }
                    entries.append((key, try measuredForeign(value, at: argToken)))
                }
                sawKeyword = true
            } else if let name = current.name, next().isOp("=") {
                if PyParser.hardKeywords.contains(name) {
                    throw error(.syntax, "invalid syntax: '\(name)' cannot be a keyword argument")
                }
                pos += 2
                guard keywords.insert(name).inserted else {
                    throw error(.syntax, "keyword argument repeated: '\(name)'", at: argToken)
                }
                entries.append((name, try parseExpression()))
                sawKeyword = true
            } else {
                if sawKeyword || !entries.isEmpty {
                    throw error(.notAllowed, "dict(...) takes at most one positional argument, before the keywords")
                }
                let mapping = try parseExpression()
                guard case .dict(let d) = mapping.value else {
                    throw error(.evaluation, "dict(...) accepts a dict as its positional argument, found \(mapping.value.typeName)", at: argToken)
                }
                for (key, value) in d { entries.append((key, try measuredForeign(value, at: argToken))) }
            }
            if current.isOp(",") {
                pos += 1
            } else if !current.isOp(")") {
                throw unexpected("',' or ')'")
            }
        }
        pos += 1
        let keys = entries.map(\.0)
        return try container(entries.map(\.1), at: token) { .dict(PyDict(zip(keys, $0))) }
    }

    /// `{{_base_.a.b}}`: mmengine substitutes the base's value for the text.
    mutating func parseBaseSubstitution() throws -> PyEvaluated {
        let token = current
        pos += 2
        guard current.isName("_base_"), next().isOp(".") else {
            throw error(.notAllowed, "only {{_base_.name}} substitutions are supported", at: token)
        }
        guard let base else {
            throw error(.undefined, "{{_base_...}} is used but this config has no _base_ files", at: token)
        }
        var value = PyValue.dict(base)
        var path = "_base_"
        pos += 1
        while current.isOp(".") {
            pos += 1
            guard let key = current.name else { throw unexpected("a name after '.'") }
            value = try attribute(value, key, of: path, at: current)
            path += "." + key
            pos += 1
        }
        let close = next()
        guard current.isOp("}"), close.isOp("}"), close.line == current.line, close.column == current.column + 1 else {
            throw error(.notAllowed, "only {{_base_.name}} substitutions are supported", at: token)
        }
        pos += 2
        return try measuredForeign(value, at: token)
    }

    // MARK: Subscripts

    /// `x[i]`, `x['key']`, `x[a:b:c]` on lists, tuples, strings and dicts.
    mutating func parseSubscript(_ target: PyValue, path: String) throws -> PyValue {
        let token = current
        pos += 1
        var bounds: [PyEvaluated?] = []
        var isSlice = false
        bounds.append(current.isOp(":") ? nil : try parseExpression())
        while current.isOp(":") && bounds.count < 3 {
            isSlice = true
            pos += 1
            bounds.append(current.isOp(":") || current.isOp("]") ? nil : try parseExpression())
        }
        if current.isOp(",") { throw error(.notAllowed, "tuple subscripts are not supported in a config") }
        try expectOp("]")
        switch target {
        case .string(let s): try charge(1 + s.utf8.count / 64, at: token)
        case .list(let v), .tuple(let v): if isSlice { try charge(1 + v.count, at: token) }
        default: break
        }
        if isSlice { return try slice(target, bounds.map { $0?.value }, at: token) }
        let index = bounds[0]!.value
        if case .dict(let d) = target {
            guard case .string(let key) = index else {
                throw error(.evaluation, "dict keys are strings, not \(index.typeName)", at: token)
            }
            guard let v = d[key] else { throw error(.undefined, "key '\(key)' not found in \(path)", at: token) }
            return v
        }
        guard case .int(let i) = index else {
            throw error(.evaluation, "indexes must be integers, not \(index.typeName)", at: token)
        }
        let items: [PyValue]
        switch target {
        case .list(let v), .tuple(let v): items = v
        case .string(let s): items = s.unicodeScalars.map { .string(String($0)) }
        default: throw error(.evaluation, "a \(target.typeName) cannot be subscripted", at: token)
        }
        let k = i < 0 ? items.count + i : i
        guard items.indices.contains(k) else { throw error(.undefined, "index \(i) out of range", at: token) }
        return items[k]
    }

    /// Python's slice rules (negative bounds count from the end, bounds clamp, step may be
    /// negative).
    func slice(_ target: PyValue, _ bounds: [PyValue?], at token: PyToken) throws -> PyValue {
        func bound(_ v: PyValue?) throws -> Int? {
            switch v {
            case nil, .none?: return nil
            case .int(let i)?: return i
            case let other?: throw error(.evaluation, "slice bounds must be integers, not \(other.typeName)", at: token)
            }
        }
        let step = try bound(bounds.count > 2 ? bounds[2] : nil) ?? 1
        if step == 0 { throw error(.evaluation, "slice step cannot be zero", at: token) }
        func indices(_ n: Int) throws -> [Int] {
            let (lower, upper) = step > 0 ? (0, n) : (-1, n - 1)
            func adjust(_ v: Int?, _ fallback: Int) -> Int {
                guard var v else { return fallback }
                if v < 0 { v = max(v + n, lower) } else { v = min(v, upper) }
                return v
            }
            let start = adjust(try bound(bounds[0]), step > 0 ? lower : upper)
            let stop = adjust(try bound(bounds.count > 1 ? bounds[1] : nil), step > 0 ? upper : lower)
            return Array(stride(from: start, to: stop, by: step))
        }
        switch target {
        case .list(let v): return .list(try indices(v.count).map { v[$0] })
        case .tuple(let v): return .tuple(try indices(v.count).map { v[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        default:
            throw error(.evaluation, "a \(target.typeName) cannot be sliced", at: token)
        }
    }
}
