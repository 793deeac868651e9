/// A set of slot indices on one node, as a bitmask. Slot `i` is the node's `cpus[i]`.
public struct CPUSet: Sendable, Equatable, Hashable {
    private var words: [UInt64]

    public init(count: Int, full: Bool) {
        words = Array(repeating: 0, count: (count + 63) / 64)
        if full { for i in 0..<count { insert(i) } }
    }

    public init(_ slots: [Int], capacity: Int) {
        self.init(count: capacity, full: false)
        for s in slots { insert(s) }
    }

    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    public func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
    public mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }
    public mutating func remove(_ i: Int) { words[i >> 6] &= ~(1 << UInt64(i & 63)) }

    public var elements: [Int] {
        var out: [Int] = []
        for (w, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                let b = bits.trailingZeroBitCount
                out.append(w * 64 + b)
                bits &= bits - 1
            }
        }
        return out
    }

    /// Removes and returns the `n` lowest members, or `nil` (and changes nothing) if fewer are present.
    public mutating func take(_ n: Int) -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(n)
        for (w, word) in words.enumerated() where out.count < n {
            var bits = word
            while bits != 0, out.count < n {
                let b = bits.trailingZeroBitCount
                out.append(w * 64 + b)
                bits &= bits - 1
            }
        }
        guard out.count == n else { return nil }
        for i in out { remove(i) }
        return out
    }
}
