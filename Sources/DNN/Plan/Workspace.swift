import Foundation

/// Activation memory shared by plans that run one at a time (the plans of one `PlanCache`):
/// each plan's arena and scratchpad are views of one buffer each, as large as the largest need
/// so far. Only one plan's values are live at once (a run writes every value before reading
/// it, and returns copies of its outputs), so the plans of three input shapes hold the largest
/// one's activations, not the sum; and a shape compiled after a larger one touches no new pages
/// (on a machine where first touches are slow, most of a large plan's compile time).
/// A plan needing more than the buffer gets a new, larger one; plans built on the older buffer
/// keep it alive, so compiling the largest shape first (`PlanCache.prepare`) gives one buffer.
public final class Workspace: @unchecked Sendable {
    /// Zeroed, 64-byte aligned memory, freed with the last plan that uses it.
    final class Buffer {
        let pointer: UnsafeMutableRawPointer
        let bytes: Int
        init(bytes: Int) {
            self.bytes = bytes
            pointer = Plan.allocate(bytes)
        }
        deinit { pointer.deallocate() }
    }

    private let lock = NSLock()
    private var arena: Buffer?
    private var scratchpad: Buffer?

    public init() {}

    /// Bytes of the current arena buffer (the largest plan's activations) and scratchpad buffer.
    public var arenaBytes: Int { lock.withLock { arena?.bytes ?? 0 } }
    public var scratchpadBytes: Int { lock.withLock { scratchpad?.bytes ?? 0 } }

    func arena(atLeast bytes: Int) -> Buffer { buffer(&arena, atLeast: bytes) }
    func scratchpad(atLeast bytes: Int) -> Buffer { buffer(&scratchpad, atLeast: bytes) }

    private func buffer(_ slot: inout Buffer?, atLeast bytes: Int) -> Buffer {
        lock.lock()
        defer { lock.unlock() }
        if let b = slot, b.bytes >= bytes { return b }
        let b = Buffer(bytes: bytes)
        slot = b
        return b
    }
}
