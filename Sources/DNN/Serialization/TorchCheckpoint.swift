import Foundation

/// PyTorch `torch.save` files: the zip format (torch >= 1.6) and the legacy format of the 2019
/// official releases, read with the restricted `Unpickler` (nothing in the file is ever run).
enum TorchCheckpoint {
    /// Zip: `<archive>/data.pkl` is the object pickle; `<archive>/data/<key>` the storages.
    static func readZip(_ data: Data, _ url: URL) throws -> (tensors: [String: StoredTensor], metadata: CheckpointMetadata) {
        try data.withUnsafeBytes { raw in
            let zip = try ZipArchive(raw, url)
            guard let pkl = zip.entries.keys.filter({ $0.hasSuffix("data.pkl") }).min(by: { $0.count < $1.count }) else {
                throw DNNError.checkpoint(url, "zip archive without data.pkl: not a PyTorch checkpoint")
            }
            let prefix = String(pkl.dropLast("data.pkl".count))
            if let order = zip.entries["\(prefix)byteorder"] {
                let text = String(decoding: raw[order.range.prefix(16)], as: UTF8.self)
                guard text.hasPrefix("little") else {
                    throw DNNError.checkpoint(url, "byte order '\(text)' is not supported (only little-endian checkpoints)")
                }
            }
            let entry = zip.entries[pkl]!
            var up = Unpickler(UnsafeRawBufferPointer(rebasing: raw[entry.range]), url: url) { pid in
                let (dtype, key, count) = try storageReference(pid, url)
                return .storage(dtype: dtype, key: key, count: count)
            }
            defer { up.releaseValues() }
            let root = try up.load()
            return (try collect(root, url, budget: raw.count) { ref in
                guard let e = zip.entries["\(prefix)data/\(ref.storageKey)"] else {
                    throw DNNError.checkpoint(url, "storage \(ref.storageKey) is missing from the archive (truncated?)")
                }
                let (needed, overflow) = ref.storageCount.multipliedReportingOverflow(by: ref.dtype.size)
                guard !overflow, e.range.count >= needed else {
                    throw DNNError.checkpoint(url, "storage \(ref.storageKey) holds \(e.range.count) bytes, less than its \(ref.storageCount) elements")
                }
                return UnsafeRawBufferPointer(rebasing: raw[e.range])
            }, metadata(root))
        }
    }

