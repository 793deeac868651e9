import Synchronization
import VBatchCore

/// A driver over a virtual clock: a job "runs" for its declared runtime (or until its
/// walltime, whichever comes first) and nothing is started anywhere. A simulated payload
/// keeps all its vCPUs busy: its CPU time is its cores × its run time.
///
/// It holds one heap entry per running job and nothing per node, so it models sites of
/// 10,000+ nodes in one process. Two modes:
/// - **stepped** (`SimulatedDriver(clock: .manual)`): the caller advances time with
///   ``advance(to:)`` and receives the events due — for trace replays and benchmarks;
/// - **real time** (`.wallClock`): a background task advances the clock with the wall
///   clock, so `vbatchd` can run on a simulated site.
public final class SimulatedDriver: HypervisorDriver {
    public enum Clock: Sendable {
        case manual(start: Double)
        case wallClock
    }

    /// How long a job runs when its spec declares nothing.
    public static let defaultRuntime: Double = 1

    public let events: AsyncStream<DriverEvent>
    private let continuation: AsyncStream<DriverEvent>.Continuation
    private let state: Mutex<State>
    private let wallClock: Bool

    private struct Simulated {
        var node: String
        var start: Double
        var end: Double
        var cores: Int
        var outcome: JobOutcome
        /// Walltime used before `start` (earlier pieces of a saved job).
        var used: Double = 0
        /// Run time left while paused (suspended or saved); its heap entry is stale then.
        var paused: Double?
        /// What it leaves in its spool when it ends (real time only).
        var output: SimulatedOutput?

        func usage(until time: Double) -> JobUsage { JobUsage(cpuSeconds: Double(cores) * max(0, time - start)) }
    }

    private struct State {
        var now: Double
        var heap = EventHeap()
        var running: [Int64: Simulated] = [:]
        /// Saved jobs, by id: what they had left when saved.
        var saved: [Int64: Simulated] = [:]
        var ticker: Task<Void, Never>?
    }

    public init(clock: Clock) {
        (events, continuation) = AsyncStream.makeStream(of: DriverEvent.self)
        switch clock {
        case .manual(let start):
            state = Mutex(State(now: start))
            wallClock = false
        case .wallClock:
            state = Mutex(State(now: WallClock.now()))
            wallClock = true
        }
    }

    deinit {
        state.withLock { $0.ticker?.cancel() }
        continuation.finish()
    }

    /// The virtual time.
    public var now: Double { state.withLock { $0.now } }

    /// Jobs currently running in the simulation.
    public var runningCount: Int { state.withLock { $0.running.count } }

    public func start(_ spec: LaunchSpec) async throws {
        _ = startNow(spec)
    }

    /// Synchronous start for stepped simulations; returns the event emitted (`.running`).
    @discardableResult
    public func startNow(_ spec: LaunchSpec) -> DriverEvent {
        let runtime = max(0, spec.simulatedRuntime ?? Self.defaultRuntime)
        let exitCode = spec.simulatedExitCode ?? 0
        let event: DriverEvent = state.withLock { s in
            if wallClock { s.now = max(s.now, WallClock.now()) }
            let overrun = runtime > Double(spec.walltime)
            let end = s.now + (overrun ? Double(spec.walltime) : runtime)
            let outcome: JobOutcome = overrun ? .walltimeExceeded : .exited(code: exitCode)
            s.running[spec.jobID] = Simulated(node: spec.node.name, start: s.now, end: end, cores: spec.cpus.count, outcome: outcome,
                                              output: wallClock ? spec.simulatedOutputBytes.map {
                                                  SimulatedOutput(directory: spec.spoolDirectory, bytes: $0)
                                              } : nil)
            s.heap.push(.init(time: end, jobID: spec.jobID, outcome: outcome))
            return .running(jobID: spec.jobID, node: spec.node.name, time: s.now)
        }
        if wallClock {
            continuation.yield(event)
            ensureTicker()
        }
        return event
    }

    public func cancel(jobID: Int64) async {
        let event: DriverEvent? = state.withLock { s in
            guard let job = s.running.removeValue(forKey: jobID) else { return nil }
            if wallClock { s.now = max(s.now, WallClock.now()) }
            return .ended(jobID: jobID, node: job.node, outcome: .cancelled, time: s.now, usage: job.usage(until: s.now))
        }
        if let event { continuation.yield(event) }
    }

