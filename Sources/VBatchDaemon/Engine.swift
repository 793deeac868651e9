import Foundation
import Logging
import VBatchAPI
import VBatchCore
import VBatchDrivers
import VBatchFaults
import VBatchStore

/// The daemon's heart: owns the scheduler core, writes every decision to the store before
/// acting on it, drives the hypervisor driver and turns its events into job transitions.
///
/// All mutable state lives in this actor. The store is the truth: the engine's in-memory
/// state is rebuilt from it on start (see ``init(configuration:store:driver:spoolRoot:logger:)``).
public actor Engine {
    public nonisolated let configuration: Configuration
    let store: JobStore
    let driver: any HypervisorDriver
    nonisolated let spoolRoot: String
    let logger: Logger
    /// Prometheus metrics and `vbatch diag` figures of this daemon.
    public nonisolated let metrics: SiteMetrics
    /// When the last scheduling cycle finished.
    var lastCycleEnd: Double?
    var scheduler: Scheduler
    /// Routes submissions; its configuration carries the operators' queue settings.
    var router: QueueRouter
    /// Jobs routed to a queue whose submission is being committed (counted against max_queued).
    private var committing: [String: Int] = [:]
    /// Why a running job is being cancelled, until its VM is gone.
    var cancelReasons: [Int64: String] = [:]
    /// Why a running job is being stopped to run again from the start (preemption, drain).
    var requeueReasons: [Int64: String] = [:]
    /// Jobs whose VM is being suspended, resumed, saved or migrated (one move at a time).
    var moving: Set<Int64> = []
    /// When each suspended job was suspended.
    var suspendedSince: [Int64: Double] = [:]
    /// Jobs whose VM is being restored: the node it was saved on, and the walltime it had used.
    var restoring: [Int64: (source: String, walltimeUsed: Double)] = [:]
    /// After a restart: jobs whose save was under way, and whether it was to hold them.
    var savingHeld: [Int64: Bool] = [:]
    /// After a restart: jobs whose VM the driver has not found again yet; no move touches them.
    var awaitingReattach: Set<Int64> = []
    /// Failed start attempts of active jobs (only jobs that had one).
    var attempts: [Int64: Int] = [:]
    /// Per node: reachable or not, drained, fenced, taken out after start failures.
    var nodeStatus: [NodeStatus]
    /// Why a queue is disabled or stopped at run time.
    var queueNotes: [String: String] = [:]
    /// Transitions the store refused (its filesystem full), oldest first, kept until it
    /// records them (Engine+Recording.swift).
    var unrecorded: [Transition] = []
    /// Since when the store has refused to record transitions, if it does.
    var storeRefusingSince: Double?
    private let cycleContinuation: AsyncStream<Void>.Continuation
    /// One element whenever a scheduling cycle is wanted; bursts collapse into one.
    public nonisolated let cycleRequests: AsyncStream<Void>

    /// Opens the engine and rebuilds its state from the store: operators' run-time settings
    /// apply again, waiting jobs are queued again, jobs whose VMs still run are re-adopted,
    /// jobs whose VMs vanished are requeued or failed, and VMs the store does not know are removed.
    ///
    /// `driverNodes` are the nodes as the driver connects to them (TLS options added to URIs);
    /// by default the configuration's.
    public init(configuration: Configuration, store: JobStore, driver: any HypervisorDriver, spoolRoot: String,
                logger: Logger, driverNodes: [NodeConfig]? = nil, metrics: SiteMetrics = SiteMetrics()) async throws {
        self.configuration = configuration
        self.metrics = metrics
        self.store = store
        self.driver = driver
        self.spoolRoot = spoolRoot
        self.logger = logger
        let now = WallClock.now()
        scheduler = Scheduler(configuration: configuration, now: now)
        router = QueueRouter(configuration: configuration)
        (cycleRequests, cycleContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        nodeStatus = configuration.nodes.map { NodeStatus(drained: $0.enabled ? nil : "disabled in the site file") }
        try applyAdminSettings()
        for node in configuration.nodes.indices { refreshNode(node) }
        try await rebuild(now: now, driverNodes: driverNodes ?? configuration.nodes)
    }

    // MARK: - Rebuild

    /// Queues the waiting jobs again and gives every job that had a VM back its slots, then
    /// hands those to the driver, which connects to the nodes in the background: per node, a
    /// VM found running is re-adopted (`.reattached`), one found gone ends with its output, and
    /// VMs of jobs the store does not run there are destroyed. Nothing here waits for a node.
    private func rebuild(now: Double, driverNodes: [NodeConfig]) async throws {
        let active = try store.activeJobs()
        var transitions: [Transition] = []
        var adopted: [AdoptedJob] = []
        var saved: [SavedJob] = []
        for job in active {
            if job.attempts > 0 { attempts[job.id] = job.attempts }
            guard let q = scheduler.queue(named: job.queue), let e = scheduler.environment(named: job.environment) else {
                transitions.append(Transition(id: job.id, state: .failed, time: now,
                                              reason: "queue \(job.queue) or environment \(job.environment) is no longer configured"))
                continue
            }
            let pending = PendingJob(id: job.id, submitTime: job.submitTime, queue: q, environment: e,
                                     user: scheduler.user(named: job.owner), vo: scheduler.vo(named: job.vo),
                                     cores: Int32(job.cores), memoryMB: Int32(job.memoryMB), walltime: Int32(job.walltime),
                                     held: job.state == .held || job.state == .saved)
            let savedOn = job.savedNode.flatMap { scheduler.node(named: $0) }
            if let savedNode = job.savedNode { saved.append(SavedJob(jobID: job.id, node: savedNode)) }
            switch job.state {
            case .queued, .held, .saved:
                if let savedOn, let start = job.startTime {
                    let used = (job.pausedSince ?? now) - start - job.pausedSeconds
                    scheduler.enqueue(Scheduler.saved(pending, on: savedOn, walltimeUsed: used, held: pending.held))
                } else if job.savedNode != nil {
                    // Saved on a node no longer configured: it runs again from the start.
                    transitions.append(Transition(id: job.id, state: job.state == .saved ? .held : .queued, time: now,
                                                  reason: "its VM was saved on \(job.savedNode!), no longer configured; it runs again from the start"))
                    scheduler.enqueue(pending)
                } else {
                    scheduler.enqueue(pending)
                }
            case .starting, .running, .suspended:
                // Whether its VM still runs or ended while the daemon was down, the job keeps
                // its slots until the driver tells (re-adopted, or ended with its output).
                guard let nodeName = job.node, let node = scheduler.node(named: nodeName),
                      let slots = slotIndices(cpus: job.cpus ?? [], node: node), slots.count == job.cores else {
                    let transition = retryOrFail(job.id, node: job.node ?? "?", reason: "its node or CPUs are no longer configured",
                                                 now: now)
                    if transition.state == .queued { scheduler.enqueue(pending) }
                    transitions.append(transition)
                    continue
                }
                let startedAt = job.walltimeStart(now: now) ?? now
                scheduler.adopt(pending, node: node, slots: slots, startTime: startedAt)
                // Its walltime start already counts the pause until now (as the agent's suspendedAt does).
                if job.state == .suspended { suspendedSince[job.id] = now }
                var move: VMMove?
                switch job.move {
                case .save(let held)?:
                    move = .saving
                    savingHeld[job.id] = held
                case .migrate(let target, let cpus)?:
                    if let t = scheduler.node(named: target), let targetSlots = slotIndices(cpus: cpus, node: t),
                       scheduler.bookMove(job.id, node: t, slots: targetSlots) {
                        move = .migrating(to: target, cpus: cpus)
                    }
                case .restore?, nil:
                    if job.state == .starting, let source = job.savedNode {
                        move = .restoring(from: source)
                        restoring[job.id] = (source, max(0, now - startedAt))
                    }
                }
                if let spec = launchSpec(job.id) {
                    adopted.append(AdoptedJob(spec: spec, startedAt: startedAt, suspended: job.state == .suspended, move: move))
                    awaitingReattach.insert(job.id)
                }
                if job.state == .running, job.move == nil { scheduler.setPreemptible(job.id, true) }
            default:
                break
            }
        }
        let halfLife = Double(configuration.site.fairShareHalfLife)
        for usage in try store.finishedUsage(since: now - 10 * halfLife) {
            scheduler.recordPastUsage(vo: usage.vo, coreSeconds: usage.coreSeconds, endedAgo: now - usage.endTime)
        }
        record(transitions)
        logger.info("state rebuilt: \(scheduler.pendingCount) waiting, \(scheduler.runningCount) running")
        await driver.begin(nodes: driverNodes, adopting: adopted, saved: saved)
        requestCycle()
    }

    private func slotIndices(cpus: [Int], node: Int) -> [Int]? {
        let hostCPUs = configuration.nodes[node].cpus
        let slots = cpus.compactMap { hostCPUs.firstIndex(of: $0) }
        return slots.count == cpus.count ? slots : nil
    }

    // MARK: - Submissions

    /// Validates, routes and durably records a submission; returns once it is on disk.
    public func submit(_ request: SubmitRequest, caller: Caller) async throws -> SubmitResponse {
        if let problem = InputLimits.problem(with: request) { throw EngineError.badRequest(problem) }
        let jobRequest = JobRequest(queue: request.queue, cores: request.cores, memoryMB: request.memoryMB,
                                    walltime: request.walltime, environment: request.environment)
        let routed: RoutedJob
        switch router.route(jobRequest, vo: caller.vo, count: request.count, queuedCount: queuedCount) {
        case .success(let r): routed = r
        case .failure(let rejection): throw EngineError.badRequest(rejection.description)
        }
        let now = WallClock.now()
        let submission = NewSubmission(
            name: request.name ?? "job", owner: caller.user, uid: caller.uid, vo: caller.vo, submitQueue: request.queue,
            queue: routed.queue, environment: routed.environment, cores: routed.cores, memoryMB: routed.memoryMB,
            walltime: routed.walltime, script: request.script, arguments: request.arguments,
            variables: request.variables, count: request.count, held: request.held, submitTime: now)
        committing[routed.queue, default: 0] += request.count
        let ids: [Int64]
        do {
            ids = try await store.submit(submission)
        } catch {
            committing[routed.queue, default: 0] -= request.count
            logger.error("submission not recorded: \(error)")
            throw refusal(error, "submission")
        }
        committing[routed.queue, default: 0] -= request.count
        CrashPoint.committed.reach()
        metrics.submitted(queue: routed.queue, count: ids.count)
        for id in ids {
            if let job = scheduler.pendingJob(id: id, routed: routed, user: caller.user, vo: caller.vo, submitTime: now,
                                              held: request.held) {
                scheduler.enqueue(job)
            }
        }
        requestCycle()
        return SubmitResponse(ids: ids, queue: routed.queue)
    }

    private func queuedCount(_ queue: String) -> Int {
        (scheduler.queue(named: queue).map { scheduler.waitingCount(queue: $0) } ?? 0) + committing[queue, default: 0]
    }

    // MARK: - Job control

    func authorizedJob(_ id: Int64, caller: Caller) throws -> JobInfo {
        guard let job = try store.job(id) else { throw EngineError.notFound("job \(id) does not exist") }
        guard job.owner == caller.user || caller.isOperator else {
            throw EngineError.forbidden("job \(id) belongs to another user")
        }
        return job
    }

    public func job(_ id: Int64, caller: Caller) throws -> JobDetail {
        let job = try authorizedJob(id, caller: caller)
        var waiting = scheduler.waitingReason(id, now: WallClock.now())
        if job.state == .queued, let saved = job.savedNode, let reason = waiting {
            waiting = "its VM is saved on \(saved) and resumes where it fits; \(reason)"
        }
        let stored = try store.history(id)
        let (known, history) = withUnrecorded(job, history: stored)
        return JobDetail(job: known, history: history, waiting: waiting, node: nodeNote(ofJob: id))
    }

    /// Cancels a job: a waiting job at once, a running one by destroying its VM.
    public func cancel(_ id: Int64, caller: Caller) async throws -> JobInfo {
        let job = try authorizedJob(id, caller: caller)
        guard !job.state.isTerminal else { throw EngineError.conflict("job \(id) has already ended (\(job.state.rawValue))") }
        let reason = "cancelled by \(caller.user)"
        if let pending = scheduler.removePending(id) {
            try recordOrRefuse([Transition(id: id, state: .cancelled, time: WallClock.now(), reason: reason)], "cancellation") {
                scheduler.enqueue(pending)
            }
            metrics.ended(queue: job.queue, outcome: JobState.cancelled.rawValue)
            if let node = job.savedNode { await driver.discard(savedJob: id, node: node) }
        } else if scheduler.runningJob(id) != nil {
            cancelReasons[id] = reason
            await driver.cancel(jobID: id)
        }
        return try store.job(id) ?? job
    }

    /// Holds a job: a waiting one keeps its place but is never started until released; a
    /// running (or suspended) one is saved and stays `saved` until released (as Torque's
    /// `qhold` checkpoints a running job).
    public func hold(_ id: Int64, caller: Caller) async throws -> JobInfo {
        let job = try authorizedJob(id, caller: caller)
        if job.state == .running || job.state == .suspended { return try await checkpoint(id, caller: caller) }
        guard job.state == .queued, scheduler.setHeld(id, true) else {
            throw EngineError.conflict("job \(id) is \(job.state.rawValue); only queued, running or suspended jobs can be held")
        }
        let transition = job.savedNode.map {
            Transition(id: id, state: .saved, time: WallClock.now(), reason: "held by \(caller.user); its VM stays saved on \($0)",
                       savedNode: $0)
        } ?? Transition(id: id, state: .held, time: WallClock.now(), reason: "held by \(caller.user)")
        try recordOrRefuse([transition], "hold") { _ = scheduler.setHeld(id, false) }
        return try store.job(id) ?? job
    }

    public func release(_ id: Int64, caller: Caller) throws -> JobInfo {
        let job = try authorizedJob(id, caller: caller)
        if job.state == .saved { return try releaseSaved(job, caller: caller) }
        guard job.state == .held, scheduler.setHeld(id, false) else {
            throw EngineError.conflict("job \(id) is \(job.state.rawValue); only held or saved jobs can be released")
        }
        try recordOrRefuse([Transition(id: id, state: .queued, time: WallClock.now(), reason: "released by \(caller.user)")],
                           "release") { _ = scheduler.setHeld(id, true) }
        requestCycle()
        return try store.job(id) ?? job
    }

    // MARK: - Output

    /// Largest stream `output` returns inline; longer ones are cut to their last bytes.
    public static let maxInlineStream = 8 << 20

    /// The streams, exit code and output files a job left in its spool; each stream cut to
    /// its last `maxStreamBytes`.
    public func output(_ id: Int64, caller: Caller, maxStreamBytes: Int = Engine.maxInlineStream) throws -> JobOutput {
        let job = try authorizedJob(id, caller: caller)
        let spool = spoolDirectory(id)
        func stream(_ name: String) -> String { Self.tail(of: spool + "/" + name, maxBytes: maxStreamBytes) ?? "" }
        var files: [String] = []
        if let walker = FileManager.default.enumerator(atPath: spool + "/output") {
            for case let path as String in walker {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: spool + "/output/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                    files.append("output/" + path)
                }
            }
        }
        return JobOutput(id: id, state: job.state, exitCode: job.exitCode, stdout: stream("stdout"), stderr: stream("stderr"),
                         files: files.sorted(), spoolDirectory: spool)
    }

    /// The last `maxBytes` of a regular file (never through a symbolic link) as text, saying
    /// how much was cut; nil when there is no such file.
    static func tail(of path: String, maxBytes: Int) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
              let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > UInt64(maxBytes) ? size - UInt64(maxBytes) : 0
        try? handle.seek(toOffset: start)
        let data = (try? handle.readToEnd()) ?? Data()
        return (start > 0 ? "[vbatch: first \(start) bytes cut]\n" : "") + String(decoding: data, as: UTF8.self)
    }

    /// One file of a job's spool: `output/…`, `stdout`, `stderr`, `agent.log` or `console.log`.
    public func file(_ id: Int64, path: String, caller: Caller) throws -> [UInt8] {
        _ = try authorizedJob(id, caller: caller)
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = ["stdout", "stderr", "agent.log", "console.log"].contains(path)
            || (components.first == "output" && components.count > 1 && components.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." })
        guard allowed, !path.utf8.contains(0), path.utf8.count < 4096 else {
            throw EngineError.badRequest("file must be stdout, stderr, agent.log, console.log or output/…")
        }
        let full = spoolDirectory(id) + "/" + path
        var st = stat()
        guard lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw EngineError.notFound("job \(id) has no file \(path)")
        }
        guard let data = FileManager.default.contents(atPath: full) else { throw EngineError.notFound("job \(id) has no file \(path)") }
        return Array(data)
    }

    // MARK: - Listings

    /// Active jobs as JSON bytes (the hot path of `vbatch status --all --json`).
    public func activeJobsJSON(caller: Caller, all: Bool) throws -> [UInt8] {
        if all, !caller.isOperator { throw EngineError.forbidden("only operators may list every user's jobs") }
        return try store.jobsJSON(owner: all ? nil : caller.user, active: true, limit: nil)
    }

    /// Finished jobs as JSON bytes, newest first: at most `limit` (default 100), ended at or
    /// after `since` if given.
    public func history(caller: Caller, all: Bool, limit: Int?, since: Double? = nil) throws -> [UInt8] {
        if all, !caller.isOperator { throw EngineError.forbidden("only operators may list every user's jobs") }
        return try store.jobsJSON(owner: all ? nil : caller.user, active: false, limit: limit ?? 100, endedSince: since)
    }

    /// Accounting records of jobs that ended in `[since, until)`: the caller's own, or with
    /// `all` (operators only) everyone's, with the site identity an APEL export needs.
    public func accounting(caller: Caller, since: Double, until: Double, all: Bool) throws -> AccountingReport {
        try checkAccountingRequest(caller: caller, since: since, until: until, all: all)
        let records = try store.accountingRecords(since: since, until: until, owner: all ? nil : caller.user)
        let settings = configuration.site.accounting
        let host = ProcessInfo.processInfo.hostName
        return AccountingReport(since: since, until: until, records: records, site: settings.site ?? configuration.site.name,
                                submitHost: settings.submitHost ?? host, machineName: host,
                                benchmarkType: settings.benchmarkType, benchmark: settings.benchmark,
                                infrastructure: settings.infrastructure)
    }

    /// The same records summed per `grouping` (in the store, without shipping them).
    public func accountingSummary(caller: Caller, since: Double, until: Double, all: Bool,
                                  by grouping: AccountingSummary.Grouping) throws -> AccountingSummary {
        try checkAccountingRequest(caller: caller, since: since, until: until, all: all)
        return try store.accountingSummary(since: since, until: until, owner: all ? nil : caller.user, by: grouping)
    }

    private func checkAccountingRequest(caller: Caller, since: Double, until: Double, all: Bool) throws {
        if all, !caller.isOperator { throw EngineError.forbidden("only operators may read every user's accounting") }
        guard since <= until else { throw EngineError.badRequest("since must not be after until") }
    }

    public func queues() -> [QueueInfo] {
        router.configuration.queues.map { queue in
            switch queue {
            case .routing(let r):
                return QueueInfo(name: r.name, kind: "routing", description: r.description, enabled: r.enabled, started: true,
                                 destinations: r.destinations, queued: 0, running: 0, note: queueNotes[r.name])
            case .execution(let e):
                let q = scheduler.queue(named: e.name)!
                return QueueInfo(name: e.name, kind: "execution", description: e.description, enabled: e.enabled,
                                 started: e.started, priority: e.priority, environments: e.environments,
                                 walltimeMax: e.walltimeMax, walltimeDefault: e.walltimeDefault, maxCores: e.maxCores,
                                 maxMemoryMB: e.maxMemoryMB, vos: e.vos, nodes: e.nodes, maxJobsPerNode: e.maxJobsPerNode,
                                 maxRunning: e.maxRunning, maxQueued: e.maxQueued, maxRunningPerUser: e.maxRunningPerUser,
                                 queued: scheduler.waitingCount(queue: q), held: scheduler.heldCount(queue: q),
                                 running: scheduler.runningCount(queue: q),
                                 note: queueNotes[e.name])
            }
        }
    }

    public func nodes() -> [NodeInfo] {
        configuration.nodes.enumerated().map { i, node in
            NodeInfo(name: node.name, uri: node.uri, slots: node.slots, freeSlots: scheduler.freeSlotCount(node: i),
                     memoryMB: node.memoryMB, freeMemoryMB: scheduler.freeMemoryMB(node: i),
                     enabled: nodeStatus[i].drained == nil && nodeStatus[i].failedOut == nil,
                     environments: node.environments,
                     jobs: scheduler.runningJobs(node: i).sorted(),
                     note: [nodeStatus[i].note, drainProgress(i)].compactMap { $0 }.joined(separator: "; ").nonEmpty,
                     pools: scheduler.poolVMs(node: i).map { p in
                         let pool = configuration.pools[p.pool]
                         return PoolInfo(name: pool.name, environment: pool.environment, size: pool.size, idle: p.idle,
                                         booting: p.booting)
                     },
                     link: nodeStatus[i].linkName, fenced: nodeStatus[i].fenced != nil,
                     cache: driver.cacheSummary(node: node.name).map {
                         NodeCacheInfo(images: $0.images, bytes: $0.bytes, capBytes: $0.capBytes, uploads: $0.uploads,
                                       transfers: $0.transfers)
                     })
        }
    }

    public var pendingCount: Int { scheduler.pendingCount }
    public var runningCount: Int { scheduler.runningCount }

    // MARK: - Scheduling

    public nonisolated func requestCycle() { cycleContinuation.yield() }

    /// Runs one scheduling cycle: decisions are recorded durably, then carried out.
    public func runCycle() async {
        let began = ContinuousClock.now
        let now = WallClock.now()
        recordKept()
        await settleLostJobs(now: now)
        let result = scheduler.schedule(now: now)
        defer {
            lastCycleEnd = WallClock.now()
            metrics.cycle(ContinuousClock.now - began, placements: result.placements.count,
                          backfilled: result.placements.filter(\.backfilled).count, preemptions: result.preemptions.count,
                          at: lastCycleEnd!)
        }
        if !result.placements.isEmpty {
            let transitions = result.placements.map { p in
                let source = p.restoreFrom.map { configuration.nodes[$0].name }
                return Transition(id: p.jobID, state: .starting, time: now,
                                  reason: (source.map { "restoring its VM saved on \($0): " } ?? "")
                                      + "placed on \(p.nodeName) (cpus \(p.cpus.map(String.init).joined(separator: ",")))"
                                      + (p.pooledVM.map { " in pooled VM \($0)" } ?? "") + (p.backfilled ? " by backfill" : ""),
                                  node: p.nodeName, cpus: p.cpus, savedNode: source, move: source.map { _ in .restore })
            }
            do {
                try recordNow(transitions)
                CrashPoint.placed.reach()
                for p in result.placements {
                    countStart(p, now: now)
                    launch(p, now: now)
                }
            } catch {
                // Logged once per episode by recordNow; they are placed again once the store records.
                for p in result.placements { scheduler.requeue(p.jobID, now: now) }
            }
        }
        if !result.preemptions.isEmpty {
            Task {
                for preemption in result.preemptions { await self.preempt(preemption) }
            }
        }
        refillPools()
    }

    /// Boots the pooled VMs the pools are missing, with the slots the cycle left free.
    private func refillPools() {
        for vm in scheduler.poolVMsToStart() {
            let pool = configuration.pools[vm.pool]
            guard let image = configuration.image(named: pool.environment) else { continue }
            let outputSize = configuration.executionQueues.filter { $0.environments.contains(pool.environment) }
                .map(\.outputSizeMB).max() ?? ExecutionQueue.defaultOutputSizeMB
            let spec = PoolVMSpec(id: vm.id, node: configuration.nodes[vm.node], cpus: vm.cpus, memoryMB: pool.memoryMB,
                                  environment: image, spoolDirectory: "\(spoolRoot)/pool-\(vm.id)", outputDiskMB: outputSize)
            let driver = self.driver
            Task {
                do {
                    try await driver.bootPoolVM(spec)
                } catch {
                    await self.handle(.poolVMGone(id: spec.id, reason: "boot failed: \(error)", time: WallClock.now()))
                }
            }
        }
    }

    private func launch(_ placement: Placement, now: Double) {
        guard var spec = launchSpec(placement.jobID) else {
            Task { await self.handle(.ended(jobID: placement.jobID, node: placement.nodeName,
                                            outcome: .startFailed(reason: "its payload is missing from the store"), time: WallClock.now())) }
            return
        }
        spec.pooledVM = placement.pooledVM
        if let source = placement.restoreFrom, let run = scheduler.runningJob(placement.jobID) {
            spec.walltimeUsed = max(0, now - run.startTime)
            return launchRestore(spec, from: configuration.nodes[source].name)
        }
        let driver = self.driver
        Task {
            do {
                try await driver.start(spec)
            } catch let failure as ImageCheck.Failure {
                // A bad image fails every attempt on every node: no retry, no blame on the node.
                self.fail(spec.jobID, reason: "\(failure)")
            } catch {
                await self.handle(.ended(jobID: spec.jobID, node: spec.node.name, outcome: .startFailed(reason: "\(error)"),
                                         time: WallClock.now()))
            }
        }
    }

    /// What the driver needs to run a job that holds slots: node, CPUs, image, payload.
    func launchSpec(_ id: Int64) -> LaunchSpec? {
        guard let run = scheduler.runningJob(id), let payload = try? store.script(id), let name = try? store.job(id)?.name
        else { return nil }
        let node = configuration.nodes[run.node]
        return LaunchSpec(
            jobID: id, node: node, cpus: run.slots.map { node.cpus[$0] }, memoryMB: Int(run.job.memoryMB),
            walltime: Int(run.job.walltime), environment: configuration.images[Int(run.job.environment)],
            spoolDirectory: spoolDirectory(id),
            payload: JobPayload(name: name, script: payload.script, arguments: payload.arguments, variables: payload.variables),
            outputDiskMB: scheduler.queues[Int(run.job.queue)].outputSizeMB,
            simulatedRuntime: payload.variables["VBATCH_SIM_RUNTIME"].flatMap(Double.init),
            simulatedExitCode: payload.variables["VBATCH_SIM_EXIT"].flatMap { Int($0) },
            simulatedOutputBytes: payload.variables["VBATCH_SIM_OUTPUT"].flatMap { Int($0) })
    }

    private func spoolDirectory(_ id: Int64) -> String { "\(spoolRoot)/\(id)" }

    /// Applies one driver event to the scheduler and the store.
    public func handle(_ event: DriverEvent) async {
        switch event {
        case .poolVMReady(let id, _):
            scheduler.poolVMReady(id)
            if let vm = scheduler.poolVM(id) { nodeStatus[vm.node].consecutiveStartFailures = 0 }
            requestCycle()
        case .poolVMGone(let id, let reason, _):
            guard let vm = scheduler.releasePoolVM(id) else { return }
            logger.warning("pooled VM \(id) on \(configuration.nodes[vm.node].name) is gone: \(reason)")
            if !vm.ready { countStartFailure(node: vm.node, reason: reason) }
            requestCycle()
        case .running(let id, let nodeName, let time):
            guard let run = scheduler.runningJob(id), configuration.nodes[run.node].name == nodeName else { return }
            nodeStatus[run.node].consecutiveStartFailures = 0
            if let restore = restoring.removeValue(forKey: id) {
                record(Transition(id: id, state: .running, time: time,
                                  reason: "VM restored on \(nodeName)" + (restore.source == nodeName ? "" : " from \(restore.source)")
                                      + " with \(Quantities.formatWalltime(Int(restore.walltimeUsed))) of walltime used"))
            } else {
                record(Transition(id: id, state: .running, time: time, reason: "VM running on \(nodeName)"))
                CrashPoint.running.reach()
                metrics.vmRunning(vm: run.pooled ? .pooled : .onDemand, after: time - run.startTime)
            }
            scheduler.setPreemptible(id, true)
            // Cancelled while its VM was still being created: destroy it now.
            if cancelReasons[id] != nil { await driver.cancel(jobID: id) }
        case .reattached(let id, let nodeName, let time):
            guard let run = scheduler.runningJob(id), configuration.nodes[run.node].name == nodeName,
                  let job = try? store.job(id) else { return }
            let state: JobState = job.state == .starting ? .running : job.state
            var reason = "VM re-adopted on \(nodeName) after vbatchd restarted"
            if let restore = restoring.removeValue(forKey: id) {
                reason = "VM restored on \(nodeName) (the restore under way when vbatchd stopped completed)"
                // The saved copy goes (on the same node: only its state file).
                await driver.discard(savedJob: id, node: restore.source)
            } else if run.moveTarget != nil {
                scheduler.cancelMove(id)
                reason += "; the live migration under way then did not complete"
            } else if savingHeld[id] != nil {
                // Kept: libvirt may still be writing the save, and then the VM stops as saved.
                reason += "; the save under way then had not completed"
            }
            record(Transition(id: id, state: state, time: time, reason: reason))
            scheduler.setPreemptible(id, state == .running)
            awaitingReattach.remove(id)
            if cancelReasons[id] != nil { await driver.cancel(jobID: id) }
            // A drain that empties this node waited for the job's VM to be found again.
            if let mode = nodeStatus[run.node].drainMode, mode != .finish {
                let node = run.node
                Task { await self.emptyNode(node) }
            }
        case .saved(let id, let nodeName, let time):
            guard let run = scheduler.runningJob(id), configuration.nodes[run.node].name == nodeName else { return }
            awaitingReattach.remove(id)
            let held = savingHeld.removeValue(forKey: id) ?? false
            let used = (suspendedSince.removeValue(forKey: id) ?? time) - run.startTime
            scheduler.park(id, savedOn: run.node, walltimeUsed: used, held: held, now: time)
            record(Transition(id: id, state: held ? .saved : .queued, time: time,
                              reason: "VM saved on \(nodeName) (the save under way when vbatchd stopped completed)", savedNode: nodeName))
            requestCycle()
        case .migrated(let id, let nodeName, let time):
            guard let run = scheduler.runningJob(id), let target = run.moveTarget, target.nodeName == nodeName else { return }
            awaitingReattach.remove(id)
            scheduler.completeMove(id)
            scheduler.setPreemptible(id, true)
            record(Transition(id: id, state: .running, time: time,
                              reason: "migrated live to \(nodeName) (the migration under way when vbatchd stopped completed)",
                              node: nodeName, cpus: target.cpus))
            requestCycle()
        case .nodeUp(let name, _):
            nodeUp(name)
        case .nodeUnreachable(let name, let reason, let time):
            nodeUnreachable(name, reason: reason, time: time)
        case .ended(let id, let nodeName, let outcome, let time, let usage):
            // An event of an earlier run of the job (its node was fenced) is not this run's end.
            guard let run = scheduler.runningJob(id), configuration.nodes[run.node].name == nodeName else { return }
            CrashPoint.ended.reach()
            awaitingReattach.remove(id)
            let node = nodeName
            func ending(_ state: JobState, _ reason: String, exitCode: Int? = nil) -> Transition {
                Transition(id: id, state: state, time: time, reason: reason, exitCode: exitCode,
                           cpuTime: usage?.cpuSeconds, maxRSSKiB: usage?.maxRSSKiB)
            }
            switch outcome {
            case .exited(let code):
                finish(id, time, ending(.completed, "exited with code \(code)", exitCode: code))
            case .walltimeExceeded:
                finish(id, time, ending(.failed, "killed: walltime of \(Quantities.formatWalltime(Int(run.job.walltime))) exceeded"))
            case .outputNotStored(let code, let reason):
                finish(id, time, ending(.failed, (code.map { "exited with code \($0), but " } ?? "")
                    + "its output could not be stored in the spool: \(reason)", exitCode: code))
            case .cancelled:
                if let requeue = requeueReasons.removeValue(forKey: id), cancelReasons[id] == nil {
                    countOutcome(.queued, queue: run.job.queue)
                    scheduler.requeue(id, now: time)
                    attempts[id] = nil
                    record(Transition(id: id, state: .queued, time: time, reason: requeue, cpuTime: usage?.cpuSeconds,
                                      maxRSSKiB: usage?.maxRSSKiB))
                } else {
                    finish(id, time, ending(.cancelled, cancelReasons.removeValue(forKey: id) ?? "cancelled"))
                }
            case .startFailed(let reason) where restoring[id] != nil:
                let restore = restoring.removeValue(forKey: id)!
                restoreFailed(id, run: run, source: restore.source, walltimeUsed: restore.walltimeUsed, reason: reason, time: time)
            case .startFailed(let reason), .lost(let reason):
                if case .startFailed = outcome { countStartFailure(node: run.node, reason: reason) }
                var transition = retryOrFail(id, node: node, reason: reason, now: time)
                transition.cpuTime = usage?.cpuSeconds
                transition.maxRSSKiB = usage?.maxRSSKiB
                countOutcome(transition.state, queue: run.job.queue)
                if transition.state == .queued { scheduler.requeue(id, now: time) } else { scheduler.finish(id, now: time) }
                record(transition)
            }
            requestCycle()
        }
    }

    private func fail(_ id: Int64, reason: String) {
        let now = WallClock.now()
        finish(id, now, Transition(id: id, state: .failed, time: now, reason: reason))
        requestCycle()
    }

    func finish(_ id: Int64, _ time: Double, _ transition: Transition) {
        if let run = scheduler.runningJob(id) { countOutcome(transition.state, queue: run.job.queue) }
        scheduler.finish(id, now: time)
        attempts[id] = nil
        awaitingReattach.remove(id)
        savingHeld[id] = nil
        suspendedSince[id] = nil
        requeueReasons[id] = nil
        record(transition)
    }

    /// A node whose VMs keep failing to start is taken out of service until an operator
    /// resumes it (or the daemon restarts).
    private func countStartFailure(node: Int, reason: String) {
        nodeStatus[node].consecutiveStartFailures += 1
        let failures = nodeStatus[node].consecutiveStartFailures
        guard failures >= configuration.site.maxNodeFailures, nodeStatus[node].failedOut == nil,
              nodeStatus[node].link == .up else { return }
        let note = "out of service after \(failures) consecutive VM start failures (last: \(reason))"
        nodeStatus[node].failedOut = note
        refreshNode(node)
        logger.error("node \(configuration.nodes[node].name) \(note)")
    }

    /// Counts a failed start; the job goes back to the queue until the site's limit is reached.
    func retryOrFail(_ id: Int64, node: String, reason: String, now: Double) -> Transition {
        let attempt = attempts[id, default: 0] + 1
        let limit = configuration.site.maxStartAttempts
        if attempt < limit {
            attempts[id] = attempt
            return Transition(id: id, state: .queued, time: now,
                              reason: "start on \(node) failed (attempt \(attempt) of \(limit)): \(reason); back in the queue",
                              attemptsDelta: 1)
        }
        attempts[id] = nil
        return Transition(id: id, state: .failed, time: now,
                          reason: "start failed \(attempt) times, last on \(node): \(reason)", attemptsDelta: 1)
    }

    /// Counts a start in the metrics: its kind of VM and how long the job waited.
    private func countStart(_ placement: Placement, now: Double) {
        guard let run = scheduler.runningJob(placement.jobID) else { return }
        let kind: SiteMetrics.VMKind = placement.restoreFrom != nil ? .restored : placement.pooledVM != nil ? .pooled : .onDemand
        metrics.started(queue: scheduler.queues[Int(run.job.queue)].name, vm: kind, waited: now - run.job.submitTime)
    }

    /// Counts a run's end in the metrics: its terminal state, or `requeued` when it goes back to its queue.
    func countOutcome(_ state: JobState, queue: Int32) {
        metrics.ended(queue: scheduler.queues[Int(queue)].name,
                      outcome: state == .queued || state == .held ? "requeued" : state.rawValue)
    }
}

extension String {
    /// Nil for the empty string.
    var nonEmpty: String? { isEmpty ? nil : self }
}
