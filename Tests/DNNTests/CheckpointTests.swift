import XCTest
import DNN
import TestSupport

/// The loaders against files written by PyTorch, numpy and the safetensors package
/// (Tests/Fixtures/make_fixtures.py and Tests/Fixtures/checkpoint/make_checkpoint_fixtures.py),
/// and against truncated, garbage, hostile and absurd files.
///
/// Tolerance: none. Every comparison is exact: fp32 values are copied bit for bit, fp16 values
/// widen to fp32 exactly, and the expectations are the same tensors saved by numpy as fp32.
final class CheckpointTests: XCTestCase {
    func url(_ name: String) -> URL { Fixtures.url("checkpoint/\(name)") }

    func expected(_ key: String) throws -> Tensor {
        try NPY.read(url("expected_\(key.replacingOccurrences(of: ".", with: "_")).npy"))
    }

    /// The base state dict's float tensors, as `loadFloat` must return them from every format.
    func assertBaseStateDict(_ floats: [String: Tensor], _ file: String, line: UInt = #line) throws {
        XCTAssertEqual(Set(floats.keys), ["conv.weight", "half", "transposed", "shared_a", "shared_b"], file, line: line)
        for key in ["conv.weight", "half", "transposed", "shared_a", "shared_b"] {
            XCTAssertEqual(floats[key], try expected(key), "\(file) \(key)", line: line)
        }
        XCTAssertEqual(floats["transposed"]?.shape, [3, 5], file, line: line)
    }

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// `load` throws a DNNError whose description contains every needle (the file name
    /// is always one of them).
    func assertRefused(_ file: String, _ needles: [String], load: (URL) throws -> Any = { try Checkpoint.load($0) },
                       line: UInt = #line) {
        XCTAssertThrowsError(try load(url(file)), file, line: line) { error in
            XCTAssertTrue(error is DNNError, "\(file): \(type(of: error))", line: line)
            let s = "\(error)"
            for n in [file] + needles { XCTAssertTrue(s.contains(n), "\(file): '\(s)' lacks '\(n)'", line: line) }
        }
    }

    // MARK: - Formats agree

    /// Zip .pth, legacy .pth and safetensors (ours and the package's) give the same tensors,
    /// including a transposed view and two views sharing one storage at offsets.
    func testAllFormatsAgree() throws {
        for file in ["state_zip.pth", "state_legacy.pth", "state.safetensors", "state_package.safetensors"] {
            let all = try Checkpoint.load(url(file))
            XCTAssertEqual(all["conv.weight"]?.dtype, .float32, file)
            XCTAssertEqual(all["half"]?.dtype, .float16, file)
            XCTAssertEqual(all["bn.num_batches_tracked"]?.dtype, .int64, file)
            XCTAssertEqual(all["bn.num_batches_tracked"]?.shape, [], file)
            XCTAssertEqual(all["bn.num_batches_tracked"]?.floatTensor().scalars, [11], file)
            let floats = try Checkpoint.loadFloat(url(file))
            XCTAssertNil(floats["bn.num_batches_tracked"], "integer buffers are dropped")
            try assertBaseStateDict(floats, file)
        }
    }

    /// Official training checkpoints: {'epoch', 'model': 'pose_hrnet', 'state_dict' with
    /// DataParallel keys, 'perf': numpy.float64, 'optimizer' with its own tensors}; and a
    /// {'model': Parameters} wrapper (tensors rebuilt through `_rebuild_parameter`).
    func testWrappedCheckpointsAreUnwrapped() throws {
        for file in ["wrapped_zip.pth", "wrapped_legacy.pth", "model_parameters_zip.pth"] {
            let all = try Checkpoint.load(url(file))
            XCTAssertFalse(all.keys.contains { $0.hasPrefix("module.") }, "\(file): 'module.' is stripped")
            XCTAssertNil(all["momentum_buffer"], "\(file): optimizer state is not part of the weights")
            XCTAssertEqual(all["bn.num_batches_tracked"]?.floatTensor().scalars, [11], file)
            try assertBaseStateDict(try Checkpoint.loadFloat(url(file)), file)
        }
        // 'module.' is removed only when every key has it.
        XCTAssertEqual(Set(try Checkpoint.load(url("partial_module_zip.pth")).keys), ["module.a", "b"])
    }

