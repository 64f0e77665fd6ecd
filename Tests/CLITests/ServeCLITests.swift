import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Glibc
import TestSupport
import XCTest

/// `hrnet serve` as a process: it says where it listens, answers, and on SIGTERM finishes the
/// request in flight before it exits 0; the page works in headless Chromium.
final class ServeCLITests: XCTestCase {
    /// Starts `hrnet serve --port 0 ARGS`; returns the process, the port and its stdout pipe.
    func start(_ arguments: [String] = []) throws -> (Process, Int, Pipe) {
        let process = Process()
        process.executableURL = HRNetCLI.executable
        process.arguments = ["serve", "--port", "0", "--threads", "2"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !text.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
              let port = Int(text[range].split(separator: ":").last!) else {
            process.terminate()
            throw XCTSkip("hrnet serve did not report a port: \(text) \(String(decoding: err.fileHandleForReading.availableData, as: UTF8.self))")
        }
        XCTAssertTrue(text.contains("models: pose (pose), person (detect)"), text)
        return (process, port, out)
    }

    func connect(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        return fd
    }

    func testSIGTERMFinishesTheRequestInFlight() throws {
        let (process, port, out) = try start()
        let photo = try Data(contentsOf: Fixtures.url("detection/person_scene.jpg"))
        let fd = connect(port)
        defer { close(fd) }
        let head = "POST /v1/pose?box=102.88,39.37,44.58,94.38 HTTP/1.1\r\nHost: x\r\nContent-Length: \(photo.count)\r\nConnection: close\r\n\r\n"
        _ = head.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
        let half = photo.count / 2
        _ = photo.prefix(half).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // The request is in flight (admitted, half its body sent) when SIGTERM comes.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let m = try? String(contentsOf: URL(string: "http://127.0.0.1:\(port)/metrics")!, encoding: .utf8),
               m.contains("hrnet_requests_in_flight_requests 1") { break }
            usleep(50_000)
        }
        kill(process.processIdentifier, SIGTERM)
        usleep(300_000)
        _ = photo.suffix(from: half).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var tv = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var reply = [UInt8](), buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            reply += buffer[0..<n]
        }
        let text = String(decoding: reply, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), text)
        XCTAssertTrue(text.contains("\"keypoints\""), text)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("hrnet serve: stopped"))
        // No new connections after the shutdown.
        let late = connect(port)
        defer { close(late) }
        var probe = [UInt8](repeating: 0, count: 16)
        XCTAssertLessThanOrEqual(recv(late, &probe, 16, Int32(MSG_DONTWAIT)), 0)
    }

    /// The page in Debian's headless Chromium: loading `/?image=<the photo as a data: URL>` posts
    /// it to /v1/pose through the page's own code; the DOM then holds the answer and the canvas the
    /// drawn joints (the page counts its joint-coloured pixels into `data-drawn`).
    func testThePageInHeadlessChromium() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no chromium (make deps installs Debian's)")
        }
        let (server, port, _) = try start()
        defer { server.terminate(); server.waitUntilExit() }
        let photo = try Data(contentsOf: Fixtures.url("detection/person_scene.jpg"))
        let url = "http://127.0.0.1:\(port)/?image=" + "data:image/jpeg;base64,\(photo.base64EncodedString())"
            .addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let screenshot = profile.appendingPathComponent("page.png")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        func chrome(_ extra: [String]) throws -> CommandResult {
            try HRNetCLI.launchProgram(URL(fileURLWithPath: chromium),
                                       ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                                        "--user-data-dir=\(profile.path)", "--window-size=800,900"] + extra + [url],
                                       timeout: 120)
        }
        let dom = try chrome(["--dump-dom"])
        XCTAssertTrue(dom.stdout.contains("data-state=\"done\""), "page state: \(dom.stdout.prefix(400)) \(dom.stderr.suffix(400))")
        XCTAssertTrue(dom.stdout.contains("data-people=\"2\""), String(dom.stdout.prefix(600)))
        let drawn = dom.stdout.range(of: #"data-drawn="(\d+)""#, options: .regularExpression).map { String(dom.stdout[$0]) } ?? ""
        XCTAssertGreaterThan(Int(drawn.filter(\.isNumber)) ?? 0, 100, "joint pixels drawn on the canvas: \(drawn)")
        XCTAssertTrue(dom.stdout.contains("left_shoulder"), "the answer's JSON in the page")
        let shot = try chrome(["--screenshot=\(screenshot.path)"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: screenshot.path), shot.stderr)
    }
}
