/// One job of a replay, as `vbatch simulate --jobs` writes it: what it asked for, where
/// routing sent it, and when it started and ended on the virtual clock.
public struct ReplayJob: Sendable, Equatable {
    /// How the job's replay ended.
    public enum Outcome: String, Sendable, CaseIterable {
        /// Ran to its logged run time.
        case completed
        /// Killed at its walltime (the logged run time was longer).
        case killed
        /// Refused at submission: no execution queue accepts it.
        case refused
        /// Accepted but never started: no node could ever hold it.
        case neverStarted = "never-started"
    }

    /// The job's number in the trace (SWF field 1), if it came from one.
    public var traceID: Int?
    /// The execution queue routing chose; nil when refused.
    public var queue: String?
    public var vo: String?
    public var cores: Int
    /// Virtual times, seconds (the trace's own clock).
    public var submit: Double
    public var start: Double?
    public var end: Double?
    /// Started ahead of the reserved head job (EASY backfill).
    public var backfilled = false
    public var outcome: Outcome
    /// Why it was refused or never started, or killed.
    public var reason: String?

    public init(traceID: Int?, queue: String?, vo: String?, cores: Int, submit: Double, start: Double? = nil,
                end: Double? = nil, backfilled: Bool = false, outcome: Outcome, reason: String? = nil) {
        self.traceID = traceID
        self.queue = queue
        self.vo = vo
        self.cores = cores
        self.submit = submit
        self.start = start
        self.end = end
        self.backfilled = backfilled
        self.outcome = outcome
        self.reason = reason
    }

    /// Seconds from submission to start, for a job that started.
    public var wait: Double? { start.map { $0 - submit } }

    /// Seconds it ran, for a job that started.
    public var runTime: Double? {
        guard let start, let end else { return nil }
        return end - start
    }

    /// `max(1, (wait + run) / max(run, τ))`: how much longer than its run the job took, with
    /// very short jobs counted as running τ (``ReplayMetrics/slowdownThreshold``), as in Feitelson's
    /// metrics for parallel job scheduling.
    public var boundedSlowdown: Double? {
        guard let wait, let run = runTime else { return nil }
        return max(1, (wait + run) / max(run, ReplayMetrics.slowdownThreshold))
    }
}

/// The standard scheduling metrics over some jobs of a replay: all of them, or one queue's or
/// one VO's. Waits and slowdowns are over the jobs that started.
public struct ReplayMetrics: Sendable, Equatable {
    /// τ of the bounded slowdown: jobs shorter than this count as running this long, seconds.
    public static let slowdownThreshold = 10.0

    /// Jobs counted (started or not, refused ones included).
    public var jobs = 0
    public var started = 0
    public var backfilled = 0
    public var meanWait: Double = 0
    /// The mean of the middle two for an even count.
    public var medianWait: Double = 0
    /// Nearest rank: 95 % of the started jobs waited at most this.
    public var p95Wait: Double = 0
    public var maxWait: Double = 0
    public var meanBoundedSlowdown: Double = 0
    /// Core-seconds the started jobs ran.
    public var coreSeconds: Double = 0
    /// ``coreSeconds`` over the site's core-seconds during the makespan.
    public var utilization: Double = 0

    public init() {}

    /// The metrics of `jobs` on a site of `slots` cores over `makespan` seconds.
    public init(_ jobs: some Sequence<ReplayJob>, slots: Int, makespan: Double) {
        var waits: [Double] = []
        var slowdowns = 0.0
        for job in jobs {
            self.jobs += 1
            guard let wait = job.wait, let run = job.runTime, let slowdown = job.boundedSlowdown else { continue }
            started += 1
            if job.backfilled { backfilled += 1 }
            waits.append(wait)
            slowdowns += slowdown
            coreSeconds += Double(job.cores) * run
        }
        let capacity = Double(slots) * makespan
        utilization = capacity > 0 ? coreSeconds / capacity : 0
        guard !waits.isEmpty else { return }
        waits.sort()
        meanWait = waits.reduce(0, +) / Double(waits.count)
        let middle = waits.count / 2
        medianWait = waits.count % 2 == 1 ? waits[middle] : (waits[middle - 1] + waits[middle]) / 2
        p95Wait = waits[max(0, Int((0.95 * Double(waits.count)).rounded(.up)) - 1)]
        maxWait = waits[waits.count - 1]
        meanBoundedSlowdown = slowdowns / Double(waits.count)
    }
}
