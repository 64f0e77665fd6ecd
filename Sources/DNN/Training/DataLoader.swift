import Foundation

/// Makes training batches on worker threads while the model computes.
///
/// Generic over a sample-producing closure (decode + augment one sample), so it serves any
/// data set. Deterministic given the seed: the epoch's order comes from the seed and the
/// epoch number, and each sample gets its own generator seeded from (seed, epoch, position),
/// so the batches are the same whatever the number of workers or their timing. The queue is
/// bounded: workers run at most `prefetch` batches ahead of the consumer, so memory stays
/// bounded when the model is slower than the decoding.
public final class DataLoader<Sample: Sendable>: Sendable {
    public typealias Make = @Sendable (_ index: Int, _ rng: inout SplitMix64) throws -> Sample

    public let count: Int
    public let batchSize: Int
    public let workers: Int
    public let prefetch: Int
    public let seed: UInt64
    public let shuffle: Bool
    /// Drop a last, smaller batch (a training plan is compiled for one batch size).
    public let dropLast: Bool
    /// The positions of each batch this process makes (data-parallel training: every process
    /// draws the same global batches and takes its own part); nil: the whole batch.
    public let part: Range<Int>?
    let make: Make

    public init(count: Int, batchSize: Int, workers: Int = 2, prefetch: Int = 2, seed: UInt64, shuffle: Bool = true,
                dropLast: Bool = true, part: Range<Int>? = nil, make: @escaping Make) throws {
        guard count >= 0, batchSize >= 1, workers >= 1, prefetch >= 1 else {
            throw DNNError.graph("data loader: count must be >= 0, batch size, workers and prefetch >= 1")
        }
        if let part, part.lowerBound < 0 || part.upperBound > batchSize || part.isEmpty {
            throw DNNError.graph("data loader: the part \(part) is not within a batch of \(batchSize)")
        }
        if part != nil && !dropLast { throw DNNError.graph("data loader: a part of each batch needs whole batches (dropLast)") }
        (self.count, self.batchSize, self.workers, self.prefetch, self.seed, self.shuffle, self.dropLast, self.part, self.make) =
            (count, batchSize, workers, prefetch, seed, shuffle, dropLast, part, make)
    }

    /// Batches in one epoch.
    public var batchesPerEpoch: Int { dropLast ? count / batchSize : (count + batchSize - 1) / batchSize }

    /// The sample indices of an epoch, in order (a seeded Fisher-Yates shuffle when `shuffle`).
    public func order(epoch: Int) -> [Int] {
        var indices = Array(0..<count)
        guard shuffle else { return indices }
        var rng = SplitMix64(seed: Self.mix(seed, UInt64(epoch), 0x5EED))
        for i in stride(from: count - 1, to: 0, by: -1) {
            indices.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        return indices
    }

    static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var g = SplitMix64(seed: a ^ (b &* 0x9E37_79B9_7F4A_7C15) ^ (c &* 0xC2B2_AE3D_27D4_EB4F))
        return g.next()
    }

    /// Starts the workers for `epoch` at batch `first` (a run resumed inside an epoch skips the
    /// batches it already trained on; each batch is the same whatever came before it); iterate
    /// the result for its batches.
    public func epoch(_ epoch: Int, from first: Int = 0) -> Epoch { Epoch(loader: self, epoch: epoch, first: first) }

    /// One epoch's batches, in order. Workers stop when it is exhausted, stopped or released.
    public final class Epoch: IteratorProtocol, Sequence {
        private let state: State

        init(loader: DataLoader, epoch: Int, first: Int) {
            state = State(loader: loader, epoch: epoch, first: first)
            for w in 0..<loader.workers {
                // Workers hold the shared state, not the epoch, so dropping the epoch stops them.
                let t = Thread { [state] in state.work() }
                t.name = "hrnet-data-\(w)"
                t.start()
            }
        }

        deinit { state.stop() }

        /// Stops the workers (each finishes the sample in hand) and waits for them.
        public func stop() { state.stop() }

        /// The next batch, waiting for it if the workers are behind; nil after the last (or on an error).
        public func next() -> [Sample]? { try? nextBatch() }

        /// The next batch; a sample that failed to load throws here, at its batch, with its error.
        public func nextBatch() throws -> [Sample]? { try state.take() }

        /// Batches made but not yet taken (at most `prefetch`), for tests and monitoring.
        public var queued: Int { state.queued }
    }

    /// What the workers and the consumer share, behind one lock.
    final class State: @unchecked Sendable {
        let loader: DataLoader
        let epoch: Int
        let order: [Int]
        let total: Int
        private let lock = NSCondition()
        private var nextToMake = 0
        private var nextToTake = 0
        private var ready: [Int: Result<[Sample], Error>] = [:]
        private var stopped = false
        private var running: Int

        init(loader: DataLoader, epoch: Int, first: Int) {
            self.loader = loader
            self.epoch = epoch
            order = loader.order(epoch: epoch)
            total = loader.batchesPerEpoch
            nextToMake = min(max(first, 0), total)
            nextToTake = nextToMake
            running = loader.workers
        }

        func stop() {
            lock.lock()
            stopped = true
            lock.broadcast()
            while running > 0 { lock.wait() }
            lock.unlock()
        }

        func work() {
            defer { lock.lock(); running -= 1; lock.broadcast(); lock.unlock() }
            while true {
                lock.lock()
                // Bounded: never more than `prefetch` batches ahead of the consumer.
                while !stopped && nextToMake < total && nextToMake >= nextToTake + loader.prefetch { lock.wait() }
                if stopped || nextToMake >= total { lock.unlock(); return }
                let b = nextToMake
                nextToMake += 1
                lock.unlock()
                let result = Result { try makeBatch(b) }
                lock.lock()
                ready[b] = result
                lock.broadcast()
                lock.unlock()
            }
        }

        private func makeBatch(_ b: Int) throws -> [Sample] {
            var start = b * loader.batchSize, end = min(start + loader.batchSize, order.count)
            if let part = loader.part { (start, end) = (start + part.lowerBound, start + part.upperBound) }
            var out: [Sample] = []
            out.reserveCapacity(end - start)
            for position in start..<end {
                var rng = SplitMix64(seed: DataLoader.mix(loader.seed, UInt64(epoch), UInt64(position) &+ 1))
                out.append(try loader.make(order[position], &rng))
            }
            return out
        }

        func take() throws -> [Sample]? {
            lock.lock()
            defer { lock.unlock() }
            guard nextToTake < total, !stopped else { return nil }
            while ready[nextToTake] == nil { lock.wait() }
            let result = ready.removeValue(forKey: nextToTake)!
            nextToTake += 1
            lock.broadcast()
            return try result.get()
        }

        var queued: Int { lock.lock(); defer { lock.unlock() }; return ready.count }
    }
}