    /// Legacy: five pickles (magic, protocol 1001, sys info, the object, storage keys), then each
    /// storage in key order as an 8-byte element count and its raw bytes.
    static func readLegacy(_ data: Data, _ url: URL) throws -> (tensors: [String: StoredTensor], metadata: CheckpointMetadata) {
        try data.withUnsafeBytes { raw in
            var storages: [String: (dtype: DType, count: Int)] = [:]
            var up = Unpickler(raw, url: url) { pid in
                let (dtype, key, count) = try storageReference(pid, url)
                storages[key] = (dtype, count)
                return .storage(dtype: dtype, key: key, count: count)
            }
            defer { up.releaseValues() }
            let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
            guard case .wideInt(let m) = try up.load(), m == magic else {
                throw DNNError.checkpoint(url, "not a PyTorch legacy checkpoint (bad magic number)")
            }
            guard case .int(let protocolVersion) = try up.load(), protocolVersion == 1001 else {
                throw DNNError.checkpoint(url, "unsupported legacy protocol version")
            }
            // sys info: {'protocol_version', 'little_endian', 'type_sizes'}
            if case .dict(let info) = try up.load(),
               let little = info.items.first(where: { $0.key.asString == "little_endian" })?.value,
               case .bool(false) = little {
                throw DNNError.checkpoint(url, "big-endian checkpoint is not supported (only little-endian)")
            }
            let root = try up.load()
            guard let keys = try up.load().asTuple?.compactMap(\.asString) else {
                throw DNNError.checkpoint(url, "legacy storage key list is missing")
            }
            var offsets: [String: Range<Int>] = [:]
            var p = up.position
            for key in keys {
                guard p + 8 <= raw.count else { throw DNNError.checkpoint(url, "truncated: storage \(key) is missing") }
                let count = Int(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: p, as: UInt64.self).littleEndian)
                guard let info = storages[key] else { throw DNNError.checkpoint(url, "storage \(key) is listed but never used") }
                let (bytes, overflow) = count.multipliedReportingOverflow(by: info.dtype.size)
                guard count >= 0, !overflow, bytes <= raw.count - p - 8 else {
                    throw DNNError.checkpoint(url, "truncated: storage \(key) claims \(count) elements, past the end of the file")
                }
                offsets[key] = (p + 8)..<(p + 8 + bytes)
                p += 8 + bytes
            }
            return (try collect(root, url, budget: raw.count) { ref in
                guard let r = offsets[ref.storageKey] else { throw DNNError.checkpoint(url, "storage \(ref.storageKey) has no data") }
                return UnsafeRawBufferPointer(rebasing: raw[r])
            }, metadata(root))
        }
    }

    /// What mmdetection and mmengine keep beside the state dict under `meta`: its strings (the
    /// merged config as text in `config` (mmdet 2.x) or `cfg` (mmengine), versions) and the
    /// class names (`CLASSES`, or `dataset_meta.classes`).
    static func metadata(_ root: PickleValue) -> CheckpointMetadata {
        var out = CheckpointMetadata()
        guard case .dict(let dict) = root, let meta = dict.items.first(where: { $0.key.asString == "meta" })?.value,
              case .dict(let m) = meta else { return out }
        func names(_ v: PickleValue) -> [String]? {
            guard let items = v.asTuple else { return nil }
            let strings = items.compactMap(\.asString)
            return strings.count == items.count && !strings.isEmpty ? strings : nil
        }
        for (k, v) in m.items {
            guard let key = k.asString else { continue }
            if let s = v.asString { out.strings[key] = s }
            if key == "CLASSES", let c = names(v) { out.classes = c }
            if key == "dataset_meta", case .dict(let d) = v,
               let c = d.items.first(where: { $0.key.asString == "classes" }).flatMap({ names($0.value) }) {
                out.classes = c
            }
        }
        return out
    }

    /// ('storage', storage_type, key, location, numel[, view_metadata]).
    static func storageReference(_ pid: [PickleValue], _ url: URL) throws -> (DType, String, Int) {
        guard pid.count >= 5, pid[0].asString == "storage", case .global(let type) = pid[1],
              let key = pid[2].asString, let count = pid[4].asInt, count >= 0 else {
            throw DNNError.checkpoint(url, "malformed storage reference in the pickle")
        }
        guard let dtype = Unpickler.storageTypes[type] else { throw DNNError.checkpoint(url, "storage type \(type) is not supported") }
        if pid.count >= 6, pid[5].asTuple != nil {
            // torch < 0.4 could save a storage as a view of another; torch 1.x always writes None.
            throw DNNError.checkpoint(url, "storage \(key) is a storage view (a file from torch < 0.4), which is not supported")
        }
        return (dtype, key, count)
    }

    /// The state dict inside `root` (unwrapping `state_dict` / `model`, dropping `module.`),
    /// with each tensor copied out of its storage.
    /// `budget` is the file's size: tensors may together take at most `4 * budget + 1 MiB` bytes
    /// (views may share a storage, but a small hostile file cannot make us allocate gigabytes
    /// by naming one storage from thousands of keys).
    static func collect(_ root: PickleValue, _ url: URL, budget: Int,
                        storage: (PickleValue.TensorRef) throws -> UnsafeRawBufferPointer) throws -> [String: StoredTensor] {
        guard case .dict(var dict) = root else { throw DNNError.checkpoint(url, "the checkpoint is not a dict of tensors") }
        for wrapper in ["state_dict", "model"] {
            if let inner = dict.items.first(where: { $0.key.asString == wrapper })?.value, case .dict(let d) = inner,
               d.items.contains(where: { if case .tensor = $0.value { true } else { false } }) {
                dict = d
                break
            }
        }
        var refs: [(String, PickleValue.TensorRef)] = []
        for (k, v) in dict.items {
            guard let key = k.asString, case .tensor(let ref) = v else { continue }
            refs.append((key, ref))
        }
        if refs.isEmpty { throw DNNError.checkpoint(url, "the checkpoint holds no tensors") }
        let strip = refs.allSatisfy { $0.0.hasPrefix("module.") }
        var out: [String: StoredTensor] = [:]
        var remaining = 4 * budget + (1 << 20)
        for (key, ref) in refs {
            let t = try materialize(ref, storage(ref), url, key)
            remaining -= t.bytes.count
            guard remaining >= 0 else {
                throw DNNError.checkpoint(url, "tensors add up to more than 4x the file size (one storage named by too many keys?)")
            }
            out[strip ? String(key.dropFirst(7)) : key] = t
        }
        return out
    }

    /// Copies a (possibly strided) view out of its storage into contiguous C order.
    static func materialize(_ r: PickleValue.TensorRef, _ s: UnsafeRawBufferPointer, _ url: URL, _ key: String) throws -> StoredTensor {
        func fail(_ why: String) -> DNNError { DNNError.checkpoint(url, "tensor \(key): \(why)") }
        guard r.shape.allSatisfy({ $0 >= 0 }), r.strides.allSatisfy({ $0 >= 0 }), r.offset >= 0 else { throw fail("negative size, stride or offset") }
        let elements = s.count / r.dtype.size
        var count = 1, last = r.offset
        for (d, st) in zip(r.shape, r.strides) {
            let (c, o1) = count.multipliedReportingOverflow(by: d)
            guard !o1 else { throw fail("size \(r.shape) overflows") }
            count = c
            if d > 0 {
                let (span, o2) = (d - 1).multipliedReportingOverflow(by: st)
                let (l, o3) = last.addingReportingOverflow(span)
                guard !o2, !o3 else { throw fail("view of \(r.shape) with strides \(r.strides) at offset \(r.offset) overflows") }
                last = l
            }
        }
        guard count == 0 || last < elements else { throw fail("view of \(r.shape) at offset \(r.offset) lies outside its storage of \(elements) elements") }
        // A view can hold more elements than its storage only by repeating them (stride 0, as
        // `expand` makes); materializing that could take far more memory than the file holds.
        guard count <= elements else {
            throw fail("view of \(r.shape) with strides \(r.strides) repeats elements of its \(elements)-element storage (save it with .contiguous())")
        }
        let size = r.dtype.size
        var out = Data(count: count * size)
        out.withUnsafeMutableBytes { dst in
            guard count > 0 else { return }
            let contiguous = r.strides == Self.contiguousStrides(r.shape)
            if contiguous {
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: s[(r.offset * size)..<((r.offset + count) * size)]))
                return
            }
            var index = [Int](repeating: 0, count: r.shape.count)
            for i in 0..<count {
                var e = r.offset
                for (k, x) in index.enumerated() { e += x * r.strides[k] }
                (dst.baseAddress! + i * size).copyMemory(from: s.baseAddress! + e * size, byteCount: size)
                var k = index.count - 1
                while k >= 0 { index[k] += 1; if index[k] < r.shape[k] { break }; index[k] = 0; k -= 1 }
            }
        }
        return StoredTensor(dtype: r.dtype, shape: r.shape, bytes: out)
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for k in stride(from: shape.count - 2, through: 0, by: -1) { s[k] = s[k + 1] * shape[k + 1] }
        return s
    }
}
