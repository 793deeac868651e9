import VBatchCore

/// A whole site on a virtual clock: the real scheduler core feeding the simulated driver.
///
/// For what-if studies and trace replays (an operator trying a queue config against a
/// workload) and for scale tests: it keeps nothing per node beyond the scheduler's own
/// state, so 10,000-node sites run in one process.
public struct SiteSimulation {
    /// A job arriving at `time`, which runs for `runtime` seconds once started.
    public struct Arrival: Sendable {
        public var time: Double
        public var request: JobRequest
        public var user: String
        public var vo: String?
        public var runtime: Double
        public var exitCode: Int

        public init(time: Double, request: JobRequest, user: String, vo: String? = nil, runtime: Double, exitCode: Int = 0) {
            self.time = time
            self.request = request
            self.user = user
            self.vo = vo
            self.runtime = runtime
            self.exitCode = exitCode
        }
    }

    public struct Report: Sendable, Equatable {
        public var submitted = 0
        /// Refused at submit (no destination accepts them).
        public var rejected = 0
        public var completed = 0
        public var killedForWalltime = 0
        /// Jobs started ahead of the reserved head job.
        public var backfilled = 0
        public var cycles = 0
        /// Virtual time from the first arrival to the last job end.
        public var makespan: Double = 0
        public var meanWait: Double = 0
        public var maxWait: Double = 0
        /// Core-seconds used over core-seconds available during the makespan.
        public var utilization: Double = 0

        /// Accepted jobs that never started (no node could ever hold them).
        public var neverStarted: Int { submitted - rejected - completed - killedForWalltime }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Replays `arrivals` (in any order) and returns what happened. `check` is called after
    /// every cycle with the scheduler, for tests that assert invariants along the way.
    public func run(_ arrivals: [Arrival], check: ((Scheduler) -> Void)? = nil) -> Report {
        let arrivals = arrivals.sorted { $0.time < $1.time }
        guard let start = arrivals.first?.time else { return Report() }
        var scheduler = Scheduler(configuration: configuration, now: start)
        let router = QueueRouter(configuration: configuration)
        let driver = SimulatedDriver(clock: .manual(start: start))
        var report = Report()
        var runtimes: [Int64: (runtime: Double, exit: Int, submitted: Double)] = [:]
        var nextArrival = 0
        var nextID: Int64 = 1
        var now = start
        var totalWait = 0.0
        var busyCoreSeconds = 0.0

        while true {
            // Job ends due now.
            for case .ended(let id, let outcome, let time, _) in driver.advance(to: now) {
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
                guard case .success(let routed) = router.route(a.request, vo: a.vo, queuedCount: queued),
                      let job = scheduler.pendingJob(id: nextID, routed: routed, user: a.user, vo: a.vo, submitTime: a.time)
                else {
                    report.rejected += 1
                    continue
                }
                scheduler.enqueue(job)
                runtimes[nextID] = (a.runtime, a.exitCode, a.time)
                nextID += 1
            }
            let cycle = scheduler.schedule(now: now)
            report.cycles += 1
            for p in cycle.placements {
                guard let run = scheduler.runningJob(p.jobID), let info = runtimes.removeValue(forKey: p.jobID) else { continue }
                if p.backfilled { report.backfilled += 1 }
                let wait = now - info.submitted
                totalWait += wait
                report.maxWait = max(report.maxWait, wait)
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
        let started = report.completed + report.killedForWalltime
        report.meanWait = started > 0 ? totalWait / Double(started) : 0
        let capacity = Double(configuration.nodes.reduce(0) { $0 + $1.slots }) * report.makespan
        report.utilization = capacity > 0 ? busyCoreSeconds / capacity : 0
        return report
    }
}
