/// Since-start figures of a running vbatchd, in the spirit of Slurm's `sdiag`: scheduling
/// cycles, backfill, store commits, API calls by route and libvirt calls by worker node.
/// `GET /v1/diag`, `vbatch diag`.
public struct Diagnostics: Codable, Sendable, Equatable {
    /// Count, failures and durations of one kind of call.
    public struct Tally: Codable, Sendable, Equatable {
        public var count = 0
        public var failures = 0
        public var totalSeconds = 0.0
        public var maxSeconds = 0.0
        public var lastSeconds = 0.0

        public init() {}

        public var meanSeconds: Double { count == 0 ? 0 : totalSeconds / Double(count) }

        public mutating func add(_ duration: Duration, failed: Bool = false) {
            let (whole, attoseconds) = duration.components
            let seconds = Double(whole) + Double(attoseconds) / 1e18
            count += 1
            if failed { failures += 1 }
            totalSeconds += seconds
            maxSeconds = max(maxSeconds, seconds)
            lastSeconds = seconds
        }
    }

    /// When the daemon (this incarnation: a reload starts again) began, and when this report was made.
    public var started = 0.0
    public var reported = 0.0
    public var cycles = Tally()
    /// When the last cycle finished.
    public var lastCycle: Double?
    /// Jobs placed by cycles, those of them started by backfill, and preemptions chosen.
    public var placements = 0
    public var backfillStarts = 0
    public var preemptions = 0
    /// Durable commits of the job store (submissions and transitions).
    public var commits = Tally()
    /// API requests by "METHOD /route/template"; failures are answers of 500 or more.
    public var api: [String: Tally] = [:]
    /// Libvirt calls by worker node.
    public var libvirt: [String: Tally] = [:]
    /// Whether each worker node's libvirt connection is up now.
    public var connected: [String: Bool] = [:]
    /// Jobs waiting and running now.
    public var pending = 0
    public var running = 0

    public init() {}

    public mutating func cycle(_ duration: Duration, placements: Int, backfilled: Int, preemptions: Int, at time: Double) {
        cycles.add(duration)
        lastCycle = time
        self.placements += placements
        backfillStarts += backfilled
        self.preemptions += preemptions
    }
}
