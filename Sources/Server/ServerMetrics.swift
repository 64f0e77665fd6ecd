import Foundation
import Prometheus

/// The server's Prometheus metrics (text format at GET /metrics): requests and errors by route
/// and status, request latency, batch sizes, queue length and requests in flight.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let lock = NSLock()
    nonisolated(unsafe) private var counters: [String: Counter] = [:]
    nonisolated(unsafe) private var latencies: [String: DurationHistogram] = [:]
    private let batchSizes: ValueHistogram
    private let queue: Gauge
    private let inFlight: Gauge

    public init() {
        batchSizes = registry.makeValueHistogram(
            descriptor: .init(namespace: "hrnet", metricName: "batch_size", unitName: "crops",
                              helpText: "Crops per network run of the pose batcher"),
            labels: [], buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64])
        queue = registry.makeGauge(descriptor: .init(namespace: "hrnet", metricName: "queue_length", unitName: "crops",
                                                     helpText: "Crops waiting for the pose batcher"), labels: [])
        inFlight = registry.makeGauge(descriptor: .init(namespace: "hrnet", metricName: "requests_in_flight", unitName: "requests",
                                                        helpText: "Inference requests admitted and not yet answered"), labels: [])
    }

    func request(route: String, status: Int, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        let key = "\(route) \(status)"
        let counter = counters[key] ?? registry.makeCounter(
            descriptor: .init(namespace: "hrnet", metricName: "requests", unitName: "total", helpText: "Requests answered, by route and status"),
            labels: [("route", route), ("status", "\(status)")])
        counters[key] = counter
        counter.increment()
        let histogram = latencies[route] ?? registry.makeDurationHistogram(
            descriptor: .init(namespace: "hrnet", metricName: "request_duration", unitName: "seconds",
                              helpText: "Time from the request's arrival to its answer, by route"),
            labels: [("route", route)],
            buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30].map { Duration.milliseconds(Int64($0 * 1000)) })
        latencies[route] = histogram
        histogram.record(Duration.nanoseconds(Int64(seconds * 1e9)))
    }

    func batch(size: Int) { batchSizes.record(Double(size)) }
    func queueLength(_ n: Int) { queue.set(Double(n)) }
    func inFlight(_ n: Int) { inFlight.set(Double(n)) }

    /// The Prometheus text exposition.
    public func text() -> String { registry.emitToString() }
}