    /// Simulated nodes are up at once. Simulated VMs do not outlive the process that
    /// simulated them: a job adopted after a restart is reported lost (the engine requeues it).
    /// Saved jobs of an earlier process are lost too: they end when restored.
    public func begin(nodes: [NodeConfig], adopting: [AdoptedJob], saved: [SavedJob]) async {
        let time = wallClock ? WallClock.now() : now
        for node in nodes { continuation.yield(.nodeUp(node: node.name, time: time)) }
        for job in adopting where state.withLock({ $0.running[job.spec.jobID] == nil }) {
            continuation.yield(.ended(jobID: job.spec.jobID, node: job.spec.node.name,
                                      outcome: .lost(reason: "VM lost while vbatchd was down"), time: time))
        }
    }

    // MARK: - Moves

    public func suspend(jobID: Int64) async throws {
        try state.withLock { s in
            if wallClock { s.now = max(s.now, WallClock.now()) }
            guard let job = s.running[jobID], job.paused == nil else { throw SimulatedNodeError(description: "job \(jobID) is not running") }
            s.running[jobID]!.paused = max(0, job.end - s.now)
        }
    }

    public func resume(jobID: Int64) async throws {
        try state.withLock { s in
            if wallClock { s.now = max(s.now, WallClock.now()) }
            guard var job = s.running[jobID], let left = job.paused else { throw SimulatedNodeError(description: "job \(jobID) is not suspended") }
            job.paused = nil
            job.end = s.now + left
            s.running[jobID] = job
            s.heap.push(.init(time: job.end, jobID: jobID, outcome: job.outcome))
        }
        ensureTickerIfNeeded()
    }

    public func save(jobID: Int64) async throws -> VMPiece {
        try state.withLock { s in
            if wallClock { s.now = max(s.now, WallClock.now()) }
            guard var job = s.running.removeValue(forKey: jobID) else { throw SimulatedNodeError(description: "job \(jobID) is not running") }
            let left = job.paused ?? max(0, job.end - s.now)
            let usage = job.usage(until: s.now)
            job.used += max(0, (job.end - job.start) - left)
            job.paused = left
            s.saved[jobID] = job
            return VMPiece(usage: usage, walltimeUsed: job.used)
        }
    }

    public func restore(_ spec: LaunchSpec, from node: String) async throws {
        let event: DriverEvent = try state.withLock { s in
            if wallClock { s.now = max(s.now, WallClock.now()) }
            guard var job = s.saved.removeValue(forKey: spec.jobID), job.node == node else {
                throw SimulatedNodeError(description: "job \(spec.jobID) has no saved VM on \(node)")
            }
            job.node = spec.node.name
            job.start = s.now
            job.end = s.now + (job.paused ?? 0)
            job.paused = nil
            s.running[spec.jobID] = job
            s.heap.push(.init(time: job.end, jobID: spec.jobID, outcome: job.outcome))
            return .running(jobID: spec.jobID, node: spec.node.name, time: s.now)
        }
        if wallClock {
            continuation.yield(event)
            ensureTicker()
        }
    }

    public func migrate(jobID: Int64, to spec: LaunchSpec, bound: Duration) async throws -> VMPiece {
        try state.withLock { s in
            if wallClock { s.now = max(s.now, WallClock.now()) }
            guard var job = s.running[jobID], job.paused == nil else { throw SimulatedNodeError(description: "job \(jobID) is not running") }
            let usage = job.usage(until: s.now)
            job.used += s.now - job.start
            job.start = s.now
            job.node = spec.node.name
            s.running[jobID] = job
            return VMPiece(usage: usage, walltimeUsed: job.used)
        }
    }

    public func discard(savedJob jobID: Int64, node: String) async {
        state.withLock { s in
            if s.saved[jobID]?.node == node { s.saved[jobID] = nil }
        }
    }

    private func ensureTickerIfNeeded() {
        if wallClock { ensureTicker() }
    }

