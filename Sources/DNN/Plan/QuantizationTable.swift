import Foundation

/// Activation ranges measured by running a model in fp32 over calibration images: what an
/// int8 plan needs to turn each convolution's input and output into 8-bit integers.
///
/// For every convolution (by checkpoint key, e.g. `stage2.0.branches.0.0.conv1`) the table
/// holds the largest |x| seen in the value the convolution reads and in the value it writes
/// (after its fused BN, sum and ReLU). The statistic is the plain maximum, not a percentile:
/// a heatmap's arg-max sits at the extreme of the last activations, calibration sets are
/// small (tens to hundreds of crops) so a high percentile is itself noisy, and the maximum
/// guarantees that nothing seen in calibration saturates. The cost is a coarser step where a
/// few outliers stretch the range (u8 step = max / 255).
///
/// Stored in a safetensors file's `__metadata__` under `hrnet.int8` as one JSON string
/// (`{"format": "hrnet-int8-calibration", "version": 1, "model": FINGERPRINT,
/// "statistic": "max_abs", "images": N, "ranges": {"conv key": [input, output], ...}}`), next to
/// the fp32 weights, so the file stays an ordinary fp32 checkpoint for every other reader.
public struct QuantizationTable: Equatable, Sendable {
    /// The largest |x| read and written by one convolution.
    public struct Range: Equatable, Sendable {
        public var input: Float
        public var output: Float
        public init(input: Float, output: Float) {
            self.input = input
            self.output = output
        }
    }

    /// `Graph.fingerprint` of the model the ranges were measured on.
    public var model: String
    /// How many images the ranges cover.
    public var images: Int
    /// By convolution key.
    public var ranges: [String: Range]

    public init(model: String, images: Int, ranges: [String: Range]) {
        self.model = model
        self.images = images
        self.ranges = ranges
    }

    /// The safetensors metadata key the table is stored under.
    public static let metadataKey = "hrnet.int8"
    static let format = "hrnet-int8-calibration"
    static let version = 1

    /// Throws unless the table was measured on `graph` and covers every convolution in it.
    public func check(against graph: Graph, source: String = "the calibration table") throws {
        guard model == graph.fingerprint else {
            throw DNNError.quantization("\(source) was calibrated on another model (fingerprint \(model), this model is \(graph.fingerprint)); "
                                    + "calibrate this model with `hrnet quantize`")
        }
        let keys = graph.nodes.compactMap { node -> String? in if case .conv(let c) = node.op { c.key } else { nil } }
        let missing = keys.filter { ranges[$0] == nil }
        guard missing.isEmpty else {
            throw DNNError.quantization("\(source) has no range for \(missing.count) convolutions (\(missing.prefix(3).joined(separator: ", ")))")
        }
    }

    // MARK: - File format

    /// The table as safetensors metadata (one entry).
    public var metadata: [String: String] {
        var ranges: [String: [Double]] = [:]
        for (k, r) in self.ranges { ranges[k] = [Double(r.input), Double(r.output)] }
        let object: [String: Any] = ["format": Self.format, "version": Self.version, "model": model,
                                     "statistic": "max_abs", "images": images, "ranges": ranges]
        // Only strings, integers and finite doubles: serialization cannot fail.
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return [Self.metadataKey: String(decoding: data, as: UTF8.self)]
    }

    /// The table in `metadata`, nil when there is none; throws when it is there but malformed.
    public init?(metadata: [String: String], source: String = "metadata") throws {
        guard let text = metadata[Self.metadataKey] else { return nil }
        func fail(_ why: String) -> DNNError { DNNError.quantization("\(source): calibration table \(Self.metadataKey) \(why)") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw fail("is not a JSON object")
        }
        guard object["format"] as? String == Self.format else { throw fail("has format \(object["format"] ?? "none"), expected \(Self.format)") }
        guard let version = object["version"] as? Int, version == Self.version else {
            throw fail("has version \(object["version"] ?? "none"); this build reads version \(Self.version)")
        }
        guard object["statistic"] as? String == "max_abs" else { throw fail("has statistic \(object["statistic"] ?? "none"), expected max_abs") }
        guard let model = object["model"] as? String, !model.isEmpty else { throw fail("names no model fingerprint") }
        guard let images = object["images"] as? Int, images >= 1 else { throw fail("has no image count of at least 1") }
        guard let entries = object["ranges"] as? [String: Any], !entries.isEmpty else { throw fail("has no ranges") }
        var ranges: [String: Range] = [:]
        for (key, value) in entries {
            guard let pair = value as? [Any], pair.count == 2,
                  let a = (pair[0] as? NSNumber)?.floatValue, let b = (pair[1] as? NSNumber)?.floatValue,
                  a.isFinite, b.isFinite, a >= 0, b >= 0 else {
                throw fail("range of \(key) is not a pair of finite non-negative numbers")
            }
            ranges[key] = Range(input: a, output: b)
        }
        self.init(model: model, images: images, ranges: ranges)
    }

    /// The table stored in the safetensors file at `url` (reads only its header); nil when the
    /// file carries none.
    public static func load(safetensors url: URL) throws -> QuantizationTable? {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw DNNError.checkpoint(url, "cannot be opened: \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        let prefix = try handle.read(upToCount: 8) ?? Data()
        guard prefix.count == 8 else { throw DNNError.checkpoint(url, "truncated: \(prefix.count) bytes, not even a header length") }
        let n = prefix.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }
        let size = (try? handle.seekToEnd()) ?? 0
        guard n <= size &- 8, n < 1 << 30 else { throw DNNError.checkpoint(url, "truncated: header says \(n) bytes, file has \(size) in all") }
        try handle.seek(toOffset: 8)
        let header = try handle.read(upToCount: Int(n)) ?? Data()
        guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw DNNError.checkpoint(url, "header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        for (k, v) in json["__metadata__"] as? [String: Any] ?? [:] { metadata[k] = v as? String ?? "\(v)" }
        return try QuantizationTable(metadata: metadata, source: url.lastPathComponent)
    }
}

extension Graph {
    /// A hash of the graph's parameter keys and shapes and its operations (FNV-1a, 64 bits, hex):
    /// two models with the same fingerprint have the same convolutions reading the same values.
    public var fingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ s: String) { for b in s.utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 } }
        for p in parameters { mix("\(p.key)\(p.shape);") }
        for node in nodes {
            mix("\(node.inputs.map(\.id))\(node.channels)")
            switch node.op {
            case .input: mix("input")
            case .conv(let c): mix("conv \(c.key) \(c.kernel) \(c.stride) \(c.padding) \(c.dilation) \(c.groups)" + (c.transposed ? " transposed \(c.outputPadding)" : ""))
            case .batchNorm(let b): mix("bn \(b.key)")
            case .relu: mix("relu")
            case .add: mix("add")
            case .resize(let r): mix("resize \(r.mode) \(r.target)")
            case .concat: mix("concat")
            case .pool(let p): mix("pool \(p.kind) \(p.kernel) \(p.stride) \(p.padding)")
            case .globalAveragePool: mix("gap")
            case .linear(let l): mix("linear \(l.key)")
            case .groupNorm(let n): mix("gn \(n.key) \(n.groups) \(n.eps)")
            case .scale(let c): mix("scale \(c.key)")
            case .exp: mix("exp")
            case .spatialGather: mix("spatial gather")
            case .objectAttention(let a): mix("object attention \(a.scale)")
            case .channelDropout(let d): mix("channel dropout \(d.probability)")
            }
        }
        return String(hash, radix: 16)
    }
}
