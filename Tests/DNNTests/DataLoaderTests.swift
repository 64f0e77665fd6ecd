import XCTest
import DNN

/// The training data loader: same batches for a seed whatever the workers, bounded queue,
/// overlap with the consumer, errors delivered at their batch, early stop.
final class DataLoaderTests: XCTestCase {
    struct Failure: Error, Equatable { let index: Int }

    /// A sample: its index and the first draw of its generator (stands in for augmentation).
    func loader(workers: Int, seed: UInt64 = 42, jitter: Bool = false, dropLast: Bool = true, count: Int = 37) throws -> DataLoader<[UInt64]> {
        try DataLoader(count: count, batchSize: 4, workers: workers, prefetch: 3, seed: seed, dropLast: dropLast) { index, rng in
            if jitter { Thread.sleep(forTimeInterval: Double(index % 3) * 0.001) }
            return [UInt64(index), rng.next()]
        }
    }

    func all(_ e: DataLoader<[UInt64]>.Epoch) throws -> [[[UInt64]]] {
        var out: [[[UInt64]]] = []
        while let b = try e.nextBatch() { out.append(b) }
        return out
    }

    func testDeterministicWhateverTheWorkers() throws {
        let one = try all(loader(workers: 1).epoch(0))
        let four = try all(loader(workers: 4, jitter: true).epoch(0))
        XCTAssertEqual(one, four)
        XCTAssertEqual(one.count, 9)                         // 37 samples, batches of 4, last dropped
        XCTAssertNotEqual(try all(loader(workers: 2).epoch(1)), one)     // another epoch, another order
        XCTAssertNotEqual(try all(loader(workers: 2, seed: 43).epoch(0)), one)
        // Every sample once per epoch when the last batch is kept.
        let full = try all(loader(workers: 3, dropLast: false).epoch(5)).flatMap { $0 }.map { Int($0[0]) }
        XCTAssertEqual(full.sorted(), Array(0..<37))
        XCTAssertNotEqual(full, Array(0..<37))               // shuffled
    }

    /// A run resumed inside an epoch: starting at batch k gives the epoch's batches from k on,
    /// sample for sample and draw for draw; a start past the end gives none.
    func testStartingInsideAnEpochGivesItsRemainingBatches() throws {
        let whole = try all(loader(workers: 2).epoch(3))
        XCTAssertEqual(try all(loader(workers: 3, jitter: true).epoch(3, from: 4)), Array(whole[4...]))
        XCTAssertEqual(try all(loader(workers: 1).epoch(3, from: 8)), [whole[8]])
        XCTAssertEqual(try all(loader(workers: 2).epoch(3, from: 9)).count, 0)
    }

    func testQueueIsBoundedAndOverlapsTheConsumer() throws {
        final class Counter: @unchecked Sendable {
            let lock = NSLock()
            var made = 0
            func add() { lock.lock(); made += 1; lock.unlock() }
            var value: Int { lock.lock(); defer { lock.unlock() }; return made }
        }
        let counter = Counter()
        let l = try DataLoader(count: 400, batchSize: 2, workers: 2, prefetch: 3, seed: 1) { index, _ in
            counter.add()
            return index
        }
        /// Waits (up to 10 s, for a loaded machine) until the workers have made `n` samples.
        func waitFor(_ n: Int) {
            let deadline = Date().addingTimeInterval(10)
            while counter.value < n && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        }
        let e = l.epoch(0)
        // The consumer is "computing": the workers fill the queue meanwhile, but only up to the bound.
        waitFor(6)
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(e.queued, 3)
        XCTAssertEqual(counter.value, 6)
        _ = try e.nextBatch()
        waitFor(8)
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(e.queued, 3)
        XCTAssertEqual(counter.value, 8)
        e.stop()                                             // early stop: workers exit, nothing hangs
        XCTAssertNil(try e.nextBatch())
    }

    func testErrorsArriveAtTheirBatch() throws {
        let l = try DataLoader(count: 12, batchSize: 4, workers: 2, prefetch: 2, seed: 3, shuffle: false) { index, _ in
            if index == 6 { throw Failure(index: index) }
            return index
        }
        let e = l.epoch(0)
        XCTAssertEqual(try e.nextBatch(), [0, 1, 2, 3])
        XCTAssertThrowsError(try e.nextBatch()) { XCTAssertEqual($0 as? Failure, Failure(index: 6)) }
        XCTAssertEqual(try e.nextBatch(), [8, 9, 10, 11])
        XCTAssertNil(try e.nextBatch())
        XCTAssertThrowsError(try DataLoader<Int>(count: 3, batchSize: 0, seed: 0) { i, _ in i })
    }
}
