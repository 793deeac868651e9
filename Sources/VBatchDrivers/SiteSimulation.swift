import VBatchCore

/// A whole site on a virtual clock: the real scheduler core feeding the simulated driver.
///
/// For what-if studies and trace replays (an operator trying a queue config against a
/// workload) and for scale tests: it keeps nothing per node beyond the scheduler's own
/// state, so 10,000-node sites run in one process.
public struct SiteSimulation {
    /// A job arriving at `time`, which runs for `runtime` seconds once started.
    public struct Arrival: Sendable {
        /// Virtual submit time, seconds.
        public var time: Double
        /// What the job asks for, routed by the real `QueueRouter` on arrival.
        public var request: JobRequest
        /// The submitting user (per-user limits count by it).
        public var user: String
        /// The user's VO (queue and image grants, fair share); `nil`: a local user.
        public var vo: String?
        /// Seconds the payload runs once started (killed at the walltime if longer).
        public var runtime: Double
        /// The payload's exit code.
        public var exitCode: Int
        /// The job's number in its trace, carried into ``ReplayJob/traceID``.
        public var traceID: Int?

        /// A job submitted at `time` that runs `runtime` seconds and exits with `exitCode`.
        public init(time: Double, request: JobRequest, user: String, vo: String? = nil, runtime: Double, exitCode: Int = 0,
                    traceID: Int? = nil) {
            self.time = time
            self.request = request
            self.user = user
            self.vo = vo
            self.runtime = runtime
            self.exitCode = exitCode
            self.traceID = traceID
        }
    }

    /// What a replay did: every job's times, and the metrics over them. Waits are from
    /// submission to start, in virtual seconds, over the jobs that started.
    public struct Report: Sendable, Equatable {
        /// Every arrival, in submission order (equal times in the given order).
        public var jobs: [ReplayJob] = []
        /// Scheduling cycles run (one per distinct arrival or end time).
        public var cycles = 0
        /// Virtual time from the first arrival to the last job end.
        public var makespan: Double = 0
        /// Cores of the site (the capacity utilisation is measured against).
        public var slots = 0
        /// The metrics over all jobs.
        public var overall = ReplayMetrics()

        /// An empty report (nothing replayed).
        public init() {}

        /// Arrivals offered to the site.
        public var submitted: Int { jobs.count }
        /// Refused at submit (no destination accepts them).
        public var rejected: Int { count(.refused) }
        /// Jobs that ran to their end.
        public var completed: Int { count(.completed) }
        /// Jobs killed at their walltime.
        public var killedForWalltime: Int { count(.killed) }
        /// Jobs that started (and so ended: a replay runs every started job to its end).
        public var started: Int { completed + killedForWalltime }
        /// Accepted jobs that never started (no node could ever hold them).
        public var neverStarted: Int { count(.neverStarted) }
        /// Jobs started ahead of the reserved head job.
        public var backfilled: Int { overall.backfilled }
        public var meanWait: Double { overall.meanWait }
        public var medianWait: Double { overall.medianWait }
        public var p95Wait: Double { overall.p95Wait }
        public var maxWait: Double { overall.maxWait }
        /// Core-seconds used over core-seconds available during the makespan.
        public var utilization: Double { overall.utilization }

        /// Accepted jobs per execution queue (where routing sent them).
        public var queueJobs: [String: Int] {
            jobs.reduce(into: [:]) { counts, job in if let queue = job.queue { counts[queue, default: 0] += 1 } }
        }

        /// Rejected jobs per refusing limits (``RoutingRejection/limits``, e.g.
        /// `one-way: max_cores 2; two-way: walltime_max 1d`).
        public var rejections: [String: Int] {
            jobs.reduce(into: [:]) { counts, job in
                if job.outcome == .refused, let reason = job.reason { counts[reason, default: 0] += 1 }
            }
        }

        /// ``rejections`` from the commonest down (ties by text).
        public var commonestRejections: [(limits: String, count: Int)] {
            rejections.map { (limits: $0.key, count: $0.value) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.limits < $1.limits }
        }

        /// The metrics per value of `key` (a queue, a VO; jobs without one are left out), against
        /// the whole site's capacity: a queue's utilisation is its share of the site.
        public func metrics(by key: (ReplayJob) -> String?) -> [String: ReplayMetrics] {
            Dictionary(grouping: jobs.filter { key($0) != nil }) { key($0)! }
                .mapValues { ReplayMetrics($0, slots: slots, makespan: makespan) }
        }

        private func count(_ outcome: ReplayJob.Outcome) -> Int { jobs.count { $0.outcome == outcome } }
    }

