import Foundation

/// NumPy's .npy format (version 1.0-3.0 read, 1.0 written) for float32 tensors: little-endian,
/// C order. Other dtypes and Fortran order are refused with a clear error.
public enum NPY {
    public static func read(_ url: URL) throws -> Tensor {
        let data = try readFile(url)
        return try data.withUnsafeBytes { try parse($0, url) }
    }

    static func parse(_ raw: UnsafeRawBufferPointer, _ url: URL) throws -> Tensor {
        func fail(_ why: String) -> DNNError { DNNError.checkpoint(url, why) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard raw.count >= 10, Array(raw[0..<6]) == magic else { throw fail("not an .npy file (bad magic)") }
        let major = raw[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1: headerLength = Int(raw[8]) | Int(raw[9]) << 8; headerStart = 10
        case 2, 3:
            guard raw.count >= 12 else { throw fail("truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(raw[8 + $1]) << (8 * $1) }; headerStart = 12
        default: throw fail("unsupported .npy version \(major)")
        }
        guard headerStart + headerLength <= raw.count else { throw fail("truncated header") }
        let header = String(decoding: raw[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let descr = try field(header, "descr", url)
        guard descr == "'<f4'" || descr == "'float32'" || descr == "\"<f4\"" else {
            throw fail("dtype \(descr) is not supported (need float32 '<f4')")
        }
        let fortran = try field(header, "fortran_order", url)
        guard fortran == "False" else { throw fail("Fortran order is not supported (save with C order)") }
        let shapeText = try field(header, "shape", url)
        guard shapeText.hasPrefix("("), shapeText.hasSuffix(")") else { throw fail("malformed shape \(shapeText)") }
        let parts = shapeText.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for p in parts {
            guard let d = Int(p), d >= 0 else { throw fail("malformed shape \(shapeText)") }
            shape.append(d)
        }
        let start = headerStart + headerLength
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (m, o) = acc.0.multipliedReportingOverflow(by: d); return (m, acc.1 || o)
        }
        guard !overflow, count <= (raw.count - start) / 4 else {
            throw fail("truncated data: shape \(shape) needs \(count) floats, the file holds \((raw.count - start) / 4)")
        }
        var scalars = [Float](repeating: 0, count: count)
        scalars.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + count * 4)])) }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// The value text of `key` in the header's Python dict literal.
    static func field(_ header: String, _ key: String, _ url: URL) throws -> String {
        for quote in ["'", "\""] {
            guard let r = header.range(of: "\(quote)\(key)\(quote)") else { continue }
            var rest = header[r.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { break }
            rest = rest.dropFirst().drop { $0 == " " }
            if rest.first == "(" {
                guard let close = rest.firstIndex(of: ")") else { break }
                return String(rest[...close])
            }
            let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
            return rest[..<end].trimmingCharacters(in: .whitespaces)
        }
        throw DNNError.checkpoint(url, "header has no '\(key)'")
    }

    public static func write(_ t: Tensor, to url: URL) throws {
        let shape = t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        // Pad so the data starts on a 64-byte boundary, header ending in a newline.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let n = header.utf8.count
        data.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)])
        data.append(contentsOf: Array(header.utf8))
        t.scalars.withUnsafeBytes { data.append(contentsOf: $0) }
        try writeTensorFile(data, to: url)
    }
}
