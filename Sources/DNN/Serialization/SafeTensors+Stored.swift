import Foundation

extension SafeTensors {
    /// The bytes of a safetensors file holding tensors of any dtype (e.g. int64
    /// `num_batches_tracked` next to fp32 weights), keys sorted, header padded to 8 bytes.
    public static func encode(_ tensors: [String: StoredTensor], metadata: [String: String] = [:]) -> Data {
        var entries: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            entries.append("\"__metadata__\":{\(m)}")
        }
        var offset = 0
        let keys = tensors.keys.sorted()
        for key in keys {
            let t = tensors[key]!
            entries.append("\(jsonString(key)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        var header = "{" + entries.joined(separator: ",") + "}"
        while header.utf8.count % 8 != 0 { header += " " }
        var data = Data(capacity: 8 + header.utf8.count + offset)
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        for key in keys { data.append(tensors[key]!.bytes) }
        return data
    }
}

extension StoredTensor {
    /// An fp32 tensor as stored bytes.
    public init(_ t: Tensor) {
        self.init(dtype: .float32, shape: t.shape, bytes: t.scalars.withUnsafeBytes { Data($0) })
    }
    /// A scalar int64 (PyTorch's `num_batches_tracked` is a 0-dimensional int64 tensor).
    public init(int64 value: Int64) {
        self.init(dtype: .int64, shape: [], bytes: withUnsafeBytes(of: value.littleEndian) { Data($0) })
    }
}
