import Foundation
import Hummingbird
import Imaging

/// A request the server refuses or cannot answer: the HTTP status, the one line the client
/// reads in `{"error": ...}`, and for 503 how many seconds to wait (Retry-After).
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public let status: HTTPResponse.Status
    public let message: String
    public let retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ message: String, retryAfter: Int? = nil) {
        (self.status, self.message, self.retryAfter) = (status, message, retryAfter)
    }
    public var description: String { "\(status.code) \(message)" }

    static func badRequest(_ message: String) -> ServerError { ServerError(.badRequest, message) }
}

/// Every error leaves the server as JSON `{"error": "..."}` with its status: the server's own,
/// Hummingbird's (unknown route, bad method), a library error (a bad image: 400/413), else 500.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let (status, message, retryAfter) = Self.describe(error)
            var headers: HTTPFields = [.contentType: "application/json"]
            if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONBody.encode(["error": message]))))
        }
    }

    static func describe(_ error: any Error) -> (HTTPResponse.Status, String, Int?) {
        if let e = error as? ServerError { return (e.status, e.message, e.retryAfter) }
        if let e = error as? HTTPError {
            return (e.status, e.body ?? (e.status == .notFound ? "no such route" : e.status.reasonPhrase), nil)
        }
        if let e = error as? ImageError { return (e.kind == .tooLarge ? .contentTooLarge : .badRequest, e.description, nil) }
        return (.internalServerError, "\(error)", nil)
    }
}

/// JSON bodies: sorted keys, so responses are stable.
enum JSONBody {
    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{\"error\": \"the response could not be encoded\"}".utf8)
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: encode(value))))
    }
}
