import Foundation

/// A MATLAB level 5 MAT-file (MATLAB `save -v6` / `-v7`, scipy.io.savemat), read into memory.
///
/// Reads what the format's data files hold: numeric arrays of every class (double, single,
/// int/uint 8 to 64; the logical flag; complex parts), char arrays (UTF-8, UTF-16, UTF-32,
/// uint8 or uint16 storage) and cell arrays, in little- or big-endian files, with the small
/// data element format and miCOMPRESSED (zlib) elements. Struct, object, sparse and function
/// arrays are skipped (kept as `.unsupported`, named); v7.3 files (HDF5) and v4 files are
/// refused.
///
/// Built for files from anywhere: every size is checked against the bytes that remain before
/// anything is allocated, dimensions are capped by `Limits`, compressed data may not inflate
/// past `Limits.maxInflatedBytes`, and cells may nest only so deep. A bad file gives a
/// `DatasetError` naming the file and what is wrong.
///
/// ```swift
/// let mat = try MATFile.load(URL(fileURLWithPath: "annot/gt_valid.mat"))
/// let missing = try mat.variable("jnt_missing")   // double 16x2958
/// print(missing.summary, missing.real![0])
/// ```
public struct MATFile: Sendable {
    /// What the reader accepts.
    public struct Limits: Sendable {
        /// Elements over all arrays of the file (numbers, characters, cells): 16 M (128 MB as
        /// doubles); MPII's gt_valid.mat has 0.1 M.
        public var maxElements = 1 << 24
        /// Bytes one miCOMPRESSED element may inflate to: 256 MB (a 1.8 MB zlib bomb inflating
        /// to gigabytes stops there); MPII's ground truth inflates to under 1 MB.
        public var maxInflatedBytes = 1 << 28
        /// Cell arrays within cell arrays.
        public var maxDepth = 32
        public init() {}
    }

    /// The header's descriptive text ("MATLAB 5.0 MAT-file, Platform: ...").
    public var text: String
    public var bigEndian: Bool
    /// The variables in file order.
    public var variables: [MATArray]
    /// For messages: the file's path.
    public var source: String

    public subscript(name: String) -> MATArray? { variables.first { $0.name == name } }

    /// The variable `name`, or an error naming the file and the variables it has.
    public func variable(_ name: String) throws -> MATArray {
        if let v = self[name] { return v }
        let names = variables.map(\.name).filter { !$0.isEmpty }
        throw DatasetError.mat(source, "has no variable '\(name)' (it has: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
    }

    /// A file made in memory (for tests and tools).
    public init(variables: [MATArray], source: String, text: String = "", bigEndian: Bool = false) {
        (self.variables, self.source, self.text, self.bigEndian) = (variables, source, text, bigEndian)
    }

    /// Reads the file at `url`.
    public static func load(_ url: URL, limits: Limits = Limits()) throws -> MATFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DatasetError.mat(url.path, FileManager.default.fileExists(atPath: url.path) ? "cannot be read" : "no such file")
        }
        return try MATFile(bytes: [UInt8](data), source: url.path, limits: limits)
    }

    /// Parses a whole file held in memory; `source` names it in errors.
    /// - Complexity: O(file size + inflated size).
    public init(bytes: [UInt8], source: String, limits: Limits = Limits()) throws {
        self.source = source
        guard bytes.count >= 128 else { throw DatasetError.mat(source, "is \(bytes.count) bytes, too short for a MAT-file (the header alone is 128)") }
        let head = String(decoding: bytes[0..<116], as: UTF8.self)
        if head.hasPrefix("MATLAB 7.3") {
            throw DatasetError.mat(source, "is a MATLAB 7.3 MAT-file (HDF5), which this reader does not read; save it with `save -v7` (or scipy.io.savemat)")
        }
        switch (bytes[126], bytes[127]) {
        case (UInt8(ascii: "I"), UInt8(ascii: "M")): bigEndian = false
        case (UInt8(ascii: "M"), UInt8(ascii: "I")): bigEndian = true
        default:
            throw DatasetError.mat(source, "is not a level 5 MAT-file (no endian indicator 'IM' or 'MI' at byte 126; a v4 file or another format?)")
        }
        if bytes[0..<4].contains(0) {
            throw DatasetError.mat(source, "is not a level 5 MAT-file (the header text is missing; a v4 file?)")
        }
        let version = bigEndian ? UInt16(bytes[124]) << 8 | UInt16(bytes[125]) : UInt16(bytes[125]) << 8 | UInt16(bytes[124])
        guard version == 0x0100 else {
            throw DatasetError.mat(source, "has header version 0x\(String(version, radix: 16)); level 5 MAT-files have 0x0100")
        }
        text = head.trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
        var parser = MATParser(bigEndian: bigEndian, limits: limits)
        var variables: [MATArray] = []
        do {
            var offset = 128
            while offset < bytes.count {
                let tag = try parser.tag(bytes[...], at: offset, context: "variable \(variables.count + 1)")
                switch tag.type {
                case MATParser.miMATRIX:
                    variables.append(try parser.matrix(bytes[tag.data], depth: 0, at: tag.data.lowerBound))
                    offset = tag.next
                case MATParser.miCOMPRESSED:
                    variables.append(try parser.compressed(bytes[tag.data], at: tag.data.lowerBound))
                    offset = tag.data.upperBound  // compressed elements are not padded
                default:
                    throw MATParseError(at: offset, "variable \(variables.count + 1) is a data element of type \(MATParser.typeName(tag.type)); expected miMATRIX or miCOMPRESSED")
                }
            }
        } catch {
            throw DatasetError.mat(source, "\(error)")
        }
        self.variables = variables
    }
}

