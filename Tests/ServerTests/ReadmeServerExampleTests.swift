import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Server
import XCTest

/// README.md's serving example, as written there, answering /healthz and stopping on shutdown().
final class ReadmeServerExampleTests: XCTestCase {
    func testReadmeExample() async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        // The README's lines:
        var options = ServerOptions()                       // 127.0.0.1:8080, batches of 8 crops, limits
        options.port = 0                                    // any free port
        let server = try HRNetServer(entries: ModelEntry.defaults, options: options)   // or ModelEntry.load(models.yaml)
        let running = Task {
            try await server.run { port in print("listening on \(port)"); continuation.yield(port) }
        }

        var iterator = ports.makeAsyncIterator()
        let first = await iterator.next()
        let port = try XCTUnwrap(first)
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!)
        XCTAssertEqual((response as? HTTPURLResponse)?.statusCode, 200)
        XCTAssertEqual(String(decoding: data, as: UTF8.self), #"{"status":"ok"}"#)
        await server.shutdown()
        try await running.value
    }
}
