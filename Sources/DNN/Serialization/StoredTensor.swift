import Foundation

/// Element types found in checkpoints.
public enum DType: String, Sendable, CaseIterable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16", float64 = "F64"
    case int64 = "I64", int32 = "I32", int16 = "I16", int8 = "I8", uint8 = "U8", bool = "BOOL"

    public var size: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }
    public var isFloatingPoint: Bool { [.float32, .float16, .bfloat16, .float64].contains(self) }
}

/// A tensor as a checkpoint stores it: any dtype, contiguous C order, little-endian bytes.
public struct StoredTensor: Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let bytes: Data

    public init(dtype: DType, shape: [Int], bytes: Data) {
        precondition(bytes.count == shape.reduce(1, *) * dtype.size, "byte count does not match shape and dtype")
        (self.dtype, self.shape, self.bytes) = (dtype, shape, bytes)
    }

    public var count: Int { shape.reduce(1, *) }

    /// The values as fp32 (integers and bools converted; half and bfloat16 widened exactly).
    public func floatTensor() -> Tensor {
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                switch dtype {
                case .float32: out[i] = raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
                case .float64: out[i] = Float(raw.loadUnaligned(fromByteOffset: i * 8, as: Double.self))
                case .float16: out[i] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                case .bfloat16: out[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16)
                case .int64: out[i] = Float(raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
                case .int32: out[i] = Float(raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
                case .int16: out[i] = Float(raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))
                case .int8: out[i] = Float(raw.load(fromByteOffset: i, as: Int8.self))
                case .uint8, .bool: out[i] = Float(raw[i])
                }
            }
        }
        return Tensor(shape: shape, scalars: out)
    }
}

/// What a checkpoint carries beside its tensors.
public struct CheckpointMetadata: Sendable, Equatable {
    /// String entries: mmdetection's `meta` (`config`, `cfg`, `mmdet_version`, ...), or a
    /// safetensors header's `__metadata__`.
    public var strings: [String: String] = [:]
    /// Class names, when the file names them (mmdetection's `CLASSES` / `dataset_meta.classes`).
    public var classes: [String]?
    public init(strings: [String: String] = [:], classes: [String]? = nil) { (self.strings, self.classes) = (strings, classes) }

    /// The safetensors metadata entry exported weights name their classes in (one per line).
    public static let classesKey = "classes"

    /// A safetensors header's metadata, with the classes its `classes` entry names.
    init(safetensors strings: [String: String]) {
        let classes = strings[Self.classesKey].map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        self.init(strings: strings, classes: classes?.isEmpty == false ? classes : nil)
    }
}

/// Any checkpoint this package reads, told apart by content, not by file name.
public enum Checkpoint {
    /// All tensors of a safetensors, zip .pth or legacy .pth file. Training checkpoints are
    /// unwrapped (`state_dict` / `model`) and DataParallel's `module.` prefix removed.
    public static func load(_ url: URL) throws -> [String: StoredTensor] {
        try loadWithMetadata(url).tensors
    }

    /// The tensors and what the file says beside them (mmdetection's `meta`; safetensors'
    /// string metadata).
    public static func loadWithMetadata(_ url: URL) throws -> (tensors: [String: StoredTensor], metadata: CheckpointMetadata) {
        let data = try readFile(url)
        if data.count >= 4, data.prefix(4) == Data([0x50, 0x4B, 0x03, 0x04]) {
            return try TorchCheckpoint.readZip(data, url)
        }
        if data.count >= 2, data[data.startIndex] == 0x80, (2...5).contains(data[data.startIndex + 1]) {
            return try TorchCheckpoint.readLegacy(data, url)
        }
        if data.count >= 9, data[data.startIndex + 8] == UInt8(ascii: "{") {
            let file = try SafeTensors.parse(data, url)
            return (file.tensors, CheckpointMetadata(safetensors: file.metadata))
        }
        throw DNNError.checkpoint(url, "not a checkpoint: neither safetensors nor a PyTorch .pth (zip or legacy) file")
    }

    /// The floating-point tensors as fp32; integer buffers such as `num_batches_tracked` are dropped.
    public static func loadFloat(_ url: URL) throws -> [String: Tensor] {
        floatTensors(try load(url))
    }

    /// The floating-point tensors of a loaded file as fp32 (integer buffers dropped).
    public static func floatTensors(_ stored: [String: StoredTensor]) -> [String: Tensor] {
        stored.filter { $0.value.dtype.isFloatingPoint }.mapValues { $0.floatTensor() }
    }

    /// The tensors whose keys start with `prefix`, under the rest of their key; the others
    /// dropped (a wrapped model's own weights: `model.conv1.weight` -> `conv1.weight`).
    public static func tensors(under prefix: String, in tensors: [String: Tensor]) -> [String: Tensor] {
        Dictionary(tensors.compactMap { $0.key.hasPrefix(prefix) ? (String($0.key.dropFirst(prefix.count)), $0.value) : nil },
                   uniquingKeysWith: { a, _ in a })
    }
}