/// Where in the file (byte offset; within inflated data, from the element's start) and what.
struct MATParseError: Error, CustomStringConvertible {
    let description: String
    init(at offset: Int, _ message: String, inflatedFrom: Int? = nil) {
        let place = inflatedFrom.map { "byte \(offset) of the data inflated from the compressed element at byte \($0)" } ?? "byte \(offset)"
        description = "\(message) (at \(place))"
    }
}

/// The element-level reader. Offsets in messages are file offsets, or offsets inside the
/// inflated data of a compressed element (`inflatedFrom`).
struct MATParser {
    static let miINT8: UInt32 = 1, miUINT8: UInt32 = 2, miINT16: UInt32 = 3, miUINT16: UInt32 = 4
    static let miINT32: UInt32 = 5, miUINT32: UInt32 = 6, miSINGLE: UInt32 = 7, miDOUBLE: UInt32 = 9
    static let miINT64: UInt32 = 12, miUINT64: UInt32 = 13, miMATRIX: UInt32 = 14, miCOMPRESSED: UInt32 = 15
    static let miUTF8: UInt32 = 16, miUTF16: UInt32 = 17, miUTF32: UInt32 = 18

    static func typeName(_ type: UInt32) -> String {
        let names: [UInt32: String] = [1: "miINT8", 2: "miUINT8", 3: "miINT16", 4: "miUINT16", 5: "miINT32", 6: "miUINT32",
                                       7: "miSINGLE", 9: "miDOUBLE", 12: "miINT64", 13: "miUINT64", 14: "miMATRIX",
                                       15: "miCOMPRESSED", 16: "miUTF8", 17: "miUTF16", 18: "miUTF32"]
        return names[type] ?? "\(type) (unknown)"
    }

    /// Bytes per element of a numeric data type, nil for others.
    static func size(of type: UInt32) -> Int? {
        switch type {
        case miINT8, miUINT8: 1
        case miINT16, miUINT16: 2
        case miINT32, miUINT32, miSINGLE: 4
        case miDOUBLE, miINT64, miUINT64: 8
        default: nil
        }
    }

    let bigEndian: Bool
    let limits: MATFile.Limits
    /// Elements read so far (all arrays), against `limits.maxElements`.
    var elements = 0
    /// The compressed element being read, for messages.
    var inflatedFrom: Int?

    init(bigEndian: Bool, limits: MATFile.Limits) { (self.bigEndian, self.limits) = (bigEndian, limits) }

    func fail(_ offset: Int, _ message: String) -> MATParseError { MATParseError(at: offset, message, inflatedFrom: inflatedFrom) }