    // MARK: - Writing

    func testSafeTensorsRoundTripIsAtomic() throws {
        let dir = try temporaryDirectory()
        let file = dir.appendingPathComponent("w.safetensors")
        let tensors = ["b.weight": randomTensor([3, 2, 1, 1], seed: 1), "a": randomTensor([5], seed: 2),
                       "scalar": Tensor(shape: [], scalars: [4]), "empty": Tensor(zeros: [0, 3])]
        try SafeTensors.write(tensors, metadata: ["format": "pt", "note": "quote \" and \\ and é"], to: file)
        let (back, metadata) = try SafeTensors.read(file)
        XCTAssertEqual(metadata, ["format": "pt", "note": "quote \" and \\ and é"])
        XCTAssertEqual(Set(back.keys), Set(tensors.keys))
        for (k, v) in tensors {
            XCTAssertEqual(back[k]?.dtype, .float32, k)
            XCTAssertEqual(back[k]?.floatTensor(), v, k)
        }
        XCTAssertEqual(try Checkpoint.loadFloat(file), tensors, "content detection finds safetensors")

        // Layout: 8-byte length, header padded to a multiple of 8, keys in sorted order.
        let raw = try Data(contentsOf: file)
        let n = Int(raw.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
        XCTAssertEqual(n % 8, 0)
        let header = String(decoding: raw[8..<(8 + n)], as: UTF8.self)
        let positions = ["a", "b.weight", "empty", "scalar"].map { header.range(of: "\"\($0)\":")!.lowerBound }
        XCTAssertEqual(positions, positions.sorted(), "keys are written sorted: \(header)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["w.safetensors"], "no temporary file left behind")
    }

    func testNPYRoundTrip() throws {
        let dir = try temporaryDirectory()
        let npy = dir.appendingPathComponent("x.npy")
        for t in [randomTensor([2, 3, 4, 5], seed: 3), randomTensor([7], seed: 4), Tensor(shape: [], scalars: [2.5]), Tensor(zeros: [2, 0])] {
            try NPY.write(t, to: npy)
            XCTAssertEqual(try NPY.read(npy), t)
            // numpy requires the data to start on a 64-byte boundary (format 1.0).
            let raw = try Data(contentsOf: npy)
            XCTAssertEqual(raw[6], 1)
            XCTAssertEqual((10 + Int(raw[8]) + Int(raw[9]) << 8) % 64, 0)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["x.npy"], "no temporary file left behind")
    }

    /// Files written by numpy itself: rank 0 and 1, format 2.0, and a hand-written header with
    /// double quotes, odd spacing and another key order.
    func testNPYFromNumpy() throws {
        XCTAssertEqual(try NPY.read(url("rank0.npy")), Tensor(shape: [], scalars: [2.5]))
        XCTAssertEqual(try NPY.read(url("rank1.npy")), Tensor(shape: [7], scalars: [-3, -2, -1, 0, 1, 2, 3]))
        XCTAssertEqual(try NPY.read(url("rank2.npy")), Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5]))
        XCTAssertEqual(try NPY.read(url("npy_v2.npy")), Tensor(shape: [3, 2], scalars: [0, 1, 2, 3, 4, 5]))
        XCTAssertEqual(try NPY.read(url("npy_handwritten.npy")), Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5]))
    }

    /// Writing over an existing file replaces it in one step (rename): a reader that opened the
    /// old file keeps reading the complete old bytes, the new name holds the complete new file.
    func testOverwriteReplacesTheFileAtomically() throws {
        let dir = try temporaryDirectory()
        for (name, write, read) in [
            ("w.safetensors", { (t: Tensor, u: URL) in try SafeTensors.write(["x": t], to: u) },
             { (u: URL) in try SafeTensors.read(u).tensors["x"]!.floatTensor() }),
            ("w.npy", { (t: Tensor, u: URL) in try NPY.write(t, to: u) }, { (u: URL) in try NPY.read(u) }),
        ] as [(String, (Tensor, URL) throws -> Void, (URL) throws -> Tensor)] {
            let file = dir.appendingPathComponent(name)
            let old = randomTensor([64, 3], seed: 5), new = randomTensor([2, 2], seed: 6)
            try write(old, file)
            let oldBytes = try Data(contentsOf: file)
            let oldInode = try FileManager.default.attributesOfItem(atPath: file.path)[.systemFileNumber] as? UInt64
            let reader = try FileHandle(forReadingFrom: file)
            defer { try? reader.close() }
            try write(new, file)
            XCTAssertEqual(try read(file), new, name)
            XCTAssertEqual(try reader.readToEnd(), oldBytes, "\(name): the old file was replaced, not rewritten in place")
            let newInode = try FileManager.default.attributesOfItem(atPath: file.path)[.systemFileNumber] as? UInt64
            XCTAssertNotEqual(oldInode, newInode, name)
        }
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), ["w.safetensors", "w.npy"],
                       "no temporary file left behind")
        // A write that cannot happen is a FileWriteError naming the file (exit status 74 in the CLI), and leaves nothing.
        let nowhere = dir.appendingPathComponent("missing-dir/y.safetensors")
        XCTAssertThrowsError(try SafeTensors.write(["x": new1()], to: nowhere)) { error in
            XCTAssertTrue("\(error)".contains("y.safetensors: cannot be written"), "\(error)")
        }
        XCTAssertThrowsError(try NPY.write(new1(), to: dir.appendingPathComponent("missing-dir/y.npy"))) { error in
            XCTAssertTrue("\(error)".contains("y.npy: cannot be written"), "\(error)")
        }
    }

    private func new1() -> Tensor { Tensor(shape: [1], scalars: [1]) }

    // MARK: - Bad files

    /// Every bad file is a DNNError naming the file and the problem; nothing is run.
    func testBadFilesAreClearErrors() {
        let cases: [(String, [String])] = [
            // hostile: any global outside the allow list is refused by name
            ("hostile_legacy.pth", ["posix.system", "may not use"]),
            ("hostile_zip.pth", ["posix.system"]),
            ("hostile_eval.pth", ["builtins.eval"]),
            ("hostile_os_system.pkl", ["'os.system'", "may not use"]),
            ("hostile_eval_zip.pth", ["'builtins.eval'"]),
            ("hostile_nested_zip.pth", ["'posix.system'"]),
            // truncated and garbage
            ("truncated_zip.pth", ["zip"]),
            ("truncated_legacy.pth", ["truncated"]),
            ("truncated.safetensors", ["outside"]),
            ("garbage.pth", ["not a checkpoint"]),
            ("missing.pth", ["no such file"]),
            // archives and pickles torch does not write
            ("deflated_zip.pth", ["compressed"]),
            ("missing_storage.pth", ["storage 0 is missing"]),
            ("unknown_opcode.pth", ["opcode 0xff"]),
            ("deep_tuples.pth", ["deeper than 512"]),
            ("unicode8_huge.pth", ["truncated"]),
            ("long4_huge.pth", ["truncated"]),
            // sizes, strides and counts that do not fit the file
            ("legacy_huge_count.pth", ["storage 0 claims 2305843009213693952 elements"]),
            ("negative_stride.pth", ["tensor w", "negative"]),
            ("size_overflow.pth", ["tensor w", "overflows"]),
            ("outside_storage.pth", ["tensor w", "outside its storage of 4 elements"]),
            // safetensors headers
            ("st_bad_json.safetensors", ["JSON"]),
            ("st_wrong_size.safetensors", ["'b'", "has 4 bytes", "needs 8"]),
            ("st_bad_dtype.safetensors", ["F8_E4M3"]),
            ("st_huge_header.safetensors", ["truncated", "header says 1000 bytes"]),
        ]
        for (file, needles) in cases { assertRefused(file, needles) }
        for (file, needle) in [("float64.npy", "'<f8'"), ("int32.npy", "'<i4'"), ("big_endian.npy", "'>f4'"),
                               ("fortran.npy", "Fortran"), ("npy_truncated.npy", "truncated"), ("garbage.pth", "magic")] {
            assertRefused(file, [needle], load: { try NPY.read($0) })
        }
        assertRefused("float64.npy", ["not supported", "float32"], load: { try NPY.read($0) })
    }

    /// Sizes that overflow or repeat storage elements, one storage named by many keys, a byte
    /// order and storage views the loader does not read: each a clear error, never a trap, a
    /// huge allocation or silently wrong numbers.
    func testAbsurdSizesAreRefusedWithoutAllocating() {
        let cases: [(String, [String])] = [
            ("numel_overflow.pth", ["storage 0 holds 16 bytes", "4611686018427387904 elements"]),
            ("span_overflow.pth", ["tensor w", "overflows"]),
            ("stride0_huge.pth", ["tensor w", "repeats elements of its 4-element storage"]),
            ("stride0_overflow.pth", ["tensor w", "repeats elements"]),
            ("many_keys_one_storage.pth", ["4x the file size"]),
            ("big_endian_zip.pth", ["byte order 'big'"]),
            ("legacy_storage_view.pth", ["storage view", "torch < 0.4"]),
            ("st_bool_shape.safetensors", ["'b'", "malformed shape"]),
            ("st_fraction_shape.safetensors", ["'b'", "malformed shape"]),
        ]
        for (file, needles) in cases { assertRefused(file, needles) }
    }

    /// A memo-shared tuple doubled 64 times (2^64 leaves in 325 bytes), and chains of 200 000
    /// lists or dicts nested through the memo: read in linear time, released without recursion
    /// (a naive release recurses once per link and overflows the stack).
    func testPathologicalPicklesFinishQuickly() throws {
        let start = Date()
        assertRefused("tuple_dag.pth", ["bad magic number"])   // a legacy file must start with the magic number
        let dir = try temporaryDirectory()
        let links = 200_000
        let chains: [(String, [UInt8], [UInt8])] = [
            // `]` L0 kept on the stack; each link: get prev, new list, memoize it, append it to prev, pop prev
            ("lists.pth", [0x80, 0x02, 0x5D, 0x71, 0x00], [0x68, 0x00, 0x5D, 0x71, 0x00, 0x61, 0x30]),
            // `}` D0 kept on the stack; each link: get prev, key 0, new dict, memoize, prev[0] = new, pop prev
            ("dicts.pth", [0x80, 0x02, 0x7D, 0x71, 0x00], [0x68, 0x00, 0x4B, 0x00, 0x7D, 0x71, 0x00, 0x73, 0x30]),
        ]
        for (name, head, link) in chains {
            var bytes = head
            bytes.reserveCapacity(head.count + link.count * links + 3)
            for _ in 0..<links { bytes += link }
            bytes += [0x68, 0x00, 0x2E]   // the deepest box, STOP
            let file = dir.appendingPathComponent(name)
            try Data(bytes).write(to: file)
            XCTAssertThrowsError(try Checkpoint.load(file)) { error in
                XCTAssertTrue("\(error)".contains("\(name): not a PyTorch legacy checkpoint"), "\(error)")
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "linear time (debug builds included)")
    }

    /// Random corruption of a real checkpoint never crashes the reader.
    func testCorruptedBytesNeverCrash() throws {
        let dir = try temporaryDirectory()
        for file in ["state_zip.pth", "state_legacy.pth", "state.safetensors", "wrapped_zip.pth", "wrapped_legacy.pth"] {
            let original = try Data(contentsOf: url(file))
            var rng = SplitMix64(seed: 9)
            for trial in 0..<150 {
                var bytes = [UInt8](original)
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                if trial % 5 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))) }
                let f = dir.appendingPathComponent("\(trial)-\(file)")
                try Data(bytes).write(to: f)
                do { _ = try Checkpoint.load(f) } catch { XCTAssertTrue(error is DNNError, "\(type(of: error))") }
            }
        }
    }
}
