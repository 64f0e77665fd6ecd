import XCTest
@testable import FileSupport

/// The one output writer: only regular files are replaced (a link is written through, devices,
/// FIFOs and directories are refused by name), and a killed write's temporary is cleaned by the
/// next write to the same name.
final class AtomicWriteTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-write-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testReplacesRegularFilesAndWritesThroughLinks() throws {
        let file = dir.appendingPathComponent("out.json")
        try writeAtomically(Data("one".utf8), to: file)
        try writeAtomically(Data("two".utf8), to: file)
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "two")
        let link = dir.appendingPathComponent("link.json")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: file)
        try writeAtomically(Data("three".utf8), to: link)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), file.path, "the link stays a link")
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "three")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["link.json", "out.json"], "no temporaries left")
    }

    func testRefusesWhatIsNotARegularFile() throws {
        let fifo = dir.appendingPathComponent("pipe")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        let sub = dir.appendingPathComponent("folder")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        var cases: [(URL, String)] = [(fifo, "FIFO"), (sub, "directory")]
        if FileManager.default.fileExists(atPath: "/dev/null") { cases.append((URL(fileURLWithPath: "/dev/null"), "device")) }
        for (url, what) in cases {
            XCTAssertThrowsError(try writeAtomically(Data("x".utf8), to: url)) { error in
                XCTAssertTrue("\(error)".contains(what) && "\(error)".contains(url.path), "\(error)")
            }
        }
        var info = stat()
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/null is still a device")
    }

    func testStaleTemporariesOfAKilledWriteAreRemoved() throws {
        let file = dir.appendingPathComponent("weights.safetensors")
        // A process id that is not running (pid_max is at most 2^22) and this process's own.
        let stale = dir.appendingPathComponent(temporaryName("weights.safetensors", pid: 4_194_304 + 17))
        let other = dir.appendingPathComponent(temporaryName("other.json", pid: 4_194_304 + 17))
        try Data(count: 1000).write(to: stale)
        try Data(count: 10).write(to: other)
        try writeAtomically(Data("w".utf8), to: file)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: other.path), "another file's temporaries are its own writes' business")
    }
}
