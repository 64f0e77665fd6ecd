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
    private var thread: Thread!

    private init() {
        thread = Thread { [unowned self] in self.loop() }
        thread.name = "hrnet-compute"
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func loop() {
        while true {
            lock.lock()
            while work == nil { lock.wait() }
            let job = work!
            lock.unlock()
            job()
            lock.lock()
            work = nil
            lock.broadcast()
            lock.unlock()
        }
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
            lock.broadcast()
            while result == nil { lock.wait() }
            lock.unlock()
            return try result!.get()
        }
    }
}
