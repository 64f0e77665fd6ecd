/// A nonblocking reduction in flight. MPI keeps writing into the caller's
/// buffer until `wait()` returns, so the buffer must not be read, written or
/// freed before then.
public final class PendingReduction {
    private var waiter: (() throws -> Void)?

    init(waiter: (() throws -> Void)? = nil) {
        self.waiter = waiter
    }

    /// Blocks until the reduction has completed. Calling it again is a no-op.
    public func wait() throws {
        guard let waiter else { return }
        self.waiter = nil
        try waiter()
    }

    /// Dropping an unfinished reduction would leave MPI writing into memory the
    /// caller may already have released, so it is completed here as a last resort.
    deinit {
        if let waiter { try? waiter() }
    }
}
