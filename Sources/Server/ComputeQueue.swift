import Dispatch
import Foundation

/// The one serial queue every network run and pre/post-processing of the server goes through.
/// oneDNN already spreads each run over the cores (the plans' threads); two runs at once would
/// only fight for them, and the library front-ends are not safe to call concurrently.
final class ComputeQueue: Sendable {
    let queue = DispatchQueue(label: "hrnet.serve.compute", qos: .userInitiated)

    /// Runs `body` on the queue; the awaiting task does not hold a cooperative thread meanwhile.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// Decoding and other work that may run beside the network (its own concurrent queue, so an
/// upload being decoded does not wait for a batch).
enum Background {
    static let queue = DispatchQueue(label: "hrnet.serve.decode", qos: .userInitiated, attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
