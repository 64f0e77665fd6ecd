import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`), then
/// the tensor bytes. The package's own weight format.
public enum SafeTensors {
    public static func read(_ url: URL) throws -> (tensors: [String: StoredTensor], metadata: [String: String]) {
        try parse(try readFile(url), url)
    }

    /// Reads safetensors bytes already in memory (e.g. weights embedded in the binary); `source`
    /// names them in errors.
    public static func read(_ data: Data, source: URL) throws -> (tensors: [String: StoredTensor], metadata: [String: String]) {
        try parse(data, source)
    }

    /// The floating-point tensors, as fp32, of safetensors bytes assembled into the binary's
    /// read-only data (the embedded default models; not copied until converted); `source` names
    /// them in errors.
    public static func embeddedFloatTensors(_ bytes: UnsafePointer<UInt8>, count: Int, source: URL) throws -> [String: Tensor] {
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes), count: count, deallocator: .none)
        return try parse(data, source).tensors.filter { $0.value.dtype.isFloatingPoint }.mapValues { $0.floatTensor() }
    }

    static func parse(_ data: Data, _ url: URL) throws -> (tensors: [String: StoredTensor], metadata: [String: String]) {
        func fail(_ why: String) -> DNNError { DNNError.checkpoint(url, why) }
        guard data.count >= 8 else { throw fail("truncated: \(data.count) bytes, not even a header length") }
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }
        guard n <= UInt64(data.count - 8) else { throw fail("truncated: header says \(n) bytes, file has \(data.count - 8) after the length") }
        let headerEnd = data.startIndex + 8 + Int(n)
        guard let json = try? JSONSerialization.jsonObject(with: data[(data.startIndex + 8)..<headerEnd]),
              let header = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let body = data[headerEnd...]
        var tensors: [String: StoredTensor] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in header {
            if key == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any], let dt = entry["dtype"] as? String,
                  let shapeAny = entry["shape"] as? [Any], let offsetsAny = entry["data_offsets"] as? [Any] else {
                throw fail("tensor '\(key)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dt) else { throw fail("tensor '\(key)' has unsupported dtype \(dt)") }
            let shape = shapeAny.compactMap(integer)
            let offsets = offsetsAny.compactMap(integer)
            guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2 else {
                throw fail("tensor '\(key)' has a malformed shape or data_offsets")
            }
            var count = 1
            for d in shape {
                let (m, o) = count.multipliedReportingOverflow(by: d)
                guard !o, m <= body.count else { throw fail("tensor '\(key)' shape \(shape) is larger than the file") }
                count = m
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= body.count else {
                throw fail("tensor '\(key)' data_offsets [\(begin), \(end)] lie outside the \(body.count) data bytes (truncated?)")
            }
            guard end - begin == count * dtype.size else {
                throw fail("tensor '\(key)' has \(end - begin) bytes but \(dtype.rawValue) \(shape) needs \(count * dtype.size)")
            }
            let start = body.startIndex + begin
            tensors[key] = StoredTensor(dtype: dtype, shape: shape, bytes: Data(body[start..<(start + end - begin)]))
        }
        return (tensors, metadata)
    }

    /// Writes fp32 tensors, keys sorted, header padded to 8 bytes; atomically.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        var header = "{"
        var entries: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            entries.append("\"__metadata__\":{\(m)}")
        }
        var offset = 0
        let keys = tensors.keys.sorted()
        for key in keys {
            let t = tensors[key]!
            let bytes = t.count * 4
            entries.append("\(jsonString(key)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += entries.joined(separator: ",") + "}"
        while header.utf8.count % 8 != 0 { header += " " }
        var data = Data(capacity: 8 + header.utf8.count + offset)
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        for key in keys { tensors[key]!.scalars.withUnsafeBytes { data.append(contentsOf: $0) } }
        try writeTensorFile(data, to: url)
    }

    /// A JSON integer (not a bool, not a fraction or exponent form, within Int).
    static func integer(_ value: Any) -> Int? {
        guard let n = value as? NSNumber, ["i", "s", "l", "q", "I", "S", "L", "Q"].contains(String(cString: n.objCType)) else {
            return nil
        }
        return value as? Int
    }

    static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self).dropFirst().dropLast().description
    }
}
