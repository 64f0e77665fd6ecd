import Foundation

/// The one thread that runs every plan.
///
/// libgomp keeps a pool of OpenMP workers per calling thread, and idle workers spin. Plans
/// called from many threads (Swift concurrency's pool, a server's handlers) would each grow a
/// pool and the spinning pools would fight over the cores; funnelling execution through one
/// long-lived thread keeps a single pool, whoever calls.
final class ComputeThread: @unchecked Sendable {
    static let shared = ComputeThread()

    private let lock = NSCondition()
    private var work: (() -> Void)?
    /// Counts finished jobs; a caller waits until the count passes its own job.
    private var finished = 0
    private var started = 0
    private var thread: Thread!

    private init() {
        thread = Thread { [unowned self] in self.loop() }
        thread.name = "hrnet-compute"
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func loop() {
        while true {
            runNextJob()
            lock.lock()
            work = nil
            finished += 1
            lock.broadcast()
            lock.unlock()
        }
    }

    /// Waits for a job and runs it; the job's closure is released when this returns, before
    /// its caller is told it finished.
    private func runNextJob() {
        lock.lock()
        while work == nil { lock.wait() }
        let job = work!
        lock.unlock()
        job()
    }

    /// Runs `body` on the compute thread and waits for it; calls from several threads queue up.
    func run<T>(_ body: () throws -> T) throws -> T {
        if Thread.current === thread { return try body() }
        return try withoutActuallyEscaping(body) { body in
            var result: Result<T, Error>?
            let job = { result = Result { try body() } }
            lock.lock()
            while work != nil { lock.wait() }
            work = job
            started += 1
            let ticket = started
            lock.broadcast()
            // Wait until the compute thread has dropped the job, not only run it: the closure
            // must not outlive this call.
            while finished < ticket { lock.wait() }
            lock.unlock()
            return try result!.get()
        }
    }
}
