import Foundation

/// Python 3's arithmetic on the config subset: `/` always gives a float, `//` and `%` round
/// toward negative infinity, `**` with a negative exponent gives a float, bools count as
/// 0 and 1. `+` also joins strings, lists and tuples, and `*` repeats them, as configs do
/// (`[1.0] * num_classes + [0.1]`). Ints are 64-bit: an overflow is an error, not a wrap.
extension PyParser {
    enum Number {
        case int(Int)
        case float(Double)

        init?(_ v: PyValue) {
            switch v {
            case .int(let i): self = .int(i)
            case .bool(let b): self = .int(b ? 1 : 0)
            case .float(let d): self = .float(d)
            default: return nil
            }
        }

        var double: Double {
            switch self {
            case .int(let i): return Double(i)
            case .float(let d): return d
            }
        }
    }

    mutating func unary(_ sign: PyToken, _ operand: PyEvaluated) throws -> PyEvaluated {
        guard let n = Number(operand.value) else {
            throw error(.evaluation, "bad operand type for unary \(sign.isOp("-") ? "-" : "+"): '\(operand.value.typeName)'", at: sign)
        }
        switch (n, sign.isOp("-")) {
        case (.int(let i), true):
            guard i != .min else { throw overflow(at: sign) }
            return .scalar(.int(-i))
        case (.int(let i), false): return .scalar(.int(i))
        case (.float(let d), true): return .scalar(.float(-d))
        case (.float(let d), false): return .scalar(.float(d))
        }
    }

    mutating func binary(_ op: String, _ a: PyEvaluated, _ b: PyEvaluated, at token: PyToken) throws -> PyEvaluated {
        if let x = Number(a.value), let y = Number(b.value) {
            return .scalar(try arithmetic(op, x, y, at: token))
        }
        switch (op, a.value, b.value) {
        case ("+", .string(let x), .string(let y)):
            return try repeated(.string(x + y), bytes: x.utf8.count + y.utf8.count, at: token)
        case ("+", .list(let x), .list(let y)):
            return try joined(.list(x + y), count: x.count + y.count, a, b, at: token)
        case ("+", .tuple(let x), .tuple(let y)):
            return try joined(.tuple(x + y), count: x.count + y.count, a, b, at: token)
        case ("*", _, .int), ("*", _, .bool), ("*", .int, _), ("*", .bool, _):
            let (sequence, count) = Number(b.value) != nil ? (a, b.value) : (b, a.value)
            if let times = Number(count), case .int(let n) = times {
                return try repeatSequence(sequence, max(n, 0), at: token)
            }
        default:
            break
        }
        throw error(
            .evaluation,
            "unsupported operand types for \(op): '\(a.value.typeName)' and '\(b.value.typeName)'", at: token)
    }

    /// `[x] * n`, `(x,) * n`, `'ab' * n`, sized before anything is built.
    mutating func repeatSequence(_ s: PyEvaluated, _ n: Int, at token: PyToken) throws -> PyEvaluated {
        switch s.value {
        case .string(let str):
            let (bytes, over) = str.utf8.count.multipliedReportingOverflow(by: n)
            if over || bytes > limits.maxFileBytes {
                throw error(.limit, "a string longer than \(limits.maxFileBytes) bytes", at: token)
            }
            return try repeated(.string(String(repeating: str, count: n)), bytes: bytes, at: token)
        case .list(let items), .tuple(let items):
            let (count, over1) = items.count.multipliedReportingOverflow(by: n)
            let (inner, over2) = (s.size - 1).multipliedReportingOverflow(by: n)
            if over1 || over2 || inner >= limits.maxValues {
                throw error(.limit, "a value with more than \(limits.maxValues) elements", at: token)
            }
            try checkValue(depth: s.depth, size: inner + 1, at: token)
            try charge(count + 1, at: token)
            let all = Array([[PyValue]](repeating: items, count: n).joined())
            let value: PyValue
            if case .list = s.value { value = .list(all) } else { value = .tuple(all) }
            return PyEvaluated(value: value, depth: s.depth, size: inner + 1)
        default:
            throw error(.evaluation, "can't multiply a sequence of type '\(s.value.typeName)'", at: token)
        }
    }