    func u32(_ b: ArraySlice<UInt8>, _ i: Int) -> UInt32 {
        let (b0, b1, b2, b3) = (UInt32(b[i]), UInt32(b[i + 1]), UInt32(b[i + 2]), UInt32(b[i + 3]))
        return bigEndian ? b0 << 24 | b1 << 16 | b2 << 8 | b3 : b3 << 24 | b2 << 16 | b1 << 8 | b0
    }

    /// A data element's tag at `offset` of `bytes` (whose indices are offsets).
    struct Tag {
        var type: UInt32
        /// The element's data bytes.
        var data: Range<Int>
        /// Where the next element starts (data padded to 8 bytes; the small format takes 8 in all).
        var next: Int
    }

    func tag(_ bytes: ArraySlice<UInt8>, at offset: Int, context: String) throws(MATParseError) -> Tag {
        let end = bytes.endIndex
        guard end - offset >= 4 else { throw fail(offset, "\(context): the file ends inside a data element tag (\(end - offset) of 8 bytes)") }
        let first = u32(bytes, offset)
        if first >> 16 != 0 {
            // Small data element: type and size (at most 4) in one word, the data in the next 4 bytes.
            let (type, size) = (first & 0xFFFF, Int(first >> 16))
            guard size <= 4 else { throw fail(offset, "\(context): a small data element declares \(size) bytes (at most 4 fit)") }
            guard end - offset >= 8 else { throw fail(offset, "\(context): the file ends inside a small data element") }
            return Tag(type: type, data: (offset + 4)..<(offset + 4 + size), next: offset + 8)
        }
        guard end - offset >= 8 else { throw fail(offset, "\(context): the file ends inside a data element tag (\(end - offset) of 8 bytes)") }
        let size = Int(u32(bytes, offset + 4))
        let start = offset + 8
        guard size <= end - start else {
            throw fail(offset, "\(context): a \(Self.typeName(first)) element declares \(size) bytes but only \(end - start) remain (truncated file?)")
        }
        let padded = start + (size + 7) / 8 * 8
        // The last element may lack its padding.
        return Tag(type: first, data: start..<(start + size), next: min(padded, end))
    }

    /// A miCOMPRESSED element: a zlib stream holding one miMATRIX element.
    mutating func compressed(_ bytes: ArraySlice<UInt8>, at offset: Int) throws(MATParseError) -> MATArray {
        let inflated: [UInt8]
        do {
            inflated = try Inflate.zlib(bytes, limit: limits.maxInflatedBytes).output
        } catch {
            switch error {
            case .tooLarge(let limit): throw fail(offset, "compressed data inflates past the limit of \(limit) bytes")
            case .truncated: throw fail(offset, "compressed data ends early (truncated file?)")
            case .corrupt(let why): throw fail(offset, "compressed data is corrupt (zlib: \(why))")
            }
        }
        let outer = inflatedFrom
        inflatedFrom = offset
        defer { inflatedFrom = outer }
        let slice = inflated[...]
        let tag = try tag(slice, at: 0, context: "compressed variable")
        guard tag.type == Self.miMATRIX else {
            throw fail(0, "compressed data holds a \(Self.typeName(tag.type)) element; expected miMATRIX")
        }
        return try matrix(slice[tag.data], depth: 0, at: tag.data.lowerBound)
    }

