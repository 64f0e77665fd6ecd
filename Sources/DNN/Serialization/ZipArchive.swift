import Foundation

/// The entries of an uncompressed ("stored") zip archive, as torch.save writes them.
/// Reads the central directory (with zip64 extensions); compressed entries are refused.
struct ZipArchive {
    struct Entry {
        let name: String
        let range: Range<Int>
    }
    let entries: [String: Entry]

    /// - Complexity: O(entries + 64 KiB); the file is read in place (no copy), so a memory-mapped
    ///   checkpoint stays mapped.
    init(_ bytes: UnsafeRawBufferPointer, _ url: URL) throws {
        func fail(_ why: String) -> DNNError { DNNError.checkpoint(url, "broken zip archive: \(why)") }
        func u16(_ o: Int) throws -> Int {
            guard o >= 0, o + 2 <= bytes.count else { throw fail("truncated") }
            return Int(bytes[o]) | Int(bytes[o + 1]) << 8
        }
        func u32(_ o: Int) throws -> Int { try u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) throws -> Int {
            let lo = try u32(o), hi = try u32(o + 4)
            guard hi < 1 << 30 else { throw fail("offset out of range") }
            return lo | hi << 32
        }
        // End of central directory: the last signature within 64 KiB + 22 bytes of the end.
        var eocd = -1
        var i = bytes.count - 22
        while i >= 0, i >= bytes.count - 22 - 65_535 {
            if bytes[i] == 0x50, bytes[i + 1] == 0x4B, bytes[i + 2] == 0x05, bytes[i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw fail("no end of central directory (truncated?)") }
        var count = try u16(eocd + 10)
        var dirOffset = try u32(eocd + 16)
        if count == 0xFFFF || dirOffset == 0xFFFF_FFFF {
            // zip64 end of central directory locator just before.
            let locator = eocd - 20
            guard locator >= 0, try u32(locator) == 0x0706_4B50 else { throw fail("zip64 locator missing") }
            let record = try u64(locator + 8)
            guard try u32(record) == 0x0606_4B50 else { throw fail("zip64 end record missing") }
            count = try u64(record + 32)
            dirOffset = try u64(record + 48)
        }
        guard count <= bytes.count / 46 else { throw fail("claims \(count) entries, more than the file can hold") }
        var entries: [String: Entry] = [:]
        var p = dirOffset
        for _ in 0..<count {
            guard try u32(p) == 0x0201_4B50 else { throw fail("bad central directory entry") }
            let method = try u16(p + 10)
            var compressed = try u32(p + 20)
            var size = try u32(p + 24)
            let nameLength = try u16(p + 28), extraLength = try u16(p + 30), commentLength = try u16(p + 32)
            var local = try u32(p + 42)
            guard p + 46 + nameLength <= bytes.count else { throw fail("truncated") }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            // zip64 extra field: the 0xFFFFFFFF fields, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = try u16(e), length = try u16(e + 2)
                if id == 0x0001 {
                    var q = e + 4
                    if size == 0xFFFF_FFFF { size = try u64(q); q += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = try u64(q); q += 8 }
                    if local == 0xFFFF_FFFF { local = try u64(q) }
                }
                e += 4 + length
            }
            guard method == 0 else { throw fail("entry \(name) is compressed (method \(method)); torch.save writes stored entries") }
            guard try u32(local) == 0x0403_4B50 else { throw fail("entry \(name) has no local header") }
            let start = local + 30 + (try u16(local + 26)) + (try u16(local + 28))
            guard start >= 0, start + size <= bytes.count, size == compressed else {
                throw fail("entry \(name) extends past the end of the file (truncated?)")
            }
            entries[name] = Entry(name: name, range: start..<(start + size))
            p += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }
}
