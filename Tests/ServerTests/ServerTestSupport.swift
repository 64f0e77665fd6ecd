import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Glibc
@testable import Server
import XCTest

/// A server on an ephemeral port for one test, and plain HTTP calls to it.
final class RunningServer: @unchecked Sendable {
    let server: HRNetServer
    let port: Int
    private let task: Task<Void, any Error>

    init(entries: [ModelEntry] = ModelEntry.defaults, configure: (inout ServerOptions) -> Void = { _ in }) async throws {
        var options = ServerOptions()
        options.port = 0
        options.threads = 2
        configure(&options)
        let server = try HRNetServer(entries: entries, options: options)
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        task = Task { try await server.run { port in continuation.yield(port) } }
        var iterator = stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ServerError(.internalServerError, "the server did not start") }
        (self.server, self.port) = (server, port)
    }

    func stop() async {
        await server.shutdown()
        _ = try? await task.value
    }

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var error: String { (json as? [String: Any])?["error"] as? String ?? "" }
    }

    func call(_ path: String, method: String = "GET", body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 60
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields[String(describing: k).lowercased()] = String(describing: v) }
        return Reply(status: http.statusCode, headers: fields, body: data)
    }

    /// Raw bytes over TCP (what URLSession cannot send: a lying Content-Length, a slow body).
    /// Sends `head`, then `trickle` one byte a second; returns what the server wrote until it
    /// closed or `timeout` seconds passed, and the seconds taken.
    func raw(_ head: String, trickle: Int = 0, timeout: Double = 20) throws -> (reply: String, seconds: Double) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError(.internalServerError, "socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ServerError(.internalServerError, "connect") }
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let start = Date()
        _ = head.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
        var received = [UInt8]()
        var sent = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date().timeIntervalSince(start) < timeout {
            if sent < trickle {
                if send(fd, "x", 1, Int32(MSG_NOSIGNAL)) < 0 { break }
                sent += 1
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { received += buffer[0..<n]; continue }
            if n == 0 { break }  // closed
        }
        return (String(decoding: received, as: UTF8.self), Date().timeIntervalSince(start))
    }
}
