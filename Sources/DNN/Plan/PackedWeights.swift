import CDNNL
import Foundation

/// Packed (BN-folded, reordered or Winograd-transformed) convolution weights shared by the plans
/// of one graph: a plan compiled for another input shape or batch size whose convolution wants
/// the same layout reads the packed copy already made, so a new shape costs primitive creation
/// only, and resident memory holds each layout once. `PlanCache` gives its plans one store.
///
/// Keys are the convolution's parameter key, its folded BN, the element type and the exact
/// oneDNN layout; direct convolutions keep the same blocked layout at every shape, Winograd
/// layouts may differ with the map size (those are then packed per plan, as before).
/// Safe to share between threads; plans keep their store alive.
public final class PackedWeights: @unchecked Sendable {
    struct Entry {
        let desc: dnnl_memory_desc_t
        let weights: UnsafeMutableRawPointer
        let bias: UnsafeMutableRawPointer?
    }
    private let lock = NSLock()
    private var entries: [String: [Entry]] = [:]
    private var owned: [UnsafeMutableRawPointer] = []
    /// Bytes held, and how many lookups found a packed copy.
    public private(set) var bytes = 0
    public private(set) var hits = 0
    public private(set) var count = 0

    public init() {}

    deinit { for p in owned { p.deallocate() } }

    func lookup(_ key: String, _ desc: dnnl_memory_desc_t) -> Entry? {
        lock.lock()
        defer { lock.unlock() }
        guard let e = entries[key]?.first(where: { MemoryDesc.equal($0.desc, desc) }) else { return nil }
        hits += 1
        return e
    }

    /// New storage for a layout (zeroed), to be filled by the packer and then `store`d.
    func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 64))
        lock.lock()
        owned.append(p)
        self.bytes += bytes
        lock.unlock()
        return p
    }

    func store(_ key: String, _ entry: Entry) {
        lock.lock()
        entries[key, default: []].append(entry)
        count += 1
        lock.unlock()
    }
}
