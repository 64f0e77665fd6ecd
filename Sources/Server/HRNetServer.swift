import Foundation
import Hummingbird
import Imaging
import Logging
import NIOCore
import ServiceLifecycle

/// How the server batches and what it refuses.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0: any free port (the one chosen is reported to `onRunning`).
    public var port = 8080
    /// Crops per network run of the pose batcher, and how long the first crop waits for others
    /// when the network is idle. 0 (default): it runs at once, and the crops arriving while it
    /// runs form the next batch, so batches grow with the load and cost nothing when there is none.
    public var maxBatch = 8
    public var maxWaitMilliseconds = 0.0
    /// Largest request body, refused (413) before it is read when its Content-Length says more.
    public var maxBodyBytes = 20 << 20
    /// Largest image, checked from its header before decoding (413).
    public var maxPixels = 40_000_000
    /// Inference requests admitted at once (waiting or running); more get 503 with Retry-After.
    public var queueLimit = 64
    /// Seconds from arrival to answer before 504.
    public var requestTimeout = 30.0
    /// Seconds a client may take to send its whole body before 408 (a slow client cannot hold a worker).
    public var bodyTimeout = 10.0
    /// Seconds a connection may stay idle.
    public var idleTimeout = 30.0
    /// Threads of each model's plans (nil: all cores).
    public var threads: Int?
    /// Pose plans use direct convolutions, so a request's numbers do not depend on its batch-mates.
    public var exactBatching = true

    public init() {}
}

/// `hrnet serve`: the models behind HTTP (see `Routes` for the API).
///
/// ```swift
/// let server = try HRNetServer(entries: ModelEntry.defaults, options: ServerOptions())
/// try await server.run { port in print("listening on \(port)") }
/// ```
public final class HRNetServer: Sendable {
    public let models: [ServedModel]
    public let options: ServerOptions
    public let metrics = ServerMetrics()
    let compute = ComputeQueue()
    /// Pose batchers by model name, with flip test and without.
    let batchers: [String: (flip: PoseBatcher, plain: PoseBatcher)]
    let admission = Admission()

    public init(entries: [ModelEntry], options: ServerOptions) throws {
        var models: [ServedModel] = []
        for e in entries {
            do {
                models.append(try ServedModel(e, threads: options.threads, exactBatching: options.exactBatching, maxBatch: options.maxBatch))
            } catch {
                throw ServerError(.internalServerError, "model \(e.name): \(error)")
            }
        }
        for m in models where m.task == .pose {
            if let d = m.entry.detector, d != "none" { m.personDetector = models.first { $0.name == d } }
        }
        self.models = models
        self.options = options
        var batchers: [String: (PoseBatcher, PoseBatcher)] = [:]
        for m in models {
            guard let pose = m.pose else { continue }
            let wait = options.maxWaitMilliseconds / 1000
            batchers[m.name] = (PoseBatcher(estimator: pose, flip: true, maxBatch: options.maxBatch, maxWait: wait, compute: compute, metrics: metrics),
                                PoseBatcher(estimator: pose, flip: false, maxBatch: options.maxBatch, maxWait: wait, compute: compute, metrics: metrics))
        }
        self.batchers = batchers
    }

    /// The Hummingbird application; `onRunning` hears the bound port.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        Routes(server: self).add(to: router)
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(options.idleTimeout * 1000)))),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "hrnet"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: {
                // Warnings and errors only: the request lines would drown the terminal.
                var logger = Logger(label: "hrnet.serve")
                logger.logLevel = .warning
                return logger
            }()
        )
    }

    /// Serves until SIGTERM or SIGINT (or `shutdown()`), then finishes the requests in flight and returns.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "hrnet.serve")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [application(onRunning: onRunning)], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        running.set(group)
        defer { running.set(nil) }
        try await group.run()
    }

    /// Stops a running server as SIGTERM does: no new connections, requests in flight answered.
    public func shutdown() async {
        await running.get()?.triggerGracefulShutdown()
    }

    let running = RunningGroup()

    /// The model a request names, or the first of the task.
    func model(_ task: ServedTask, named name: String?) throws -> ServedModel {
        if let name {
            guard let m = models.first(where: { $0.name == name }) else {
                throw ServerError(.notFound, "no model named \(name) (models: \(models.map(\.name).joined(separator: ", ")))")
            }
            guard m.task == task else { throw ServerError(.badRequest, "model \(name) is a \(m.task.rawValue) model, not \(task.rawValue)") }
            return m
        }
        guard let m = models.first(where: { $0.task == task }) else {
            throw ServerError(.notFound, "this server has no \(task.rawValue) model (models: \(models.map { "\($0.name) (\($0.task.rawValue))" }.joined(separator: ", ")))")
        }
        return m
    }
}

/// The service group of a running server (for `shutdown`).
final class RunningGroup: @unchecked Sendable {
    private let lock = NSLock()
    private var group: ServiceGroup?
    func set(_ g: ServiceGroup?) { lock.lock(); group = g; lock.unlock() }
    func get() -> ServiceGroup? { lock.lock(); defer { lock.unlock() }; return group }
}

/// Counts inference requests admitted; refuses past the limit.
final class Admission: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func enter(limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard count < limit else { return nil }
        count += 1
        return count
    }
    func leave() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count -= 1
        return count
    }
}

/// Runs `body`, or throws `error` when it takes longer than `seconds`.
func withDeadline<T: Sendable>(_ seconds: Double, _ error: ServerError, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
            throw error
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
