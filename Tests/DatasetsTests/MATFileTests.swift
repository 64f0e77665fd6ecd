import XCTest
import Datasets
import TestSupport

/// The MAT-file reader against scipy.io.loadmat's view of files written by scipy.io.savemat
/// (compressed and not) and by hand the way MATLAB writes (big and little endian, narrow
/// integer storage of doubles, UTF-16 chars, small data elements), from
/// Tests/Fixtures/posedata/mpii/make_mat_fixtures.py. Values are compared exactly: both sides
/// decode the same bytes to doubles. Hostile files (every truncation, every flipped byte,
/// crafted sizes) must give a DatasetError naming the file, never a crash.
final class MATFileTests: XCTestCase {
    func url(_ name: String) -> URL { Fixtures.url("posedata/mpii/mat/\(name)") }

    // MARK: - Files from scipy

    func testScipyFilesReadAsLoadmat() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url("arrays.json"))) as! [String: Any]
        let order = json["order"] as! [String], expected = json["variables"] as! [String: Any]
        for file in ["arrays_v6.mat", "arrays_v7.mat"] {
            let mat = try MATFile.load(url(file))
            XCTAssertFalse(mat.bigEndian)
            XCTAssertTrue(mat.text.hasPrefix("MATLAB 5.0 MAT-file"), mat.text)
            XCTAssertEqual(mat.variables.map(\.name), order + (file == "arrays_v7.mat" ? ["zeros"] : []), file)
            for name in order {
                try check(mat.variable(name), against: expected[name] as! [String: Any], "\(file) \(name)")
            }
        }
        let zeros = try MATFile.load(url("arrays_v7.mat")).variable("zeros")
        XCTAssertEqual(zeros.dimensions, [300, 200])
        XCTAssertEqual(zeros.real?.count, 60000)
        XCTAssertTrue(zeros.real?.allSatisfy { $0 == 0 } ?? false)
    }

    func check(_ array: MATArray, against want: [String: Any], _ what: String) throws {
        let cls = want["cls"] as! String
        if cls == "struct" {
            XCTAssertEqual(array.arrayClass, .structure, what)
            guard case .unsupported = array.values else { return XCTFail("\(what): a struct should be skipped") }
            return
        }
        XCTAssertEqual(array.arrayClass.name, cls, what)
        if let dims = want["dims"] as? [Int] { XCTAssertEqual(array.dimensions, dims, what) }
        if let logical = want["logical"] as? Bool { XCTAssertEqual(array.isLogical, logical, what) }
        if let real = want["real"] as? [Double] { XCTAssertEqual(array.real, real, what) }
        if let imaginary = want["imaginary"] as? [Double] {
            guard case .numeric(_, let im) = array.values else { return XCTFail("\(what): not numeric") }
            XCTAssertEqual(im, imaginary, what)
        }
        if let string = want["string"] as? String { XCTAssertEqual(array.string, string, what) }
        if let rows = want["rows"] as? [String] { XCTAssertEqual(array.rows, rows, what) }
        if let cells = want["cells"] as? [[String: Any]] {
            let got = try XCTUnwrap(array.cells, what)
            XCTAssertEqual(got.count, cells.count, what)
            for (k, (a, b)) in zip(got, cells).enumerated() { try check(a, against: b, "\(what) cell \(k)") }
        }
    }

    // MARK: - Files written as MATLAB writes them

    func testMatlabStyleFilesBothEndians() throws {
        for (file, big) in [("matlab_style_le.mat", false), ("matlab_style_be.mat", true)] {
            let mat = try MATFile.load(url(file))
            XCTAssertEqual(mat.bigEndian, big, file)
            XCTAssertTrue(mat.text.contains("GLNXA64"), file)
            XCTAssertEqual(mat.variables.map(\.name), ["whole", "signed", "frac", "word", "joints", "cube"], file)
            // Doubles stored as uint8 / int16 / double: the class stays double.
            let whole = try mat.variable("whole")
            XCTAssertEqual(whole.arrayClass, .double)
            XCTAssertEqual(whole.dimensions, [2, 3])
            XCTAssertEqual(whole.real, [1, 0, 2, 7, 255, 9], "column-major")
            XCTAssertEqual(try mat.variable("signed").real, [-5, 300])
            XCTAssertEqual(try mat.variable("frac").real, [0.25, -1.5])
            XCTAssertEqual(try mat.variable("frac").dimensions, [2, 1])
            XCTAssertEqual(try mat.variable("word").string, "héllo")
            XCTAssertEqual(try mat.variable("joints").cells?.map { $0.string ?? "?" }, ["rank", "head", "x"])
            // numpy arange(12).reshape(3, 2, 2) * 0.5: element (i, j, k) is (4i + 2j + k) / 2.
            let cube = try mat.variable("cube")
            XCTAssertEqual(cube.dimensions, [3, 2, 2])
            var want = [Double](repeating: 0, count: 12)
            for i in 0..<3 { for j in 0..<2 { for k in 0..<2 { want[i + 3 * (j + 2 * k)] = Double(4 * i + 2 * j + k) * 0.5 } } }
            XCTAssertEqual(cube.real, want)
        }
    }

    // MARK: - gt_valid.mat and PCKh

    /// PCKh from the ground-truth files equals the official evaluate reimplemented in numpy.
    /// Tolerance 1e-9: the same comparisons, but the means sum in another order (rounding ~1e-13).
    func testGroundTruthPCKhMatchesOfficialEvaluate() throws {
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: url("pckh.json"))) as! [String: [String: Any]]
        XCTAssertEqual(cases.count, 4)
        for (file, c) in cases.sorted(by: { $0.key < $1.key }) {
            let gt = try MPIIGroundTruth.load(url(file))
            let predictions = (c["predictions"] as! [[[Double]]]).map { $0.map { Point(x: $0[0], y: $0[1]) } }
            let result = try gt.evaluate(predictions: predictions)
            let perJoint = c["per_joint"] as! [Double], table = c["table"] as! [[Any]]
            for (j, (a, b)) in zip(result.perJoint, perJoint).enumerated() { XCTAssertEqual(a, b, accuracy: 1e-9, "\(file) joint \(j)") }
            XCTAssertEqual(result.summary.map(\.name), table.map { $0[0] as! String })
            for (row, want) in zip(result.summary, table) { XCTAssertEqual(row.value, want[1] as! Double, accuracy: 1e-9, "\(file) \(row.name)") }
        }
    }

    /// The fixture people of mpii/train.json come back in their order: positions as written
    /// (1-based), visibility = joints_vis.
    func testGroundTruthLayout() throws {
        struct Person: Decodable { var joints: [[Double]]; var joints_vis: [Int] }
        let people = try JSONDecoder().decode([Person].self, from: Data(contentsOf: Fixtures.url("posedata/mpii/train.json")))
        for file in ["gt_valid.mat", "gt_valid_v6.mat", "gt_valid_matlab_be.mat"] {
            let gt = try MPIIGroundTruth.load(url(file))
            XCTAssertEqual(gt.count, people.count, file)
            for (p, person) in people.enumerated() {
                XCTAssertEqual(gt.positions[p].map { [$0.x, $0.y] }, person.joints, "\(file) person \(p)")
                XCTAssertEqual(gt.visible[p], person.joints_vis.map { $0 == 1 }, "\(file) person \(p)")
                XCTAssertEqual(gt.headBoxes[p].count, 4)
            }
        }
    }

    func testGroundTruthErrors() throws {
        let good = try MATFile.load(url("gt_valid.mat"))
        func assertError(_ mat: MATFile, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try MPIIGroundTruth(mat), file: file, line: line) { error in
                let text = "\(error)"
                for part in parts { XCTAssertTrue(text.contains(part), "\(text) lacks \(part)", file: file, line: line) }
            }
        }
        func replacing(_ name: String, with array: MATArray?) -> MATFile {
            var mat = good
            mat.variables.removeAll { $0.name == name }
            if let array { mat.variables.append(array) }
            return mat
        }
        assertError(try MATFile.load(url("arrays_v6.mat")), contains: ["arrays_v6.mat", "no variable 'dataset_joints'"])
        assertError(replacing("pos_gt_src", with: nil), contains: ["gt_valid.mat", "pos_gt_src", "dataset_joints, jnt_missing, headboxes_src"])
        let n = try MPIIGroundTruth(good).count
        assertError(replacing("pos_gt_src", with: MATArray(name: "pos_gt_src", arrayClass: .double, dimensions: [16, 3, n],
                                                           values: .numeric(real: Array(repeating: 0, count: 48 * n), imaginary: nil))),
                    contains: ["pos_gt_src must be 16x2x\(n)", "16x3x\(n)"])
        assertError(replacing("jnt_missing", with: MATArray(name: "jnt_missing", arrayClass: .double, dimensions: [16, n],
                                                            values: .numeric(real: Array(repeating: 2, count: 16 * n), imaginary: nil))),
                    contains: ["jnt_missing must hold 0 or 1"])
        assertError(replacing("headboxes_src", with: MATArray(name: "headboxes_src", arrayClass: .char, dimensions: [1, 1], values: .characters([65]))),
                    contains: ["headboxes_src must be a real numeric array", "char 1x1"])
        var names = MPIIGroundTruth.jointNames
        names.swapAt(0, 5)
        let shuffled = MATArray(name: "dataset_joints", arrayClass: .cell, dimensions: [1, 16],
                                values: .cells(names.map { MATArray(name: "", arrayClass: .char, dimensions: [1, $0.count], values: .characters(Array($0.utf16))) }))
        assertError(replacing("dataset_joints", with: shuffled), contains: ["dataset_joints is [lank rkne", "MPII's order"])
        // The number of predictions must match the file's people.
        XCTAssertThrowsError(try MPIIGroundTruth(good).evaluate(predictions: [])) { XCTAssertTrue("\($0)".contains("0 predicted people")) }
    }

    // MARK: - Hostile files

    /// Parsing must end in a value or a DatasetError naming the file: never a crash.
    func parse(_ bytes: [UInt8], limits: MATFile.Limits = MATFile.Limits()) -> Result<MATFile, DatasetError> {
        do { return .success(try MATFile(bytes: bytes, source: "hostile.mat", limits: limits)) } catch let error as DatasetError {
            XCTAssertTrue(error.description.hasPrefix("hostile.mat: "), error.description)
            return .failure(error)
        } catch {
            XCTFail("not a DatasetError: \(error)")
            return .failure(DatasetError.mat("", ""))
        }
    }

    func testEveryTruncationFailsCleanly() throws {
        for file in ["arrays_v6.mat", "arrays_v7.mat", "matlab_style_be.mat", "matlab_style_le.mat", "gt_valid.mat"] {
            let bytes = try [UInt8](Data(contentsOf: url(file)))
            let whole = try MATFile(bytes: bytes, source: file).variables.count
            for length in 0..<bytes.count {
                // A cut between two variables is a valid, shorter file; any other cut is an error.
                if case .success(let mat) = parse(Array(bytes[0..<length])) { XCTAssertLessThan(mat.variables.count, whole, "\(file) cut at \(length)") }
            }
        }
        if case .failure(let error) = parse(Array(try Data(contentsOf: url("gt_valid_v6.mat")).prefix(300))) {
            XCTAssertTrue(error.description.contains("remain"), error.description)
        } else {
            XCTFail("a file cut inside an element must fail")
        }
    }

    /// Each byte inverted in turn, and random bytes over random spans: values or errors, never a crash.
    func testCorruptedBytesNeverCrash() throws {
        for file in ["matlab_style_be.mat", "gt_valid.mat", "arrays_v6.mat"] {
            let bytes = try [UInt8](Data(contentsOf: url(file)))
            for i in 0..<bytes.count {
                var b = bytes
                b[i] ^= 0xFF
                _ = parse(b)
            }
            var rng = Bytes(state: 9)
            for _ in 0..<300 {
                var b = bytes
                let start = Int(rng.next() % UInt64(b.count)), span = Int(rng.next() % 16) + 1
                for i in start..<min(start + span, b.count) { b[i] = UInt8(truncatingIfNeeded: rng.next()) }
                _ = parse(b)
            }
        }
    }

    // A little-endian file made by hand.
    func header(version: UInt16 = 0x0100, endian: String = "IM", text: String = "MATLAB 5.0 MAT-file, hostile") -> [UInt8] {
        var h = Array(text.utf8) + Array(repeating: UInt8(ascii: " "), count: 116 - text.utf8.count)
        h += Array(repeating: 0, count: 8) + [UInt8(version & 0xFF), UInt8(version >> 8)] + Array(endian.utf8)
        return h
    }
    func u32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
    func element(_ type: UInt32, _ payload: [UInt8]) -> [UInt8] {
        u32(type) + u32(UInt32(payload.count)) + payload + Array(repeating: 0, count: (8 - payload.count % 8) % 8)
    }
    func matrix(class code: UInt32, dims: [Int32], name: String = "v", body: [UInt8] = []) -> [UInt8] {
        element(14, element(6, u32(code) + u32(0)) + element(5, dims.flatMap { u32(UInt32(bitPattern: $0)) }) + element(1, Array(name.utf8)) + body)
    }

    func assertFails(_ bytes: [UInt8], limits: MATFile.Limits = MATFile.Limits(), contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        switch parse(bytes, limits: limits) {
        case .success: XCTFail("parsed", file: file, line: line)
        case .failure(let error):
            for part in parts { XCTAssertTrue(error.description.contains(part), "\(error) lacks \(part)", file: file, line: line) }
        }
    }

    func testCraftedFilesGiveClearErrors() throws {
        // A valid hand-made file reads.
        let ok = header() + matrix(class: 6, dims: [1, 2], body: element(9, (0..<2).flatMap { _ in [UInt8](repeating: 0, count: 8) }))
        XCTAssertEqual(try MATFile(bytes: ok, source: "x").variable("v").real, [0, 0])

        assertFails(Array(header().prefix(100)), contains: ["too short"])
        assertFails(Array("MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5".utf8) + Array(repeating: 0, count: 200), contains: ["7.3", "HDF5"])
        assertFails([0, 0, 0, 0] + Array(repeating: 0, count: 200), contains: ["not a level 5 MAT-file"])
        assertFails(header(endian: "XX"), contains: ["endian"])
        assertFails(header(version: 0x0200), contains: ["version 0x200"])
        // Absurd dimensions are refused before anything is allocated: too many elements, an
        // overflowing product, negative sizes.
        assertFails(header() + matrix(class: 6, dims: [100_000, 100_000, 100_000]), contains: ["exceed the limit"])
        assertFails(header() + matrix(class: 6, dims: [Int32.max, Int32.max, Int32.max, Int32.max]), contains: ["exceed the limit"])
        assertFails(header() + matrix(class: 6, dims: [-1, 2]), contains: ["negative"])
        var small = MATFile.Limits()
        small.maxElements = 10
        assertFails(header() + matrix(class: 6, dims: [4, 4]), limits: small, contains: ["4x4", "limit of 10"])
        // Sizes that do not fit the data.
        assertFails(header() + matrix(class: 6, dims: [1000, 1000], body: element(9, [UInt8](repeating: 0, count: 16))),
                    contains: ["16 bytes of miDOUBLE", "1000000 elements need 8000000"])
        assertFails(header() + matrix(class: 1, dims: [1_000_000, 1]), contains: ["needs 1000000 elements"])
        assertFails(header() + u32(14) + u32(0x7FFF_FFF0) + [1, 2, 3], contains: ["declares 2147483632 bytes", "truncated"])
        assertFails(header() + matrix(class: 42, dims: [1, 1]), contains: ["unknown array class 42"])
        assertFails(header() + element(9, [UInt8](repeating: 0, count: 8)), contains: ["miDOUBLE", "expected miMATRIX"])
        assertFails(header() + matrix(class: 6, dims: [1, 1], body: element(14, [])), contains: ["not a numeric type"])
        assertFails(header() + matrix(class: 4, dims: [1, 3], body: element(4, [65, 0])), contains: ["1 characters", "say 3"])
        assertFails(header() + matrix(class: 4, dims: [1, 1], body: element(16, [0xFF])), contains: ["not valid UTF-8"])
        // A small data element claiming more than 4 bytes.
        assertFails(header() + element(14, element(6, u32(6) + u32(0)) + u32(5 | 7 << 16) + [0, 0, 0, 0]), contains: ["small data element declares 7"])
        // Cells nested past the depth limit.
        var nested = matrix(class: 6, dims: [0, 0], name: "", body: element(9, []))
        for _ in 0..<40 { nested = matrix(class: 1, dims: [1, 1], name: "", body: nested) }
        assertFails(header() + nested, contains: ["nest deeper than 32"])
        // The defaults bound a bomb's memory: 256 MB inflated, 16 M elements (128 MB of doubles).
        XCTAssertLessThanOrEqual(MATFile.Limits().maxInflatedBytes, 1 << 28)
        XCTAssertLessThanOrEqual(MATFile.Limits().maxElements, 1 << 24)
        // Compressed data: corrupt, truncated, and a zlib bomb.
        let stream = try [UInt8](Data(contentsOf: url("zeros_4mb.zlib")))
        assertFails(header() + u32(15) + u32(UInt32(stream.count)) + stream, limits: { var l = MATFile.Limits(); l.maxInflatedBytes = 1 << 20; return l }(),
                    contains: ["inflates past the limit of 1048576 bytes"])
        assertFails(header() + u32(15) + u32(8) + [0x78, 0x9C, 1, 2, 3, 4, 5, 6], contains: ["compressed data"])
        assertFails(header() + u32(15) + u32(UInt32(stream.count / 2)) + Array(stream.prefix(stream.count / 2)), contains: ["ends early"])
        // A compressed element holding something other than a matrix.
        let double = try [UInt8](Data(contentsOf: url("double_element.zlib")))
        assertFails(header() + u32(15) + u32(UInt32(double.count)) + double, contains: ["holds a miDOUBLE element; expected miMATRIX"])
    }

    /// Seeded bytes for the corruption test (an LCG; the numbers need only be fixed).
    struct Bytes {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
    }
}
