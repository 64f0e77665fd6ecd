import XCTest
import DNN
import TestSupport

/// The loaders against files written by PyTorch itself (Tests/Fixtures/make_fixtures.py),
/// and against truncated, garbage and hostile files.
final class CheckpointTests: XCTestCase {
    func url(_ name: String) -> URL { Fixtures.url("checkpoint/\(name)") }

    func expected(_ key: String) throws -> Tensor {
        try NPY.read(url("expected_\(key.replacingOccurrences(of: ".", with: "_")).npy"))
    }

    /// Zip .pth, legacy .pth and safetensors give the same tensors (fp32 exact; fp16 exact after
    /// widening), including a transposed view and two views sharing one storage at offsets.
    func testAllFormatsAgree() throws {
        for file in ["state_zip.pth", "state_legacy.pth", "state.safetensors"] {
            let all = try Checkpoint.load(url(file))
            XCTAssertEqual(all["half"]?.dtype, .float16, file)
            XCTAssertEqual(all["bn.num_batches_tracked"]?.dtype, .int64, file)
            XCTAssertEqual(all["bn.num_batches_tracked"]?.floatTensor().scalars, [11], file)
            let floats = try Checkpoint.loadFloat(url(file))
            XCTAssertNil(floats["bn.num_batches_tracked"], "integer buffers are dropped")
            for key in ["conv.weight", "half", "transposed", "shared_a", "shared_b"] {
                XCTAssertEqual(floats[key], try expected(key), "\(file) \(key)")
            }
            XCTAssertEqual(floats["transposed"]?.shape, [3, 5])
        }
    }

    func testSafeTensorsRoundTripIsAtomic() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("w.safetensors")
        let tensors = ["a.weight": randomTensor([3, 2, 1, 1], seed: 1), "b": randomTensor([5], seed: 2), "scalar": Tensor(shape: [], scalars: [4])]
        try SafeTensors.write(tensors, metadata: ["format": "pt"], to: file)
        try SafeTensors.write(tensors, to: file)   // replaces the existing file
        let (back, _) = try SafeTensors.read(file)
        for (k, v) in tensors { XCTAssertEqual(back[k]?.floatTensor(), v, k) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["w.safetensors"], "no temporary file left behind")

        let npy = dir.appendingPathComponent("x.npy")
        for t in [randomTensor([2, 3, 4, 5], seed: 3), randomTensor([7], seed: 4), Tensor(shape: [], scalars: [2.5])] {
            try NPY.write(t, to: npy)
            XCTAssertEqual(try NPY.read(npy), t)
        }
    }

    /// Every bad file is a CheckpointError naming the file and the problem; nothing is run.
    func testBadFilesAreClearErrors() {
        let cases: [(String, [String])] = [
            ("hostile_legacy.pth", ["hostile_legacy.pth", "posix.system", "may not use"]),
            ("hostile_zip.pth", ["hostile_zip.pth", "posix.system"]),
            ("hostile_eval.pth", ["hostile_eval.pth", "builtins.eval"]),
            ("truncated_zip.pth", ["truncated_zip.pth", "zip"]),
            ("truncated_legacy.pth", ["truncated_legacy.pth", "truncated"]),
            ("truncated.safetensors", ["truncated.safetensors", "outside"]),
            ("garbage.pth", ["garbage.pth", "not a checkpoint"]),
            ("missing.pth", ["missing.pth", "no such file"]),
        ]
        for (file, needles) in cases {
            XCTAssertThrowsError(try Checkpoint.load(url(file)), file) { error in
                XCTAssertTrue(error is CheckpointError, "\(file): \(type(of: error))")
                let s = "\(error)"
                for n in needles { XCTAssertTrue(s.contains(n), "\(file): '\(s)' lacks '\(n)'") }
            }
        }
        for (file, needle) in [("float64.npy", "<f8"), ("int32.npy", "<i4"), ("fortran.npy", "Fortran"), ("garbage.pth", "magic")] {
            XCTAssertThrowsError(try NPY.read(url(file))) { error in
                XCTAssertTrue("\(error)".contains(needle) && "\(error)".contains(file), "\(error)")
            }
        }
        XCTAssertEqual(try NPY.read(url("rank2.npy")).shape, [2, 3])
    }

    /// Random corruption of a real checkpoint never crashes the reader.
    func testCorruptedBytesNeverCrash() throws {
        for file in ["state_zip.pth", "state_legacy.pth", "state.safetensors"] {
            let original = try Data(contentsOf: url(file))
            var rng = SplitMix64(seed: 9)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            for trial in 0..<150 {
                var bytes = [UInt8](original)
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                if trial % 5 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))) }
                let f = dir.appendingPathComponent("\(trial)-\(file)")
                try Data(bytes).write(to: f)
                _ = try? Checkpoint.load(f)   // an error or a result; never a crash or hang
            }
        }
    }
}
