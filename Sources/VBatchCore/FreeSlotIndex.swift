/// Nodes bucketed by their number of free slots, so placement finds a fitting node without
/// scanning the site: pack walks the buckets upward from the job's core count, spread walks
/// them downward from the top. A bitmap of the non-empty buckets lets both skip empty ones a
/// word at a time: a job that fits nowhere costs a few word tests, not a walk over every
/// bucket up to the largest node (which, with thousands of waiting jobs, was most of a cycle).
///
/// One index exists per (execution queue, environment) pair; it holds exactly the nodes
/// that may take a job of that pair right now apart from the job's own size (node enabled,
/// serving the queue, allowing the environment, below the queue's per-node cap).
struct FreeSlotIndex: Sendable {
    private var buckets: [[Int32]]
    /// Bucket of each node, or -1 when the node is not in the index.
    private var bucketOf: [Int32]
    private var positionOf: [Int32]
    /// Bit `b % 64` of word `b / 64` is set when bucket `b` holds a node.
    private var occupied: [UInt64]

    init(maxSlots: Int, nodeCount: Int) {
        buckets = Array(repeating: [], count: maxSlots + 1)
        bucketOf = Array(repeating: -1, count: nodeCount)
        positionOf = Array(repeating: -1, count: nodeCount)
        occupied = Array(repeating: 0, count: maxSlots / 64 + 1)
    }

    /// The free slots `node` is filed under, or nil when it may not take a job of this pair now.
    func free(node: Int) -> Int? {
        bucketOf[node] >= 0 ? Int(bucketOf[node]) : nil
    }

    /// Places `node` in the bucket for `free` slots, or removes it when `free` is nil.
    mutating func set(node: Int, free: Int?) {
        let old = Int(bucketOf[node])
        if let free, old == free { return }
        if old >= 0 {
            let pos = Int(positionOf[node])
            let last = buckets[old].removeLast()
            if last != Int32(node) {
                buckets[old][pos] = last
                positionOf[Int(last)] = Int32(pos)
            }
            bucketOf[node] = -1
            positionOf[node] = -1
            if buckets[old].isEmpty { occupied[old >> 6] &= ~(1 << UInt64(old & 63)) }
        }
        if let free {
            bucketOf[node] = Int32(free)
            positionOf[node] = Int32(buckets[free].count)
            buckets[free].append(Int32(node))
            occupied[free >> 6] |= 1 << UInt64(free & 63)
        }
    }

    /// Calls `accept` on nodes with at least `slots` free, best first for `policy`, until it returns true.
    func first(slots: Int, policy: SiteSettings.PlacementPolicy, where accept: (Int) -> Bool) -> Int? {
        let from = max(slots, 0)
        guard from < buckets.count else { return nil }
        switch policy {
        case .pack:
            // Non-empty buckets upward from `from`.
            for w in (from >> 6)..<occupied.count {
                var bits = occupied[w]
                if w == from >> 6 { bits &= ~0 << UInt64(from & 63) }
                while bits != 0 {
                    let b = w << 6 + bits.trailingZeroBitCount
                    for node in buckets[b] where accept(Int(node)) { return Int(node) }
                    bits &= bits - 1
                }
            }
        case .spread:
            // Non-empty buckets downward to `from`.
            for w in stride(from: occupied.count - 1, through: from >> 6, by: -1) {
                var bits = occupied[w]
                if w == from >> 6 { bits &= ~0 << UInt64(from & 63) }
                while bits != 0 {
                    let bit = 63 - bits.leadingZeroBitCount
                    for node in buckets[w << 6 + bit] where accept(Int(node)) { return Int(node) }
                    bits &= ~(1 << UInt64(bit))
                }
            }
        }
        return nil
    }

    /// Whether any node in the index has at least `slots` free (cheap pre-check).
    func hasCapacity(slots: Int) -> Bool {
        let from = max(slots, 0)
        guard from < buckets.count else { return false }
        for w in (from >> 6)..<occupied.count {
            var bits = occupied[w]
            if w == from >> 6 { bits &= ~0 << UInt64(from & 63) }
            if bits != 0 { return true }
        }
        return false
    }
}