    /// The site replayed: its nodes, queues and catalogue (node URIs are not used).
    public let configuration: Configuration

    /// A simulation of `configuration`; ``run(_:check:)`` replays arrivals on it.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Replays `arrivals` (in any order) and returns what happened. `check` is called after
    /// every cycle with the scheduler, for tests that assert invariants along the way.
    public func run(_ arrivals: [Arrival], check: ((Scheduler) -> Void)? = nil) -> Report {
        // By time, equal times in the given order (stable), so job ids follow the trace.
        let arrivals = arrivals.indices.sorted { (arrivals[$0].time, $0) < (arrivals[$1].time, $1) }.map { arrivals[$0] }
        guard let start = arrivals.first?.time else { return Report() }
        var scheduler = Scheduler(configuration: configuration, now: start)
        let router = QueueRouter(configuration: configuration)
        let driver = SimulatedDriver(clock: .manual(start: start))
        var report = Report()
        report.slots = configuration.nodes.reduce(0) { $0 + $1.slots }
        report.jobs.reserveCapacity(arrivals.count)
        // Per accepted job until it ends: its run time, exit code and row in `report.jobs`.
        var runtimes: [Int64: (runtime: Double, exit: Int, index: Int)] = [:]
        var nextArrival = 0
        var nextID: Int64 = 1
        var now = start

        while true {
            // Job ends due now.
            for case .ended(let id, _, let outcome, let time, _) in driver.advance(to: now) {
                let run = scheduler.finish(id, now: time)
                guard let index = runtimes.removeValue(forKey: id)?.index else { continue }
                report.jobs[index].end = time
                if outcome == .walltimeExceeded {
                    report.jobs[index].outcome = .killed
                    report.jobs[index].reason = "walltime of \(Quantities.formatWalltime(Int(run?.job.walltime ?? 0))) exceeded"
                }
                report.makespan = max(report.makespan, time - start)
            }
            // Arrivals due now.
            while nextArrival < arrivals.count, arrivals[nextArrival].time <= now {
                let a = arrivals[nextArrival]
                nextArrival += 1
                var job = ReplayJob(traceID: a.traceID, queue: nil, vo: a.vo, cores: a.request.cores ?? 1, submit: a.time,
                                    outcome: .neverStarted)
                let queued: (String) -> Int = { name in scheduler.queue(named: name).map { scheduler.waitingCount(queue: $0) } ?? 0 }
                let routed: RoutedJob
                switch router.route(a.request, vo: a.vo, queuedCount: queued) {
                case .success(let r): routed = r
                case .failure(let rejection):
                    job.outcome = .refused
                    job.reason = rejection.limits
                    report.jobs.append(job)
                    continue
                }
                guard let pending = scheduler.pendingJob(id: nextID, routed: routed, user: a.user, vo: a.vo, submitTime: a.time) else {
                    job.outcome = .refused
                    job.reason = "\(routed.queue): environment \(routed.environment) not in the catalogue"
                    report.jobs.append(job)
                    continue
                }
                job.queue = routed.queue
                job.cores = Int(pending.cores)
                job.reason = "no node can hold it"
                report.jobs.append(job)
                scheduler.enqueue(pending)
                runtimes[nextID] = (a.runtime, a.exitCode, report.jobs.count - 1)
                nextID += 1
            }
            let cycle = scheduler.schedule(now: now)
            report.cycles += 1
            for p in cycle.placements {
                guard let run = scheduler.runningJob(p.jobID), let info = runtimes[p.jobID] else { continue }
                report.jobs[info.index].start = now
                report.jobs[info.index].backfilled = p.backfilled
                report.jobs[info.index].outcome = .completed
                report.jobs[info.index].reason = nil
                driver.startNow(LaunchSpec(
                    jobID: p.jobID, node: configuration.nodes[p.node], cpus: p.cpus, memoryMB: Int(run.job.memoryMB),
                    walltime: Int(run.job.walltime), environment: configuration.images[Int(run.job.environment)],
                    spoolDirectory: "", simulatedRuntime: info.runtime, simulatedExitCode: info.exit))
            }
            check?(scheduler)
            // Jump to the next event.
            let nextEnd = driver.nextEventTime
            let nextIn = nextArrival < arrivals.count ? arrivals[nextArrival].time : nil
            guard let next = [nextEnd, nextIn].compactMap({ $0 }).min() else { break }
            now = max(next, now)
        }
        report.overall = ReplayMetrics(report.jobs, slots: report.slots, makespan: report.makespan)
        return report
    }
}
