/// The byte collectives for lists of doubles (scores, metrics, keypoints): what the evaluations
/// exchange, without each caller packing and unpacking bytes itself.
extension Communicator {
    /// Replaces `values` on every process with root's (lengths may differ before the call).
    public func broadcast(_ values: inout [Double], root: Int) throws {
        var bytes = Self.bytes(values)
        try broadcast(&bytes, root: root)
        values = Self.doubles(bytes)
    }

    /// Every process's values (lengths may differ), in rank order, on every process.
    public func allGather(_ values: [Double]) throws -> [[Double]] {
        try allGather(Self.bytes(values)).map(Self.doubles)
    }

    /// Every process's values in rank order on `root`; nil elsewhere.
    public func gather(_ values: [Double], root: Int) throws -> [[Double]]? {
        try gather(Self.bytes(values), root: root)?.map(Self.doubles)
    }

    static func bytes(_ values: [Double]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    /// Whole doubles of `bytes` (little-endian, as every process of a job writes them).
    static func doubles(_ bytes: [UInt8]) -> [Double] {
        bytes.withUnsafeBytes { raw in (0..<bytes.count / 8).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) } }
    }
}
