import Foundation

/// A value built by the restricted unpickler. Lists and dicts are boxes because pickles
/// memoize them before filling them.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too wide for Int (little-endian two's complement bytes), e.g. the legacy magic.
    case wideInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// A tuple with its nesting depth, computed once when it is built: a pickle can share one
    /// tuple many times through the memo, so recomputing depths would take exponential time.
    case tuple([PickleValue], depth: Int)
    case list(ListBox)
    case dict(DictBox)
    case global(String)
    /// A storage reference from a persistent id: dtype, key, element count.
    case storage(dtype: DType, key: String, count: Int)
    case tensor(TensorRef)
    /// A harmless object the checkpoint may carry (a numpy scalar, a device) that we do not need.
    case opaque(String)
    case mark

    final class ListBox { var items: [PickleValue] = []; var depth = 1 }
    final class DictBox { var items: [(key: PickleValue, value: PickleValue)] = []; var depth = 1 }

    static func tuple(_ items: [PickleValue]) -> PickleValue {
        .tuple(items, depth: 1 + (items.map(\.depth).max() ?? 0))
    }

    /// A tensor view: storage, element offset, sizes and strides (elements).
    struct TensorRef {
        let dtype: DType
        let storageKey: String
        let storageCount: Int
        let offset: Int
        let shape: [Int]
        let strides: [Int]
    }

    var depth: Int {
        switch self {
        case .tuple(_, let depth): depth
        case .list(let b): b.depth
        case .dict(let b): b.depth
        default: 0
        }
    }
    var asString: String? { if case .string(let s) = self { s } else { nil } }
    var asInt: Int? { if case .int(let i) = self { i } else { nil } }
    var asTuple: [PickleValue]? {
        switch self {
        case .tuple(let xs, _): xs
        case .list(let b): b.items
        default: nil
        }
    }
}

