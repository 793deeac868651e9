import CoreMetrics
import Foundation
import Prometheus
import Synchronization
import VBatchAPI
import VBatchCore
import VBatchDrivers

/// The daemon's Prometheus metrics, recorded through swift-metrics' API (counters, timers,
/// meters) on handlers of one swift-prometheus registry per daemon, so two daemons in one
/// process (the tests) never mix. Labels are bounded: queues, VOs, nodes, pools, routes and
/// libvirt operations, never jobs or users.
///
/// Events (submissions, starts, ends, cycles, commits, libvirt and API calls) are recorded
/// as they happen; gauges are set from a ``SiteSnapshot`` at each scrape. The same events
/// feed ``Diagnostics`` for `vbatch diag`.
public final class SiteMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// Since-start figures for `vbatch diag`.
    public let diagnostics = Mutex(Diagnostics())
    /// Gauge series set by the last scrape, zeroed when a scrape no longer has them.
    private let gaugesSet = Mutex<Set<GaugeKey>>([])

    public init() {
        factory = PrometheusMetricsFactory(registry: registry)
        diagnostics.withLock { $0.started = WallClock.now() }
        // Families that have no series until their first event are still announced.
        _ = counter(Name.cycles, [])
        _ = counter(Name.backfillStarts, [])
        _ = counter(Name.preemptions, [])
    }

    // MARK: - Events

    /// A submission of `count` jobs was acknowledged into `queue`.
    public func submitted(queue: String, count: Int) {
        counter(Name.submitted, [("queue", queue)]).increment(by: count)
    }

    /// A job's VM was started (or taken from a pool, or restored): how long it had waited.
    public func started(queue: String, vm: VMKind, waited: Double) {
        counter(Name.started, [("queue", queue), ("vm", vm.rawValue)]).increment()
        if vm != .restored { timer(Name.wait, [("queue", queue)], buckets: Buckets.wait).recordSeconds(max(0, waited)) }
    }

    /// A job's VM runs: how long from the placement until then.
    public func vmRunning(vm: VMKind, after seconds: Double) {
        timer(Name.vmStart, [("vm", vm.rawValue)], buckets: Buckets.vmStart).recordSeconds(max(0, seconds))
    }

    /// A job ended (`completed`, `failed`, `cancelled`) or went back to its queue (`requeued`).
    public func ended(queue: String, outcome: String) {
        counter(Name.ended, [("queue", queue), ("outcome", outcome)]).increment()
    }

    /// A scheduling cycle ran.
    public func cycle(_ duration: Duration, placements: Int, backfilled: Int, preemptions: Int, at time: Double) {
        counter(Name.cycles, []).increment()
        if backfilled > 0 { counter(Name.backfillStarts, []).increment(by: backfilled) }
        if preemptions > 0 { counter(Name.preemptions, []).increment(by: preemptions) }
        timer(Name.cycle, [], buckets: Buckets.cycle).recordNanoseconds(duration.nanoseconds)
        diagnostics.withLock { $0.cycle(duration, placements: placements, backfilled: backfilled, preemptions: preemptions, at: time) }
    }

    /// A store commit (submissions or transitions) took `duration`.
    public func commit(_ duration: Duration) {
        timer(Name.commit, [], buckets: Buckets.commit).recordNanoseconds(duration.nanoseconds)
        diagnostics.withLock { $0.commits.add(duration) }
    }

    /// A libvirt call to `node` took `duration`.
    public func libvirtCall(node: String, operation: String, duration: Duration, succeeded: Bool) {
        timer(Name.libvirtCall, [("operation", operation)], buckets: Buckets.libvirt).recordNanoseconds(duration.nanoseconds)
        counter(Name.libvirtCalls, [("node", node)]).increment()
        if !succeeded { counter(Name.libvirtFailures, [("node", node)]).increment() }
        diagnostics.withLock { $0.libvirt[node, default: .init()].add(duration, failed: !succeeded) }
    }

    /// An API request was answered; `route` is its template (`/v1/jobs/{id}`), never a job's path.
    public func apiRequest(method: String, route: String, status: Int, duration: Duration) {
        counter(Name.apiRequests, [("method", method), ("route", route), ("code", String(status))]).increment()
        diagnostics.withLock { $0.api["\(method) \(route)", default: .init()].add(duration, failed: status >= 500) }
    }

    // MARK: - Scrape

    /// Sets every gauge from `snapshot` and the state directory's file system, and returns
    /// the exposition text (format 0.0.4).
    public func exposition(snapshot: SiteSnapshot, configuration: Configuration, stateDirectory: String?) -> String {
        var set: [(GaugeKey, Double)] = []
        func gauge(_ name: GaugeName, _ labels: [(String, String)], _ value: Double) {
            set.append((GaugeKey(name: name, labels: labels.map { [$0.0, $0.1] }), value))
        }
        let states: [JobState] = [.queued, .held, .starting, .running, .suspended, .saved]
        var byQueue: [String: [JobState: (jobs: Int, cores: Int)]] = [:]
        var byVO: [String: [JobState: (jobs: Int, cores: Int)]] = [:]
        for count in snapshot.jobs {
            byQueue[count.queue, default: [:]][count.state, default: (0, 0)].jobs += count.jobs
            byQueue[count.queue, default: [:]][count.state, default: (0, 0)].cores += count.cores
            let vo = count.vo.isEmpty ? Self.noVO : count.vo
            byVO[vo, default: [:]][count.state, default: (0, 0)].jobs += count.jobs
            byVO[vo, default: [:]][count.state, default: (0, 0)].cores += count.cores
        }
        for queue in configuration.executionQueues {
            for state in states {
                let value = byQueue[queue.name]?[state] ?? (0, 0)
                gauge(.queueJobs, [("queue", queue.name), ("state", state.rawValue)], Double(value.jobs))
                gauge(.queueCores, [("queue", queue.name), ("state", state.rawValue)], Double(value.cores))
            }
            gauge(.queueStarted, [("queue", queue.name)], queue.started ? 1 : 0)
            gauge(.queueEnabled, [("queue", queue.name)], queue.enabled ? 1 : 0)
        }
        for vo in [Self.noVO] + configuration.vos.map(\.name) {
            for state in states {
                let value = byVO[vo]?[state] ?? (0, 0)
                gauge(.voJobs, [("vo", vo), ("state", state.rawValue)], Double(value.jobs))
                gauge(.voCores, [("vo", vo), ("state", state.rawValue)], Double(value.cores))
            }
        }
        for share in snapshot.fairShare {
            let vo = share.vo.isEmpty ? Self.noVO : share.vo
            gauge(.fairShareFactor, [("vo", vo)], share.factor)
            gauge(.fairShareUsage, [("vo", vo)], share.usage)
        }
        for node in snapshot.nodes {
            for state in SiteSnapshot.NodeState.allCases {
                gauge(.nodeState, [("node", node.name), ("state", state.rawValue)], node.state == state ? 1 : 0)
            }
            gauge(.nodeSlots, [("node", node.name)], Double(node.slots))
            gauge(.nodeSlotsUsed, [("node", node.name)], Double(node.usedSlots))
            gauge(.nodeMemory, [("node", node.name)], Double(node.memoryMB) * 1_048_576)
            gauge(.nodeMemoryFree, [("node", node.name)], Double(node.freeMemoryMB) * 1_048_576)
            gauge(.nodeConnected, [("node", node.name)], node.connected ? 1 : 0)
        }
        for pool in snapshot.pools {
            for (state, value) in [("idle", pool.idle), ("booting", pool.booting), ("busy", pool.busy)] {
                gauge(.poolVMs, [("pool", pool.pool), ("node", pool.node), ("state", state)], Double(value))
            }
        }
        if let last = snapshot.lastCycle { gauge(.lastCycle, [], last) }
        if let stateDirectory, let space = FileSystemSpace(path: stateDirectory) {
            gauge(.stateFree, [], Double(space.availableBytes))
            gauge(.stateSize, [], Double(space.totalBytes))
        }
        let keys = Set(set.map(\.0))
        let stale = gaugesSet.withLock { previous in
            defer { previous = keys }
            return previous.subtracting(keys)
        }
        for key in stale { gaugeHandle(key).set(0) }
        for (key, value) in set { gaugeHandle(key).set(value) }
        return registry.emitToString()
    }

    /// The `vo` label of jobs that belong to no VO.
    static let noVO = "none"

    // MARK: - Families

    /// How a job's VM came to run: booted for it, taken from a pool, or restored from a save.
    public enum VMKind: String, Sendable {
        case onDemand = "on_demand", pooled, restored
    }

    enum Name {
        static let submitted = Family("vbatch_jobs_submitted_total", "Jobs acknowledged (durably stored), by the execution queue they were routed to.")
        static let started = Family("vbatch_jobs_started_total", "Job starts: VMs booted for a job (on_demand), pooled VMs taken over (pooled) and saved VMs restored (restored).")
        static let ended = Family("vbatch_jobs_ended_total", "Jobs that ended, by outcome (completed, failed, cancelled), and runs sent back to the queue (requeued).")
        static let wait = Family("vbatch_job_wait_seconds", "Time from submission to start of the jobs that started.")
        static let vmStart = Family("vbatch_vm_start_seconds", "Time from a job's placement until its VM runs, pooled or booted on demand.")
        static let cycles = Family("vbatch_scheduler_cycles_total", "Scheduling cycles run.")
        static let cycle = Family("vbatch_scheduler_cycle_seconds", "Duration of a scheduling cycle, recording its decisions included.")
        static let backfillStarts = Family("vbatch_backfill_starts_total", "Jobs started by backfill ahead of the reserved job.")
        static let preemptions = Family("vbatch_preemptions_total", "Running jobs the scheduler chose to preempt.")
        static let commit = Family("vbatch_store_commit_seconds", "Duration of a durable commit of the job store (fsync included).")
        static let libvirtCall = Family("vbatch_libvirt_call_seconds", "Duration of libvirt calls, by libvirt function.")
        static let libvirtCalls = Family("vbatch_libvirt_calls_total", "Libvirt calls made, by worker node.")
        static let libvirtFailures = Family("vbatch_libvirt_call_failures_total", "Libvirt calls that failed or timed out, by worker node.")
        static let apiRequests = Family("vbatch_api_requests_total", "API requests answered, by method, route and status code.")
    }

    enum GaugeName: String, Sendable {
        case queueJobs = "vbatch_queue_jobs", queueCores = "vbatch_queue_cores", queueStarted = "vbatch_queue_started"
        case queueEnabled = "vbatch_queue_enabled", voJobs = "vbatch_vo_jobs", voCores = "vbatch_vo_cores"
        case fairShareFactor = "vbatch_fairshare_factor", fairShareUsage = "vbatch_fairshare_usage_core_seconds"
        case nodeState = "vbatch_node_state", nodeSlots = "vbatch_node_slots", nodeSlotsUsed = "vbatch_node_slots_used"
        case nodeMemory = "vbatch_node_memory_bytes", nodeMemoryFree = "vbatch_node_memory_free_bytes"
        case nodeConnected = "vbatch_node_libvirt_connected", poolVMs = "vbatch_pool_vms"
        case lastCycle = "vbatch_scheduler_last_cycle_timestamp_seconds"
        case stateFree = "vbatch_state_filesystem_avail_bytes", stateSize = "vbatch_state_filesystem_size_bytes"

        var help: String {
            switch self {
            case .queueJobs: "Active jobs per execution queue and state."
            case .queueCores: "Cores asked for by the active jobs per execution queue and state."
            case .queueStarted: "1 if the execution queue starts jobs, 0 if an operator stopped it."
            case .queueEnabled: "1 if the execution queue accepts jobs, 0 if disabled."
            case .voJobs: "Active jobs per VO (none: jobs of no VO) and state."
            case .voCores: "Cores asked for by the active jobs per VO and state."
            case .fairShareFactor: "Fair-share priority factor per VO (above 0.5: under its share)."
            case .fairShareUsage: "Decayed usage per VO, in core-seconds."
            case .nodeState: "1 for the worker node's current state (up, draining, drained, fenced, failed, unreachable, connecting)."
            case .nodeSlots: "Job slots (host CPUs for jobs) of the worker node."
            case .nodeSlotsUsed: "Slots held by jobs and pooled VMs on the worker node."
            case .nodeMemory: "Memory for jobs on the worker node."
            case .nodeMemoryFree: "Memory for jobs on the worker node not held by a job or pooled VM."
            case .nodeConnected: "1 while vbatchd's libvirt connection to the worker node is up."
            case .poolVMs: "Pooled VMs per pool, node and state (idle, booting, busy)."
            case .lastCycle: "When the last scheduling cycle finished (Unix time)."
            case .stateFree: "Bytes available to vbatchd on the file system of its state directory."
            case .stateSize: "Size of the file system of the state directory."
            }
        }
    }

    struct Family: Sendable {
        var name: String
        var help: String
        init(_ name: String, _ help: String) {
            self.name = name
            self.help = help
        }
        var descriptor: MetricNameDescriptor { MetricNameDescriptor(metricName: name, unitName: "", helpText: help) }
    }

    struct GaugeKey: Hashable, Sendable {
        var name: GaugeName
        var labels: [[String]]
    }

    enum Buckets {
        static let wait: [Duration] = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400].map { .seconds($0) }
        static let vmStart: [Duration] = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300].map { .milliseconds(Int($0 * 1000)) }
        static let cycle: [Duration] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
            .map { .microseconds(Int($0 * 1_000_000)) }
        static let commit: [Duration] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]
            .map { .microseconds(Int($0 * 1_000_000)) }
        static let libvirt: [Duration] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300]
            .map { .microseconds(Int($0 * 1_000_000)) }
    }

    // MARK: - Handles

    private func counter(_ family: Family, _ labels: [(String, String)]) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: family.name, dimensions: labels,
                            handler: registry.makeCounter(descriptor: family.descriptor, labels: labels), factory: factory)
    }

    private func timer(_ family: Family, _ labels: [(String, String)], buckets: [Duration]) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: family.name, dimensions: labels,
                          handler: registry.makeDurationHistogram(descriptor: family.descriptor, labels: labels, buckets: buckets),
                          factory: factory)
    }

    private func gaugeHandle(_ key: GaugeKey) -> Meter {
        let labels = key.labels.map { ($0[0], $0[1]) }
        let descriptor = MetricNameDescriptor(metricName: key.name.rawValue, unitName: "", helpText: key.name.help)
        return Meter(label: key.name.rawValue, dimensions: labels,
                     handler: registry.makeGauge(descriptor: descriptor, labels: labels), factory: factory)
    }
}

/// Free and total bytes of the file system holding a path.
struct FileSystemSpace {
    var availableBytes: UInt64
    var totalBytes: UInt64

    init?(path: String) {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        availableBytes = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        totalBytes = UInt64(info.f_blocks) * UInt64(info.f_frsize)
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000
    }
}
