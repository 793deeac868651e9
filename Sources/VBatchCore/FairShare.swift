#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decayed CPU usage per VO, compared with the VO's configured share.
///
/// Usage is core-seconds with exponential decay (half-life from the site file). A VO that
/// used less than its share gets a factor above 0.5, one that used more gets less; with no
/// usage at all every factor is 1. This is Slurm's classic fair-share formula
/// `2^(-usage/share)` with both terms normalised over all VOs.
public struct FairShareLedger: Sendable {
    public private(set) var usage: [Double]
    private var runningCores: [Int]
    /// Each VO's share, normalised to sum to 1 (index 0: no VO).
    public let shares: [Double]
    private let halfLife: Double
    private var lastUpdate: Double

    public init(shares: [Double], halfLife: Double, now: Double) {
        let total = shares.reduce(0, +)
        self.shares = shares.map { total > 0 ? $0 / total : 1 / Double(max(1, shares.count)) }
        self.usage = Array(repeating: 0, count: shares.count)
        self.runningCores = Array(repeating: 0, count: shares.count)
        self.halfLife = max(1, halfLife)
        self.lastUpdate = now
    }

    /// Decays usage to `now` and adds what running jobs used since the last update.
    public mutating func advance(to now: Double) {
        let dt = now - lastUpdate
        guard dt > 0 else { return }
        let decay = exp2(-dt / halfLife)
        // Exact integral of a constant core count under exponential decay over dt.
        let accrued = halfLife / M_LN2 * (1 - decay)
        for i in usage.indices {
            usage[i] = usage[i] * decay + Double(runningCores[i]) * accrued
        }
        lastUpdate = now
    }

    public mutating func jobStarted(vo: Int, cores: Int) { runningCores[vo] += cores }
    public mutating func jobEnded(vo: Int, cores: Int) { runningCores[vo] -= cores }

    /// Adds usage that ended `age` seconds ago (rebuilding the ledger from the store).
    public mutating func addPastUsage(vo: Int, coreSeconds: Double, age: Double) {
        usage[vo] += coreSeconds * exp2(-max(0, age) / halfLife)
    }

    /// Fair-share factor per VO in (0, 1]; higher runs first.
    public func factors() -> [Double] {
        let total = usage.reduce(0, +)
        guard total > 0 else { return Array(repeating: 1, count: usage.count) }
        return usage.indices.map { i in
            shares[i] > 0 ? exp2(-(usage[i] / total) / shares[i]) : 0
        }
    }
}
