/// Assigns each value a slot of one arena so that values whose lifetimes do not overlap
/// share memory, and ops that may work in place (sum post-op, add, ReLU) write over an
/// input that dies there.
///
/// - Complexity: O(values x slots); slots stay few (a handful per live stream).
struct MemoryPlanner {
    private(set) var slotSizes: [Int] = []
    private var free: [Int] = []
    private(set) var slotOf: [Int: Int] = [:]

    /// A slot for `value` of `bytes`, best fit among the free ones (grown if none is big enough).
    mutating func allocate(_ value: Int, bytes: Int) {
        let fitting = free.filter { slotSizes[$0] >= bytes }
        let pick = fitting.min { slotSizes[$0] < slotSizes[$1] } ?? free.max { slotSizes[$0] < slotSizes[$1] }
        if let s = pick {
            free.removeAll { $0 == s }
            slotSizes[s] = max(slotSizes[s], bytes)
            slotOf[value] = s
        } else {
            slotSizes.append(bytes)
            slotOf[value] = slotSizes.count - 1
        }
    }

    /// `value` takes over the slot of `from`, which dies here.
    mutating func share(_ value: Int, with from: Int) {
        slotOf[value] = slotOf[from]
    }

    mutating func release(_ value: Int) {
        guard let s = slotOf[value], !free.contains(s) else { return }
        free.append(s)
    }

    /// Byte offsets of the slots in one arena, each 64-byte aligned, and the arena size.
    func layout() -> (offsets: [Int], total: Int) {
        var offsets: [Int] = []
        var total = 0
        for size in slotSizes {
            offsets.append(total)
            total += (size + 63) / 64 * 64
        }
        return (offsets, max(total, 64))
    }
}