/// A pickle virtual machine that knows only what a PyTorch state dict needs. It never
/// imports or calls anything: each allowed global is interpreted by name, and any other
/// global is an error naming it (so a pickle that would run `os.system` is refused).
struct Unpickler {
    /// Globals a checkpoint may refer to, and what they become.
    static let storageTypes: [String: DType] = [
        "torch.FloatStorage": .float32, "torch.HalfStorage": .float16, "torch.BFloat16Storage": .bfloat16,
        "torch.DoubleStorage": .float64, "torch.LongStorage": .int64, "torch.IntStorage": .int32,
        "torch.ShortStorage": .int16, "torch.CharStorage": .int8, "torch.ByteStorage": .uint8, "torch.BoolStorage": .bool,
    ]
    static let callables: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2", "torch.Tensor",
        "torch.nn.parameter.Parameter", "torch.Size", "torch.device", "_codecs.encode",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype", "builtins.set", "builtins.frozenset",
        // What mmengine's checkpoints keep beside the state dict (logged scalars as numpy
        // arrays in a HistoryBuffer); read as opaque values, never built.
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray",
        "mmengine.logging.history_buffer.HistoryBuffer", "mmengine.config.config.ConfigDict",
        // HistoryBuffer's statistics methods pickle as getattr(buffer, 'min'): an opaque value
        // here (this interpreter calls nothing, so no attribute is ever looked up).
        "__builtin__.getattr", "builtins.getattr",
    ]
    static let maxDepth = 512

    /// Every list and dict the pickle built. Boxes can nest (or loop) without limit through the
    /// memo, and releasing a long chain would recurse once per link and overflow the stack;
    /// `releaseValues()` empties them all first, so each is freed on its own.
    final class Arena {
        var lists: [PickleValue.ListBox] = []
        var dicts: [PickleValue.DictBox] = []
        func list() -> PickleValue.ListBox { let b = PickleValue.ListBox(); lists.append(b); return b }
        func dict() -> PickleValue.DictBox { let b = PickleValue.DictBox(); dicts.append(b); return b }
        func releaseValues() {
            for b in lists { b.items = [] }
            for b in dicts { b.items = [] }
            lists = []
            dicts = []
        }
    }
    let arena = Arena()

    let bytes: UnsafeRawBufferPointer
    var position: Int
    let url: URL
    /// Resolves a persistent id (`('storage', type, key, location, numel, ...)`).
    let persistentLoad: ([PickleValue]) throws -> PickleValue

    init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0, url: URL,
         persistentLoad: @escaping ([PickleValue]) throws -> PickleValue) {
        self.bytes = bytes
        self.position = position
        self.url = url
        self.persistentLoad = persistentLoad
    }

    func fail(_ why: String) -> DNNError { DNNError.checkpoint(url, "bad pickle at byte \(position): \(why)") }

    mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - position else { throw DNNError.checkpoint(url, "truncated: the pickle ends early (byte \(position))") }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }
    mutating func byte() throws -> UInt8 { try take(1)[0] }
    mutating func uint(_ n: Int) throws -> Int {
        let b = try take(n)
        return (0..<n).reduce(0) { $0 | Int(b[$1]) << (8 * $1) }
    }
    mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else { throw fail("unterminated line") }
        let s = String(decoding: bytes[position..<end], as: UTF8.self)
        position = end + 1
        return s
    }
    mutating func length(_ n: Int) throws -> Int {
        let b = try take(n)
        let l = (0..<n).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * UInt64($1)) }
        guard l <= UInt64(bytes.count - position) else {
            throw DNNError.checkpoint(url, "truncated: a \(l)-byte item at byte \(position) runs past the end of the pickle")
        }
        return Int(l)
    }

    /// Empties every list and dict built so far (call once the values are no longer needed).
    func releaseValues() { arena.releaseValues() }

    /// Runs one pickle to its STOP and returns the value it built.
    mutating func load() throws -> PickleValue {
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]
        func pop() throws -> PickleValue {
            guard let v = stack.popLast() else { throw fail("stack underflow") }
            return v
        }
        func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("no mark") }
            let items = Array(stack[m...])
            stack.removeSubrange(m...)
            return items
        }
        func push(_ v: PickleValue) throws {
            guard v.depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
            stack.append(v)
        }
        func top() throws -> PickleValue {
            guard let v = stack.last else { throw fail("stack underflow") }
            return v
        }
        while true {
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                  // PROTO
            case 0x95: _ = try take(8)                                 // FRAME
            case UInt8(ascii: "."): return try pop()                   // STOP
            case UInt8(ascii: "("): marks.append(stack.count)          // MARK
            case UInt8(ascii: "N"): try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case UInt8(ascii: "J"): try push(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))
            case UInt8(ascii: "K"): try push(.int(try uint(1)))
            case UInt8(ascii: "M"): try push(.int(try uint(2)))
            case 0x8A, 0x8B:                                           // LONG1, LONG4
                let n = try length(op == 0x8A ? 1 : 4)
                let b = Array(try take(n))
                if n == 0 { try push(.int(0)) }
                else if n <= 8 {
                    var v = 0
                    for (k, x) in b.enumerated() { v |= Int(x) << (8 * k) }
                    if n < 8, b[n - 1] & 0x80 != 0 { v -= 1 << (8 * n) }   // sign extend
                    try push(.int(v))
                } else if n <= 32 { try push(.wideInt(b)) }
                else { throw fail("integer of \(n) bytes") }
            case UInt8(ascii: "G"):
                let b = try take(8)
                try push(.float(Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(b[$1]) })))
            case UInt8(ascii: "X"): let n = try length(4); try push(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x8C: let n = try length(1); try push(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x8D: let n = try length(8); try push(.string(String(decoding: try take(n), as: UTF8.self)))
            case UInt8(ascii: "T"): let n = try length(4); try push(.string(String(decoding: try take(n), as: UTF8.self)))
            case UInt8(ascii: "U"): let n = try length(1); try push(.string(String(decoding: try take(n), as: UTF8.self)))
            case UInt8(ascii: "B"): let n = try length(4); try push(.bytes(Array(try take(n))))
            case UInt8(ascii: "C"): let n = try length(1); try push(.bytes(Array(try take(n))))
            case 0x8E: let n = try length(8); try push(.bytes(Array(try take(n))))
            case UInt8(ascii: ")"): try push(.tuple([]))
            case UInt8(ascii: "t"): try push(.tuple(try popMark()))
            case 0x85: try push(.tuple([try pop()]))
            case 0x86: let b = try pop(), a = try pop(); try push(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); try push(.tuple([a, b, c]))
            case UInt8(ascii: "]"): try push(.list(arena.list()))
            case UInt8(ascii: "l"):
                let box = arena.list(); box.items = try popMark()
                box.depth = 1 + (box.items.map(\.depth).max() ?? 0)
                try push(.list(box))
            case UInt8(ascii: "}"): try push(.dict(arena.dict()))
            case UInt8(ascii: "d"):
                let items = try popMark()
                let box = arena.dict()
                guard items.count % 2 == 0 else { throw fail("odd number of dict items") }
                for k in stride(from: 0, to: items.count, by: 2) { box.items.append((items[k], items[k + 1])) }
                box.depth = 1 + (items.map(\.depth).max() ?? 0)
                try push(.dict(box))
            case UInt8(ascii: "a"), UInt8(ascii: "e"):                 // APPEND, APPENDS
                let items = op == UInt8(ascii: "a") ? [try pop()] : try popMark()
                guard case .list(let box) = try top() else { throw fail("append to a non-list") }
                box.items += items
                box.depth = max(box.depth, 1 + (items.map(\.depth).max() ?? 0))
                guard box.depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
            case UInt8(ascii: "s"), UInt8(ascii: "u"):                 // SETITEM, SETITEMS
                var items: [PickleValue]
                if op == UInt8(ascii: "s") { let v = try pop(), k = try pop(); items = [k, v] } else { items = try popMark() }
                guard items.count % 2 == 0 else { throw fail("odd number of dict items") }
                guard case .dict(let box) = try top() else { throw fail("setitem on a non-dict") }
                for k in stride(from: 0, to: items.count, by: 2) { box.items.append((items[k], items[k + 1])) }
                box.depth = max(box.depth, 1 + (items.map(\.depth).max() ?? 0))
                guard box.depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
            case UInt8(ascii: "q"): memo[try uint(1)] = try top()      // BINPUT
            case UInt8(ascii: "r"): memo[try uint(4)] = try top()      // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()                    // MEMOIZE
            case UInt8(ascii: "p"):                                    // PUT (text)
                guard let k = Int(try line()) else { throw fail("bad PUT") }
                memo[k] = try top()
            case UInt8(ascii: "h"), UInt8(ascii: "j"), UInt8(ascii: "g"):  // BINGET, LONG_BINGET, GET
                let k = op == UInt8(ascii: "g") ? Int(try line()) : try uint(op == UInt8(ascii: "h") ? 1 : 4)
                guard let k, let v = memo[k] else { throw fail("memo key missing") }
                try push(v)
            case UInt8(ascii: "0"): _ = try pop()                      // POP
            case UInt8(ascii: "1"): _ = try popMark()                  // POP_MARK
            case UInt8(ascii: "2"): try push(try top())                // DUP
            case UInt8(ascii: "c"):                                    // GLOBAL
                let module = try line(), name = try line()
                try push(try global(module, name))
            case 0x93:                                                 // STACK_GLOBAL
                guard let name = try pop().asString, let module = try pop().asString else { throw fail("STACK_GLOBAL needs strings") }
                try push(try global(module, name))
            case UInt8(ascii: "R"):                                    // REDUCE
                let args = try pop(), callable = try pop()
                guard case .global(let name) = callable, let a = args.asTuple else { throw fail("REDUCE of a non-global") }
                try push(try call(name, a))
            case 0x81:                                                 // NEWOBJ
                let args = try pop(), cls = try pop()
                guard case .global(let name) = cls, let a = args.asTuple else { throw fail("NEWOBJ of a non-global") }
                try push(try call(name, a))
            case UInt8(ascii: "b"):                                    // BUILD: state is not needed
                _ = try pop()
                _ = try top()
            case UInt8(ascii: "Q"):                                    // BINPERSID
                guard let pid = try pop().asTuple else { throw fail("persistent id is not a tuple") }
                try push(try persistentLoad(pid))
            default:
                throw fail(String(format: "opcode 0x%02x is not allowed in a checkpoint", op))
            }
        }
    }

    func global(_ module: String, _ name: String) throws -> PickleValue {
        let full = "\(module).\(name)"
        guard Self.callables.contains(full) || Self.storageTypes[full] != nil else {
            throw DNNError.checkpoint(url, "pickle refers to global '\(full)', which a checkpoint may not use (refused; nothing was run)")
        }
        return .global(full)
    }

    func call(_ name: String, _ a: [PickleValue]) throws -> PickleValue {
        switch name {
        case "collections.OrderedDict":
            return .dict(arena.dict())
        case "torch._utils._rebuild_tensor_v2":
            guard a.count >= 4, case .storage(let dtype, let key, let count) = a[0], let offset = a[1].asInt,
                  let size = a[2].asTuple?.compactMap(\.asInt), let stride = a[3].asTuple?.compactMap(\.asInt),
                  size.count == a[2].asTuple?.count, stride.count == size.count else {
                throw fail("malformed _rebuild_tensor_v2 arguments")
            }
            return .tensor(.init(dtype: dtype, storageKey: key, storageCount: count, offset: offset, shape: size, strides: stride))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch.nn.parameter.Parameter":
            guard let first = a.first else { throw fail("\(name) without data") }
            return first
        case "torch._tensor._rebuild_from_type_v2":
            // (func, type, args, state): apply func to args.
            guard a.count >= 3, case .global(let f) = a[0], let args = a[2].asTuple else { throw fail("malformed _rebuild_from_type_v2") }
            guard f != name, Self.callables.contains(f) else { throw fail("_rebuild_from_type_v2 of \(f)") }
            return try call(f, args)
        case "torch.Size":
            return .tuple(a.first?.asTuple ?? [])
        case "_codecs.encode":
            guard let s = a.first?.asString else { throw fail("_codecs.encode of a non-string") }
            return .bytes(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        default:
            return .opaque(name)
        }
    }
}
