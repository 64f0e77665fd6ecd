import DNN
import Foundation
import Imaging
import Pose

/// Dynamic batching of pose crops: the crops of concurrent requests share network runs.
///
/// A request's crops wait until `maxBatch` crops are pending or the first of them has waited
/// `maxWait` (0: not at all when the network is idle); the compute queue then runs up to
/// `maxBatch` crops (whole requests; a request
/// with more crops runs alone in chunks of `maxBatch`) and hands each request its heatmaps.
/// While a batch runs, arrivals queue up and form the next one. The estimator's plans use direct
/// convolutions (`ServedModel`), whose per-image sums do not depend on the batch size or on
/// the other crops, so a request gets the same numbers as alone.
final class PoseBatcher: @unchecked Sendable {
    typealias Crop = (image: Image, crop: PersonCrop)
    private struct Job {
        let crops: [Crop]
        let continuation: CheckedContinuation<Tensor, any Error>
    }

    let estimator: PoseEstimator
    /// Whether this batcher's runs are flip-tested (the two batchers of a model share its estimator).
    let flip: Bool
    let maxBatch: Int
    let maxWait: Double
    private let compute: ComputeQueue
    private let metrics: ServerMetrics
    private let lock = NSLock()
    private var pending: [Job] = []
    private var scheduled = false

    init(estimator: PoseEstimator, flip: Bool, maxBatch: Int, maxWait: Double, compute: ComputeQueue, metrics: ServerMetrics) {
        (self.estimator, self.flip, self.maxBatch, self.maxWait, self.compute, self.metrics) = (estimator, flip, max(1, maxBatch), maxWait, compute, metrics)
    }

    /// Heatmaps (N, joints, h, w) of `crops`, flip-averaged as the estimator's options say.
    func heatmaps(_ crops: [Crop]) async throws -> Tensor {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            pending.append(Job(crops: crops, continuation: continuation))
            let waiting = pending.reduce(0) { $0 + $1.crops.count }
            let first = !scheduled
            scheduled = true
            lock.unlock()
            metrics.queueLength(waiting)
            if waiting >= maxBatch {
                compute.queue.async { self.drain() }
            } else if first {
                compute.queue.asyncAfter(deadline: .now() + maxWait) { self.drain() }
            }
        }
    }

    /// Runs batches until nothing is pending (on the compute queue).
    private func drain() {
        while true {
            lock.lock()
            guard !pending.isEmpty else {
                scheduled = false
                lock.unlock()
                return
            }
            var jobs = [pending.removeFirst()]
            var count = jobs[0].crops.count
            while let next = pending.first, count + next.crops.count <= maxBatch {
                jobs.append(pending.removeFirst())
                count += next.crops.count
            }
            let left = pending.reduce(0) { $0 + $1.crops.count }
            lock.unlock()
            metrics.queueLength(left)
            run(jobs)
        }
    }

    private func run(_ jobs: [Job]) {
        let all = jobs.flatMap(\.crops)
        estimator.options.flipTest = flip
        do {
            var parts: [Tensor] = []
            var start = 0
            while start < all.count {
                let chunk = Array(all[start..<min(start + maxBatch, all.count)])
                parts.append(try estimator.heatmaps(chunk))
                metrics.batch(size: chunk.count)
                start += chunk.count
            }
            let heatmaps = Self.concatenate(parts)
            let map = heatmaps.count / max(1, heatmaps.shape[0])
            var offset = 0
            for job in jobs {
                let n = job.crops.count
                job.continuation.resume(returning: Tensor(shape: [n] + heatmaps.shape.dropFirst(),
                                                          scalars: Array(heatmaps.scalars[(offset * map)..<((offset + n) * map)])))
                offset += n
            }
        } catch {
            for job in jobs { job.continuation.resume(throwing: error) }
        }
    }

    static func concatenate(_ parts: [Tensor]) -> Tensor {
        guard parts.count > 1 else { return parts[0] }
        return Tensor(shape: [parts.reduce(0) { $0 + $1.shape[0] }] + parts[0].shape.dropFirst(), scalars: parts.flatMap(\.scalars))
    }
}
