import Foundation
import VBatchAPI
import VBatchCore
import VBatchDrivers
import VBatchStore

/// The site at one moment as the engine sees it: what every node's CPUs run, node states,
/// pools, fair share and the scheduler's pace. The metrics' gauges and the dashboard are
/// both drawn from it, so they never disagree.
public struct SiteSnapshot: Sendable, Codable {
    /// Why a node does or does not take jobs, in one word (the `state` label of `vbatch_node_state`).
    public enum NodeState: String, Sendable, Codable, CaseIterable {
        case up, draining, drained, fenced, failed, unreachable, connecting
    }

    /// One host CPU and what holds it.
    public struct CPU: Sendable, Codable, Equatable {
        public var cpu: Int
        public var job: Int64?
        public var owner: String?
        /// Empty for a job of no VO.
        public var vo: String?
        public var queue: String?
        /// The pool of the pooled VM pinned here (idle, booting, or running `job`).
        public var pool: String?
        /// `idle` or `booting` for a pooled VM without a job.
        public var poolState: String?
    }

    public struct Node: Sendable, Codable {
        public var name: String
        public var state: NodeState
        /// Why it takes no job (drain reason, unreachable since when, …).
        public var note: String?
        public var slots: Int
        public var usedSlots: Int
        public var memoryMB: Int
        public var freeMemoryMB: Int
        /// Its libvirtd answers now.
        public var connected: Bool
        public var cpus: [CPU]
    }

    /// Pooled VMs of one pool on one node.
    public struct PoolCount: Sendable, Codable {
        public var pool: String
        public var node: String
        public var idle: Int
        public var booting: Int
        public var busy: Int
    }

    /// One VO's standing in fair share.
    public struct FairShare: Sendable, Codable {
        /// Empty for jobs of no VO (the site's local share).
        public var vo: String
        /// Configured share, normalised over all VOs (0…1).
        public var share: Double
        /// Decayed usage in core-seconds.
        public var usage: Double
        /// Fraction of all decayed usage (0…1).
        public var usageFraction: Double
        /// Priority factor: above 0.5 when under its share.
        public var factor: Double
        public var runningCores: Int
    }

    public var time: Double
    public var nodes: [Node]
    public var pools: [PoolCount]
    public var fairShare: [FairShare]
    public var jobs: [ActiveJobCount]
    /// When the last scheduling cycle finished (nil before the first).
    public var lastCycle: Double?
}

extension Engine {
    /// The site now; `jobs` counts come from the store (every active job, held and saved ones included).
    public func snapshot() throws -> SiteSnapshot {
        let jobs = try store.activeJobCounts()
        var pools: [SiteSnapshot.PoolCount] = []
        let nodes = configuration.nodes.enumerated().map { index, node in
            var cpus = node.cpus.map { SiteSnapshot.CPU(cpu: $0) }
            let position = Dictionary(node.cpus.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            for id in scheduler.runningJobs(node: index) {
                guard let run = scheduler.runningJob(id) else { continue }
                for slot in run.slots where slot < cpus.count {
                    cpus[slot].job = id
                    cpus[slot].owner = scheduler.userName(run.job.user)
                    cpus[slot].vo = scheduler.voNames[Int(run.job.vo)]
                    cpus[slot].queue = scheduler.queues[Int(run.job.queue)].name
                }
            }
            var counts: [String: SiteSnapshot.PoolCount] = [:]
            for id in scheduler.poolVMIDs(node: index) {
                guard let vm = scheduler.poolVM(id) else { continue }
                let pool = configuration.pools[vm.pool].name
                let busy = vm.cpus.contains { position[$0].map { cpus[$0].job != nil } ?? false }
                let state = busy ? nil : vm.ready ? "idle" : "booting"
                for cpu in vm.cpus {
                    guard let i = position[cpu] else { continue }
                    cpus[i].pool = pool
                    cpus[i].poolState = state
                }
                var count = counts[pool] ?? .init(pool: pool, node: node.name, idle: 0, booting: 0, busy: 0)
                switch state {
                case "idle": count.idle += 1
                case "booting": count.booting += 1
                default: count.busy += 1
                }
                counts[pool] = count
            }
            pools += counts.values.sorted { $0.pool < $1.pool }
            return SiteSnapshot.Node(
                name: node.name, state: nodeState(index), note: [nodeStatus[index].note, drainProgress(index)]
                    .compactMap { $0 }.joined(separator: "; ").nonEmpty,
                slots: node.slots, usedSlots: node.slots - scheduler.freeSlotCount(node: index), memoryMB: node.memoryMB,
                freeMemoryMB: scheduler.freeMemoryMB(node: index), connected: nodeStatus[index].link == .up, cpus: cpus)
        }
        let ledger = scheduler.fairShare
        let totalUsage = ledger.usage.reduce(0, +)
        let factors = ledger.factors()
        var runningCores = Array(repeating: 0, count: scheduler.voNames.count)
        for count in jobs where count.state == .running || count.state == .starting {
            runningCores[Int(scheduler.vo(named: count.vo.nonEmpty))] += count.cores
        }
        let fairShare = scheduler.voNames.indices.map { i in
            SiteSnapshot.FairShare(vo: scheduler.voNames[i], share: ledger.shares[i], usage: ledger.usage[i],
                                   usageFraction: totalUsage > 0 ? ledger.usage[i] / totalUsage : 0, factor: factors[i],
                                   runningCores: runningCores[i])
        }
        return SiteSnapshot(time: WallClock.now(), nodes: nodes, pools: pools, fairShare: fairShare, jobs: jobs,
                            lastCycle: lastCycleEnd)
    }

    /// A node's state in one word: fenced, unreachable, connecting and failed (taken out
    /// after start failures) come before an operator's drain; a drained node that still runs
    /// jobs is draining.
    func nodeState(_ index: Int) -> SiteSnapshot.NodeState {
        let status = nodeStatus[index]
        if status.fenced != nil { return .fenced }
        switch status.link {
        case .unreachable: return .unreachable
        case .connecting: return .connecting
        case .up: break
        }
        if status.failedOut != nil { return .failed }
        if status.drained != nil { return scheduler.runningJobs(node: index).isEmpty ? .drained : .draining }
        return .up
    }
}

extension Engine {
    /// Since-start figures for `vbatch diag`, with the nodes' connections and job counts as of now.
    public func diagnostics() -> Diagnostics {
        var report = metrics.diagnostics.withLock { $0 }
        report.reported = WallClock.now()
        report.pending = scheduler.pendingCount
        report.running = scheduler.runningCount
        for (index, node) in configuration.nodes.enumerated() {
            report.connected[node.name] = nodeStatus[index].link == .up
        }
        return report
    }
}
