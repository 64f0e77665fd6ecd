import CDNNL

@inline(__always)
func check(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws {
    guard status == dnnl_success else {
        throw DNNError.oneDNN(call: call(), status: String(cString: dnnl_status2str(status)))
    }
}

/// The process-wide CPU engine and stream. oneDNN objects are thread-safe to share for
/// execution; one engine is all a CPU process needs.
final class Engine: @unchecked Sendable {
    static let shared = Engine()

    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    /// Channel block of the activation layout: 16 with AVX-512 (nChw16c), else 8 (nChw8c).
    let channelBlock: Int

    private init() {
        var e: dnnl_engine_t?
        var s: dnnl_stream_t?
        guard dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, let e,
              dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue) == dnnl_success, let s else {
            fatalError("oneDNN could not create its CPU engine")
        }
        engine = e
        stream = s
        channelBlock = dnnl_get_effective_cpu_isa().rawValue >= dnnl_cpu_isa_avx512_core.rawValue ? 16 : 8
    }
}

/// Threads used by oneDNN (OpenMP) and by the engine's own kernels.
public enum Threads {
    /// Cores available to this process.
    public static var available: Int { Int(cdnnl_get_max_threads()) }
}

/// Owns one oneDNN primitive and the descriptor it came from.
final class Primitive {
    let handle: dnnl_primitive_t
    init(_ pd: dnnl_primitive_desc_t, name: String) throws {
        var p: dnnl_primitive_t?
        try check(dnnl_primitive_create(&p, pd), "primitive_create(\(name))")
        handle = p!
    }
    deinit { dnnl_primitive_destroy(handle) }
}

/// Owns a primitive descriptor until it is no longer needed (after the primitive exists).
final class PrimitiveDesc {
    let handle: dnnl_primitive_desc_t
    init(_ h: dnnl_primitive_desc_t) { handle = h }
    deinit { dnnl_primitive_desc_destroy(handle) }

    /// oneDNN's name for the implementation it chose, e.g. "jit:avx512_core" or "ref:any".
    var implementation: String {
        var s: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(handle, dnnl_query_impl_info_str, 0, &s) == dnnl_success, let s else { return "?" }
        return String(cString: s)
    }

    func md(_ what: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(handle, what, index).pointee
    }
}

/// Owns a oneDNN memory object (the handle points into memory someone else owns).
final class Memory {
    let handle: dnnl_memory_t
    let desc: dnnl_memory_desc_t
    init(_ desc: dnnl_memory_desc_t, pointer: UnsafeMutableRawPointer?) throws {
        var d = desc
        var m: dnnl_memory_t?
        try check(dnnl_memory_create(&m, &d, Engine.shared.engine, pointer ?? cdnnl_memory_none()), "memory_create")
        handle = m!
        self.desc = desc
    }
    func setPointer(_ p: UnsafeMutableRawPointer) throws {
        try check(dnnl_memory_set_data_handle(handle, p), "memory_set_data_handle")
    }
    deinit { dnnl_memory_destroy(handle) }
}

/// Primitive attributes with post-ops; freed when dropped.
final class Attributes {
    let handle: dnnl_primitive_attr_t
    /// `scalar` gives the value of a `.scale` post-op's parameter.
    init(postOps: [PostOp] = [], scalar: (String) -> Float = { _ in 1 }) throws {
        var a: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&a), "primitive_attr_create")
        handle = a!
        // The plan gives every primitive one shared scratchpad (steps run one at a time)
        // instead of oneDNN allocating one per primitive.
        try check(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
        if !postOps.isEmpty {
            var po: dnnl_post_ops_t?
            try check(dnnl_post_ops_create(&po), "post_ops_create")
            defer { dnnl_post_ops_destroy(po) }
            for op in postOps {
                if op == .sum { try check(dnnl_post_ops_append_sum(po, 1), "post_ops_append_sum") }
                else { try op.appendEltwise(to: po, scalar: scalar) }
            }
            try check(dnnl_primitive_attr_set_post_ops(handle, po), "primitive_attr_set_post_ops")
        }
    }
    deinit { dnnl_primitive_attr_destroy(handle) }
}

extension Element {
    var dnnl: dnnl_data_type_t { self == .f32 ? dnnl_f32 : dnnl_bf16 }
}

/// Whether this CPU runs bf16 convolutions natively (AVX512-BF16).
public var hasNativeBF16: Bool {
    dnnl_get_effective_cpu_isa().rawValue >= dnnl_cpu_isa_avx512_core_bf16.rawValue
}

/// What a convolution does to its result before writing it: ReLU, add what dst holds, multiply
/// by a learned scalar (the parameter `<key>.scale`), or e^x (FCOS's box distances).
enum PostOp: Equatable {
    case relu, sum, scale(key: String), exp

    /// Appends this elementwise post-op (not `.sum`, whose scale differs between fp32 and int8).
    func appendEltwise(to po: dnnl_post_ops_t?, scalar: (String) -> Float) throws {
        switch self {
        case .relu: try check(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_relu, 0, 0), "post_ops_append_eltwise")
        case .scale(let key): try check(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_linear, scalar(key), 0), "post_ops_append_eltwise")
        case .exp: try check(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_exp, 0, 0), "post_ops_append_eltwise")
        case .sum: preconditionFailure("sum is not elementwise")
        }
    }
}

enum MemoryDesc {
    static func make(_ dims: [Int], _ tag: dnnl_format_tag_t, type: dnnl_data_type_t = dnnl_f32) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map(Int64.init)
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, type, tag), "memory_desc_init_by_tag(\(dims))")
        return md
    }
    /// The engine's blocked activation layout (nChw16c or nChw8c).
    static func blocked(_ s: Shape4, _ e: Element = .f32) throws -> dnnl_memory_desc_t {
        try make(s.dims, Engine.shared.channelBlock == 16 ? dnnl_nChw16c : dnnl_nChw8c, type: e.dnnl)
    }
    static func plain(_ dims: [Int], _ e: Element = .f32) throws -> dnnl_memory_desc_t {
        let tags: [Int: dnnl_format_tag_t] = [1: dnnl_a, 2: dnnl_ab, 3: dnnl_abc, 4: dnnl_abcd, 5: dnnl_abcde]
        return try make(dims, tags[dims.count]!, type: e.dnnl)
    }
    static func any(_ dims: [Int]) throws -> dnnl_memory_desc_t { try make(dims, dnnl_format_tag_any) }

    static func size(_ md: dnnl_memory_desc_t) -> Int {
        var m = md
        return dnnl_memory_desc_get_size(&m)
    }
    static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        var x = a, y = b
        return dnnl_memory_desc_equal(&x, &y) != 0
    }
}
