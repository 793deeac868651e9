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

        /// A job submitted at `time` that runs `runtime` seconds and exits with `exitCode`.
        public init(time: Double, request: JobRequest, user: String, vo: String? = nil, runtime: Double, exitCode: Int = 0) {
            self.time = time
            self.request = request
            self.user = user
            self.vo = vo
            self.runtime = runtime
            self.exitCode = exitCode
        }
    }

    /// What a replay did. Waits are from submission to start, in virtual seconds, over the
    /// jobs that started.
    public struct Report: Sendable, Equatable {
        /// Arrivals offered to the site.
        public var submitted = 0
        /// Refused at submit (no destination accepts them).
        public var rejected = 0
        /// Jobs that ran to their end.
        public var completed = 0
        /// Jobs killed at their walltime.
        public var killedForWalltime = 0
        /// Jobs started ahead of the reserved head job.
        public var backfilled = 0
        /// Scheduling cycles run (one per distinct arrival or end time).
        public var cycles = 0
        /// Virtual time from the first arrival to the last job end.
        public var makespan: Double = 0
        /// The mean wait.
        public var meanWait: Double = 0
        /// The median wait (the mean of the middle two for an even count).
        public var medianWait: Double = 0
        /// The 95th percentile wait (nearest rank: 95% of the started jobs waited at most this).
        public var p95Wait: Double = 0
        /// The longest wait.
        public var maxWait: Double = 0
        /// Core-seconds used over core-seconds available during the makespan.
        public var utilization: Double = 0
        /// Accepted jobs per execution queue (where routing sent them).
        public var queueJobs: [String: Int] = [:]
        /// Rejected jobs per refusing limits (``RoutingRejection/limits``, e.g.
        /// `one-way: max_cores 2; two-way: walltime_max 1d`).
        public var rejections: [String: Int] = [:]

        /// An empty report (nothing replayed).
        public init() {}

        /// Jobs that started (and so ended: a replay runs every started job to its end).
        public var started: Int { completed + killedForWalltime }

        /// Accepted jobs that never started (no node could ever hold them).
        public var neverStarted: Int { submitted - rejected - completed - killedForWalltime }

        /// ``rejections`` from the commonest down (ties by text).
        public var commonestRejections: [(limits: String, count: Int)] {
            rejections.map { (limits: $0.key, count: $0.value) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.limits < $1.limits }
        }
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
        var runtimes: [Int64: (runtime: Double, exit: Int, submitted: Double)] = [:]
        var nextArrival = 0
        var nextID: Int64 = 1
        var now = start
        var waits: [Double] = []
        waits.reserveCapacity(arrivals.count)
        var busyCoreSeconds = 0.0

        while true {
            // Job ends due now.
            for case .ended(let id, _, let outcome, let time, _) in driver.advance(to: now) {
                if let run = scheduler.finish(id, now: time) {
                    busyCoreSeconds += Double(run.job.cores) * (time - run.startTime)
                }
                if outcome == .walltimeExceeded { report.killedForWalltime += 1 } else { report.completed += 1 }
                report.makespan = max(report.makespan, time - start)
            }
            // Arrivals due now.
            while nextArrival < arrivals.count, arrivals[nextArrival].time <= now {
                let a = arrivals[nextArrival]
                nextArrival += 1
                report.submitted += 1
                let queued: (String) -> Int = { name in scheduler.queue(named: name).map { scheduler.waitingCount(queue: $0) } ?? 0 }
                let routed: RoutedJob
                switch router.route(a.request, vo: a.vo, queuedCount: queued) {
                case .success(let r): routed = r
                case .failure(let rejection):
                    report.rejected += 1
                    report.rejections[rejection.limits, default: 0] += 1
                    continue
                }
                guard let job = scheduler.pendingJob(id: nextID, routed: routed, user: a.user, vo: a.vo, submitTime: a.time) else {
                    report.rejected += 1
                    report.rejections["\(routed.queue): environment \(routed.environment) not in the catalogue", default: 0] += 1
                    continue
                }
                report.queueJobs[routed.queue, default: 0] += 1
                scheduler.enqueue(job)
                runtimes[nextID] = (a.runtime, a.exitCode, a.time)
                nextID += 1
            }
            let cycle = scheduler.schedule(now: now)
            report.cycles += 1
            for p in cycle.placements {
                guard let run = scheduler.runningJob(p.jobID), let info = runtimes.removeValue(forKey: p.jobID) else { continue }
                if p.backfilled { report.backfilled += 1 }
                waits.append(now - info.submitted)
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
        if !waits.isEmpty {
            waits.sort()
            report.meanWait = waits.reduce(0, +) / Double(waits.count)
            let middle = waits.count / 2
            report.medianWait = waits.count % 2 == 1 ? waits[middle] : (waits[middle - 1] + waits[middle]) / 2
            let rank = Int((0.95 * Double(waits.count)).rounded(.up))
            report.p95Wait = waits[max(0, rank - 1)]
            report.maxWait = waits[waits.count - 1]
        }
        let capacity = Double(configuration.nodes.reduce(0) { $0 + $1.slots }) * report.makespan
        report.utilization = capacity > 0 ? busyCoreSeconds / capacity : 0
        return report
    }
}