    mutating func repeated(_ string: PyValue, bytes: Int, at token: PyToken) throws -> PyEvaluated {
        if bytes > limits.maxFileBytes {
            throw error(.limit, "a string longer than \(limits.maxFileBytes) bytes", at: token)
        }
        try charge(1 + bytes / 64, at: token)
        return .scalar(string)
    }

    mutating func joined(_ value: PyValue, count: Int, _ a: PyEvaluated, _ b: PyEvaluated, at token: PyToken) throws -> PyEvaluated {
        let depth = max(a.depth, b.depth), size = a.size + b.size - 1
        try checkValue(depth: depth, size: size, at: token)
        try charge(count + 1, at: token)
        return PyEvaluated(value: value, depth: depth, size: size)
    }

    func overflow(at token: PyToken) -> PythonConfigError {
        error(.evaluation, "integer overflow (config integers are 64-bit)", at: token)
    }

    func arithmetic(_ op: String, _ x: Number, _ y: Number, at token: PyToken) throws -> PyValue {
        if case .int(let a) = x, case .int(let b) = y {
            return try integerArithmetic(op, a, b, at: token)
        }
        let a = x.double, b = y.double
        switch op {
        case "+": return .float(a + b)
        case "-": return .float(a - b)
        case "*": return .float(a * b)
        case "/":
            if b == 0 { throw error(.evaluation, "float division by zero", at: token) }
            return .float(a / b)
        case "//", "%":
            if b == 0 { throw error(.evaluation, "float division by zero", at: token) }
            let (div, mod) = PyParser.floatDivMod(a, b)
            return .float(op == "//" ? div : mod)
        case "**":
            if a == 0 && b < 0 { throw error(.evaluation, "0.0 cannot be raised to a negative power", at: token) }
            if a < 0 && b != b.rounded() {
                throw error(.evaluation, "a negative number to a fractional power is complex", at: token)
            }
            return .float(Foundation.pow(a, b))
        default:
            throw error(.evaluation, "unsupported operator \(op)", at: token)
        }
    }

    /// CPython's float divmod: the remainder takes the divisor's sign.
    static func floatDivMod(_ a: Double, _ b: Double) -> (Double, Double) {
        var mod = fmod(a, b)
        var div = (a - mod) / b
        if mod != 0 {
            if (b < 0) != (mod < 0) {
                mod += b
                div -= 1
            }
        } else {
            mod = copysign(0, b)
        }
        var floorDiv: Double
        if div != 0 {
            floorDiv = div.rounded(.down)
            if div - floorDiv > 0.5 { floorDiv += 1 }
        } else {
            floorDiv = copysign(0, a / b)
        }
        return (floorDiv, mod)
    }

    func integerArithmetic(_ op: String, _ a: Int, _ b: Int, at token: PyToken) throws -> PyValue {
        func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> PyValue {
            if r.overflow { throw overflow(at: token) }
            return .int(r.partialValue)
        }
        switch op {
        case "+": return try checked(a.addingReportingOverflow(b))
        case "-": return try checked(a.subtractingReportingOverflow(b))
        case "*": return try checked(a.multipliedReportingOverflow(by: b))
        case "/":
            if b == 0 { throw error(.evaluation, "division by zero", at: token) }
            return .float(Double(a) / Double(b))
        case "//", "%":
            if b == 0 { throw error(.evaluation, "integer division or modulo by zero", at: token) }
            if a == .min && b == -1 {
                if op == "%" { return .int(0) }
                throw overflow(at: token)
            }
            var q = a / b, r = a % b
            if r != 0 && ((r < 0) != (b < 0)) {
                q -= 1
                r += b
            }
            return .int(op == "//" ? q : r)
        case "**":
            if b < 0 {
                if a == 0 { throw error(.evaluation, "0 cannot be raised to a negative power", at: token) }
                return .float(Foundation.pow(Double(a), Double(b)))
            }
            var result = 1, base = a, e = b
            while e > 0 {
                if e & 1 == 1 {
                    let r = result.multipliedReportingOverflow(by: base)
                    if r.overflow { throw overflow(at: token) }
                    result = r.partialValue
                }
                e >>= 1
                if e > 0 {
                    let s = base.multipliedReportingOverflow(by: base)
                    if s.overflow { throw overflow(at: token) }
                    base = s.partialValue
                }
            }
            return .int(result)
        default:
            throw error(.evaluation, "unsupported operator \(op)", at: token)
        }
    }
}
