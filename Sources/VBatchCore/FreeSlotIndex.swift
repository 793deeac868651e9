/// Nodes bucketed by their number of free slots, so placement finds a fitting node without
/// scanning the site: pack walks the buckets upward from the job's core count, spread walks
/// them downward from the top.
///
/// One index exists per (execution queue, environment) pair; it holds exactly the nodes
/// that may take a job of that pair right now apart from the job's own size (node enabled,
/// serving the queue, allowing the environment, below the queue's per-node cap).
struct FreeSlotIndex: Sendable {
    private var buckets: [[Int32]]
    /// Bucket of each node, or -1 when the node is not in the index.
    private var bucketOf: [Int32]
    private var positionOf: [Int32]

    init(maxSlots: Int, nodeCount: Int) {
        buckets = Array(repeating: [], count: maxSlots + 1)
        bucketOf = Array(repeating: -1, count: nodeCount)
        positionOf = Array(repeating: -1, count: nodeCount)
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
        }
        if let free {
            bucketOf[node] = Int32(free)
            positionOf[node] = Int32(buckets[free].count)
            buckets[free].append(Int32(node))
        }
    }

    /// Calls `accept` on nodes with at least `slots` free, best first for `policy`, until it returns true.
    func first(slots: Int, policy: SiteSettings.PlacementPolicy, where accept: (Int) -> Bool) -> Int? {
        guard slots < buckets.count else { return nil }
        switch policy {
        case .pack:
            for b in max(slots, 0)..<buckets.count {
                for node in buckets[b] where accept(Int(node)) { return Int(node) }
            }
        case .spread:
            for b in stride(from: buckets.count - 1, through: max(slots, 0), by: -1) {
                for node in buckets[b] where accept(Int(node)) { return Int(node) }
            }
        }
        return nil
    }

    /// Whether any node in the index has at least `slots` free (cheap pre-check).
    func hasCapacity(slots: Int) -> Bool {
        guard slots < buckets.count else { return false }
        for b in max(slots, 0)..<buckets.count where !buckets[b].isEmpty { return true }
        return false
    }
}