    /// A miMATRIX element's data: array flags, dimensions, name, then the class's parts.
    mutating func matrix(_ bytes: ArraySlice<UInt8>, depth: Int, at offset: Int) throws(MATParseError) -> MATArray {
        // MATLAB writes an empty cell element as a miMATRIX of no bytes: a 0x0 double.
        if bytes.isEmpty { return MATArray(name: "", arrayClass: .double, dimensions: [0, 0], values: .numeric(real: [], imaginary: nil)) }
        var cursor = bytes.startIndex
        func next(_ what: String) throws(MATParseError) -> Tag {
            guard cursor < bytes.endIndex else { throw fail(cursor, "array ends before its \(what)") }
            let t = try tag(bytes, at: cursor, context: "array \(what)")
            cursor = t.next
            return t
        }
        let flagsTag = try next("flags")
        guard flagsTag.type == Self.miUINT32 || flagsTag.type == Self.miINT32, flagsTag.data.count == 8 else {
            throw fail(flagsTag.data.lowerBound, "array flags must be 8 bytes of miUINT32, found \(flagsTag.data.count) bytes of \(Self.typeName(flagsTag.type))")
        }
        let flags = u32(bytes, flagsTag.data.lowerBound)
        let code = Int(flags & 0xFF)
        guard let arrayClass = MATArray.Class(rawValue: code) else {
            throw fail(flagsTag.data.lowerBound, "unknown array class \(code) (MAT-files define 1...17)")
        }
        let isComplex = flags & 0x800 != 0, isLogical = flags & 0x200 != 0
        if arrayClass == .opaque {
            // Opaque objects (MATLAB strings, tables...) have no dimensions: name, then class data.
            let name = try self.name(bytes, next("name"))
            return MATArray(name: name, arrayClass: .opaque, dimensions: [1, 1], values: .unsupported)
        }
        let dimsTag = try next("dimensions")
        guard dimsTag.type == Self.miINT32 || dimsTag.type == Self.miUINT32, dimsTag.data.count % 4 == 0, dimsTag.data.count >= 4 else {
            throw fail(dimsTag.data.lowerBound, "array dimensions must be miINT32 values, found \(dimsTag.data.count) bytes of \(Self.typeName(dimsTag.type))")
        }
        guard dimsTag.data.count / 4 <= 64 else { throw fail(dimsTag.data.lowerBound, "array has \(dimsTag.data.count / 4) dimensions (at most 64 are read)") }
        var dimensions: [Int] = []
        var count = 1, overflow = false
        for i in stride(from: dimsTag.data.lowerBound, to: dimsTag.data.upperBound, by: 4) {
            let d = Int(Int32(bitPattern: u32(bytes, i)))
            guard d >= 0 else { throw fail(i, "array dimension \(d) is negative") }
            dimensions.append(d)
            let (product, o) = count.multipliedReportingOverflow(by: d)
            (count, overflow) = (product, overflow || o)
        }
        let shape = dimensions.map(String.init).joined(separator: "x")
        if overflow || count > limits.maxElements - elements {
            throw fail(dimsTag.data.lowerBound, "array dimensions \(shape) exceed the limit of \(limits.maxElements) elements per file")
        }
        let name = try self.name(bytes, next("name"))
        let label = name.isEmpty ? "a \(shape) \(arrayClass.name) array" : "'\(name)' (\(shape) \(arrayClass.name))"
        var array = MATArray(name: name, arrayClass: arrayClass, dimensions: dimensions, isLogical: isLogical, values: .unsupported)
        switch arrayClass {
        case .double, .single, .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64:
            elements += count
            let real = try numbers(bytes, next("real part of \(label)"), count: count, label: label)
            let imaginary = isComplex ? try numbers(bytes, next("imaginary part of \(label)"), count: count, label: label) : nil
            array.values = .numeric(real: real, imaginary: imaginary)
        case .char:
            elements += count
            array.values = .characters(try characters(bytes, next("characters of \(label)"), count: count, label: label))
        case .cell:
            guard depth < limits.maxDepth else { throw fail(offset, "cell arrays nest deeper than \(limits.maxDepth) levels") }
            // Each cell takes at least a tag: refuse counts the bytes cannot hold before reserving.
            guard count <= (bytes.endIndex - cursor) / 8 else {
                throw fail(cursor, "cell array \(label) needs \(count) elements but only \(bytes.endIndex - cursor) bytes remain")
            }
            elements += count
            var cells: [MATArray] = []
            cells.reserveCapacity(count)
            for k in 0..<count {
                let t = try next("cell \(k + 1) of \(label)")
                guard t.type == Self.miMATRIX else {
                    throw fail(t.data.lowerBound - 8, "cell \(k + 1) of \(label) is a \(Self.typeName(t.type)) element; expected miMATRIX")
                }
                cells.append(try matrix(bytes[t.data], depth: depth + 1, at: t.data.lowerBound))
            }
            array.values = .cells(cells)
        case .structure, .object, .sparse, .function, .opaque:
            array.values = .unsupported  // the element's size is known: the rest is skipped
        }
        return array
    }

    func name(_ bytes: ArraySlice<UInt8>, _ t: Tag) throws(MATParseError) -> String {
        guard t.type == Self.miINT8 || t.type == Self.miUINT8 || t.type == Self.miUTF8 else {
            throw fail(t.data.lowerBound, "array name must be miINT8 characters, found \(Self.typeName(t.type))")
        }
        return String(decoding: bytes[t.data], as: UTF8.self)
    }