    public func abandon(jobID: Int64) async {
        _ = state.withLock { $0.running.removeValue(forKey: jobID) }
    }

    public func forget(node: String) async {
        state.withLock { s in s.running = s.running.filter { $0.value.node != node } }
    }

    public func cacheSummary(node: String) -> NodeCacheSummary? { nil }

    public func stage(_ image: ImageConfig, node: String) async throws -> UInt64 {
        throw SimulatedNodeError(description: "simulated node \(node) keeps no images")
    }

    /// A simulated pooled VM is ready at once.
    public func bootPoolVM(_ spec: PoolVMSpec) async throws {
        continuation.yield(.poolVMReady(id: spec.id, time: wallClock ? WallClock.now() : now))
    }

    /// Stops the clock's ticker and the event stream. Simulated VMs do not outlive their
    /// driver: a successor reports the jobs that were running as lost.
    public func shutdown() async {
        state.withLock { s in
            s.ticker?.cancel()
            s.ticker = nil
        }
        continuation.finish()
    }

    /// The time of the next job end, if any (stepped mode).
    public var nextEventTime: Double? { state.withLock { $0.heap.peek?.time } }

    /// Advances the virtual clock to `time` and returns the ends that happened, in order.
    /// In real-time mode the same events are also yielded on `events`.
    @discardableResult
    public func advance(to time: Double) -> [DriverEvent] {
        ends(until: time).map(\.event)
    }

    /// The ends due by `time`, each with what the job leaves in its spool.
    private func ends(until time: Double) -> [(event: DriverEvent, output: SimulatedOutput?)] {
        state.withLock { s in
            var due: [(event: DriverEvent, output: SimulatedOutput?)] = []
            while let next = s.heap.peek, next.time <= time {
                s.heap.pop()
                // Cancelled jobs left their heap entry behind; skip it.
                guard let job = s.running[next.jobID], job.end == next.time, job.paused == nil else { continue }
                s.running.removeValue(forKey: next.jobID)
                due.append((.ended(jobID: next.jobID, node: job.node, outcome: next.outcome, time: next.time,
                                   usage: job.usage(until: next.time)), job.output))
            }
            s.now = max(s.now, time)
            return due
        }
    }

    /// Writes a job's output into its spool before its end is reported, as a VM's is
    /// collected; one that cannot be stored turns the end into ``JobOutcome/outputNotStored(exitCode:reason:)``.
    private static func storingOutput(_ event: DriverEvent, _ output: SimulatedOutput?) -> DriverEvent {
        guard let output, case .ended(let id, let node, let outcome, let time, let usage) = event else { return event }
        guard case .exited(let code) = outcome else {
            // Killed at its walltime: that stays the reason, whatever became of its output.
            if outcome == .walltimeExceeded { try? output.write(exitCode: nil) }
            return event
        }
        do {
            try output.write(exitCode: code)
            return event
        } catch {
            return .ended(jobID: id, node: node, outcome: .outputNotStored(exitCode: code, reason: "\(error)"), time: time,
                          usage: usage)
        }
    }

    private func ensureTicker() {
        state.withLock { s in
            guard s.ticker == nil else { return }
            s.ticker = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(20))
                    guard let self else { return }
                    for (event, output) in self.ends(until: WallClock.now()) {
                        self.continuation.yield(Self.storingOutput(event, output))
                    }
                }
            }
        }
    }
}

/// Min-heap of pending job ends.
struct EventHeap: Sendable {
    struct Entry: Sendable {
        var time: Double
        var jobID: Int64
        var outcome: JobOutcome
    }

    private var items: [Entry] = []

    var peek: Entry? { items.first }

    private func before(_ a: Int, _ b: Int) -> Bool {
        (items[a].time, items[a].jobID) < (items[b].time, items[b].jobID)
    }

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0, before(i, (i - 1) / 2) {
            items.swapAt(i, (i - 1) / 2)
            i = (i - 1) / 2
        }
    }

    @discardableResult
    mutating func pop() -> Entry? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, before(l, m) { m = l }
            if r < items.count, before(r, m) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}

/// What a simulated node cannot do.
public struct SimulatedNodeError: Error, CustomStringConvertible {
    public var description: String
}
