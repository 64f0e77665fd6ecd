/// One MATLAB array of a MAT-file: a named variable, or an element of a cell array.
/// Values are kept in MATLAB's column-major order: element (i, j, k) of an array with
/// dimensions (d0, d1, d2) is at i + d0 * (j + d1 * k).
public struct MATArray: Sendable {
    /// mxCLASS: what the array holds (the MAT-file format's class codes 1...17).
    public enum Class: Int, Sendable, CaseIterable {
        case cell = 1, structure, object, char, sparse
        case double, single, int8, uint8, int16, uint16, int32, uint32, int64, uint64
        case function, opaque

        /// MATLAB's name for the class.
        public var name: String {
            switch self {
            case .cell: "cell"
            case .structure: "struct"
            case .object: "object"
            case .char: "char"
            case .sparse: "sparse"
            case .double: "double"
            case .single: "single"
            case .int8: "int8"
            case .uint8: "uint8"
            case .int16: "int16"
            case .uint16: "uint16"
            case .int32: "int32"
            case .uint32: "uint32"
            case .int64: "int64"
            case .uint64: "uint64"
            case .function: "function handle"
            case .opaque: "opaque object"
            }
        }

        public var isNumeric: Bool { rawValue >= Class.double.rawValue && rawValue <= Class.uint64.rawValue }
    }

    public enum Values: Sendable {
        /// Numeric and logical arrays, as doubles (int64/uint64 beyond 2^53 are rounded).
        case numeric(real: [Double], imaginary: [Double]?)
        /// Char arrays as UTF-16 code units (whatever encoding the file used).
        case characters([UInt16])
        case cells([MATArray])
        /// A class this reader does not decode (struct, object, sparse, function, opaque);
        /// the file around it is still read.
        case unsupported
    }

    /// The variable's name ("" for a cell's element).
    public var name: String
    public var arrayClass: Class
    public var dimensions: [Int]
    /// The logical flag (MATLAB's `logical`; scipy writes bool arrays as logical uint8).
    public var isLogical: Bool
    public var values: Values

    public init(name: String, arrayClass: Class, dimensions: [Int], isLogical: Bool = false, values: Values) {
        (self.name, self.arrayClass, self.dimensions, self.isLogical, self.values) = (name, arrayClass, dimensions, isLogical, values)
    }

    /// Elements: the product of the dimensions.
    public var count: Int { dimensions.reduce(1, *) }

    /// The real parts of a numeric or logical array, column-major; nil for other classes.
    public var real: [Double]? {
        if case .numeric(let real, _) = values { return real }
        return nil
    }

    public var isComplex: Bool {
        if case .numeric(_, let imaginary) = values { return imaginary != nil }
        return false
    }

    /// The elements of a cell array, column-major; nil for other classes.
    public var cells: [MATArray]? {
        if case .cells(let cells) = values { return cells }
        return nil
    }

    /// A char array as one string (all characters, column-major; a row or column vector reads
    /// as written); nil for other classes.
    public var string: String? {
        if case .characters(let units) = values { return String(decoding: units, as: UTF16.self) }
        return nil
    }

    /// The rows of a 2-D char array (MATLAB's char matrix of equal-length names), trailing
    /// blanks kept; nil for other classes or more than two dimensions.
    public var rows: [String]? {
        guard case .characters(let units) = values, dimensions.count == 2 else { return nil }
        let (r, c) = (dimensions[0], dimensions[1])
        return (0..<r).map { i in String(decoding: (0..<c).map { units[i + r * $0] }, as: UTF16.self) }
    }

    /// The dimensions padded with trailing 1s (MATLAB drops trailing singleton dimensions) to
    /// at least `rank`; nil when the array has more non-singleton dimensions than `rank`.
    public func dimensions(rank: Int) -> [Int]? {
        var d = dimensions
        while d.count > rank, d.last == 1 { d.removeLast() }
        guard d.count <= rank else { return nil }
        return d + Array(repeating: 1, count: rank - d.count)
    }

    /// What a message calls this array: "double 16x2x2958".
    public var summary: String {
        (isLogical ? "logical" : arrayClass.name) + (isComplex ? " complex" : "") + " "
            + dimensions.map(String.init).joined(separator: "x")
    }
}