    /// `count` numbers of any numeric storage type (MATLAB stores doubles in the smallest
    /// integer type that holds them), as doubles.
    func numbers(_ bytes: ArraySlice<UInt8>, _ t: Tag, count: Int, label: String) throws(MATParseError) -> [Double] {
        guard let size = Self.size(of: t.type) else {
            throw fail(t.data.lowerBound, "\(label) stores its numbers as \(Self.typeName(t.type)), not a numeric type")
        }
        guard t.data.count == count * size else {
            throw fail(t.data.lowerBound, "\(label) has \(t.data.count) bytes of \(Self.typeName(t.type)) data; its \(count) elements need \(count * size)")
        }
        var out = [Double](repeating: 0, count: count)
        let start = t.data.lowerBound
        func word(_ i: Int, _ n: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<n { v |= UInt64(bytes[i + (bigEndian ? n - 1 - k : k)]) << (8 * UInt64(k)) }
            return v
        }
        for e in 0..<count {
            let i = start + e * size
            switch t.type {
            case Self.miINT8: out[e] = Double(Int8(bitPattern: bytes[i]))
            case Self.miUINT8: out[e] = Double(bytes[i])
            case Self.miINT16: out[e] = Double(Int16(truncatingIfNeeded: word(i, 2)))
            case Self.miUINT16: out[e] = Double(UInt16(truncatingIfNeeded: word(i, 2)))
            case Self.miINT32: out[e] = Double(Int32(truncatingIfNeeded: word(i, 4)))
            case Self.miUINT32: out[e] = Double(UInt32(truncatingIfNeeded: word(i, 4)))
            case Self.miSINGLE: out[e] = Double(Float(bitPattern: UInt32(truncatingIfNeeded: word(i, 4))))
            case Self.miDOUBLE: out[e] = Double(bitPattern: word(i, 8))
            case Self.miINT64: out[e] = Double(Int64(bitPattern: word(i, 8)))
            default: out[e] = Double(word(i, 8))  // miUINT64
            }
        }
        return out
    }

    /// `count` characters as UTF-16 code units: MATLAB writes miUINT16 (UTF-16 code units),
    /// scipy miUTF8; miUTF16, miUTF32 and miUINT8/miINT8 are read too.
    func characters(_ bytes: ArraySlice<UInt8>, _ t: Tag, count: Int, label: String) throws(MATParseError) -> [UInt16] {
        let data = bytes[t.data]
        var units: [UInt16]
        switch t.type {
        case Self.miUINT16, Self.miUTF16, Self.miINT16:
            guard data.count % 2 == 0 else { throw fail(t.data.lowerBound, "\(label) has an odd number of bytes of 16-bit characters") }
            units = stride(from: data.startIndex, to: data.endIndex, by: 2).map { (i: Int) -> UInt16 in
                let (a, b) = (UInt16(data[i]), UInt16(data[i + 1]))
                return bigEndian ? a << 8 | b : b << 8 | a
            }
        case Self.miUINT8, Self.miINT8:
            units = data.map { UInt16($0) }  // one byte per character (Latin-1)
        case Self.miUTF8:
            guard let text = String(validating: data, as: UTF8.self) else {
                throw fail(t.data.lowerBound, "\(label) is not valid UTF-8")
            }
            units = Array(text.utf16)
        case Self.miUTF32:
            guard data.count % 4 == 0 else { throw fail(t.data.lowerBound, "\(label) has a byte count not a multiple of 4 for UTF-32") }
            units = []
            for i in stride(from: data.startIndex, to: data.endIndex, by: 4) {
                guard let scalar = Unicode.Scalar(u32(bytes, i)) else { throw fail(i, "\(label) holds an invalid UTF-32 character") }
                units += Array(String(Character(scalar)).utf16)
            }
        default:
            throw fail(t.data.lowerBound, "\(label) stores its characters as \(Self.typeName(t.type)), not a character type")
        }
        guard units.count == count else {
            throw fail(t.data.lowerBound, "\(label) holds \(units.count) characters; its dimensions say \(count)")
        }
        return units
    }
}
