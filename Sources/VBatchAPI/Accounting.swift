import VBatchCore

/// What one finished job used: written once, when the job ends, and kept after the job's
/// own row is purged. Times are Unix seconds.
public struct AccountingRecord: Codable, Sendable, Equatable {
    public var jobID: Int64
    public var name: String
    public var owner: String
    public var uid: Int
    public var vo: String?
    /// The queue named at submit (may be a routing queue) and the execution queue that ran it.
    public var submitQueue: String
    public var queue: String
    public var environment: String
    /// The node that ran it; nil for a job that ended before it was placed.
    public var node: String?
    public var cores: Int
    /// Memory of the job's VM.
    public var memoryMB: Int
    /// The walltime it asked for (seconds).
    public var walltimeLimit: Int
    public var submitTime: Double
    /// When it was placed on its node (its VM started booting); nil if it never was.
    public var startTime: Double?
    public var endTime: Double
    /// `endTime − startTime`, 0 for a job that never started.
    public var wallSeconds: Double
    /// CPU time of the job's VM as libvirt measured it, all vCPUs together.
    public var cpuSeconds: Double
    /// Largest resident memory of the VM's QEMU process libvirt reported, if any.
    public var maxRSSKiB: Int?
    /// `completed`, `failed` or `cancelled`.
    public var state: JobState
    public var exitCode: Int?
    public var reason: String
    /// The grid identity (X.509 subject) the CE gave the job in `VBATCH_GRID_SUBJECT`, if any.
    public var gridSubject: String?

    public init(jobID: Int64, name: String, owner: String, uid: Int, vo: String?, submitQueue: String, queue: String,
                environment: String, node: String?, cores: Int, memoryMB: Int, walltimeLimit: Int, submitTime: Double,
                startTime: Double?, endTime: Double, wallSeconds: Double, cpuSeconds: Double, maxRSSKiB: Int?,
                state: JobState, exitCode: Int?, reason: String, gridSubject: String? = nil) {
        self.jobID = jobID
        self.name = name
        self.owner = owner
        self.uid = uid
        self.vo = vo
        self.submitQueue = submitQueue
        self.queue = queue
        self.environment = environment
        self.node = node
        self.cores = cores
        self.memoryMB = memoryMB
        self.walltimeLimit = walltimeLimit
        self.submitTime = submitTime
        self.startTime = startTime
        self.endTime = endTime
        self.wallSeconds = wallSeconds
        self.cpuSeconds = cpuSeconds
        self.maxRSSKiB = maxRSSKiB
        self.state = state
        self.exitCode = exitCode
        self.reason = reason
        self.gridSubject = gridSubject
    }

    /// Core-seconds the job held: `cores × wallSeconds` (what fair share and APEL charge).
    public var coreSeconds: Double { Double(cores) * wallSeconds }
}

/// The records of a period, with the site identity an APEL export needs
/// (`GET /v1/accounting?since=&until=&all=1`).
public struct AccountingReport: Codable, Sendable, Equatable {
    /// Records ended in `[since, until)`, oldest first.
    public var since: Double
    public var until: Double
    public var records: [AccountingRecord]
    /// APEL `Site` (the GOCDB name).
    public var site: String
    /// APEL `SubmitHost` (the CE) and `MachineName` (this batch system's host).
    public var submitHost: String
    public var machineName: String
    public var benchmarkType: String?
    public var benchmark: Double?
    public var infrastructure: String

    public init(since: Double, until: Double, records: [AccountingRecord], site: String, submitHost: String,
                machineName: String, benchmarkType: String? = nil, benchmark: Double? = nil, infrastructure: String = "grid") {
        self.since = since
        self.until = until
        self.records = records
        self.site = site
        self.submitHost = submitHost
        self.machineName = machineName
        self.benchmarkType = benchmarkType
        self.benchmark = benchmark
        self.infrastructure = infrastructure
    }
}

/// Totals of accounting records grouped by one attribute (`vbatch accounting --by`). The
/// daemon sums them in SQL (`GET /v1/accounting?by=…`), so a summary of a year of jobs
/// never ships the records; ``init(_:by:)`` sums records in memory the same way.
public struct AccountingSummary: Codable, Sendable, Equatable {
    /// What records can be grouped by.
    public enum Grouping: String, Codable, Sendable, CaseIterable {
        case vo, user, queue, environment, node
    }

    /// The totals of one group (or of all records).
    public struct Row: Codable, Sendable, Equatable {
        /// The group's value (`-` for records without one, e.g. local users for `vo`).
        public var key: String
        public var jobs: Int
        public var completed: Int
        public var failed: Int
        public var cancelled: Int
        public var wallSeconds: Double
        /// Σ cores × wall seconds.
        public var coreSeconds: Double
        public var cpuSeconds: Double

        public init(key: String, jobs: Int = 0, completed: Int = 0, failed: Int = 0, cancelled: Int = 0,
                    wallSeconds: Double = 0, coreSeconds: Double = 0, cpuSeconds: Double = 0) {
            self.key = key
            self.jobs = jobs
            self.completed = completed
            self.failed = failed
            self.cancelled = cancelled
            self.wallSeconds = wallSeconds
            self.coreSeconds = coreSeconds
            self.cpuSeconds = cpuSeconds
        }

        /// Adds another row's totals (for the total of all rows).
        mutating func add(_ row: Row) {
            jobs += row.jobs
            completed += row.completed
            failed += row.failed
            cancelled += row.cancelled
            wallSeconds += row.wallSeconds
            coreSeconds += row.coreSeconds
            cpuSeconds += row.cpuSeconds
        }

        mutating func add(_ record: AccountingRecord) {
            jobs += 1
            switch record.state {
            case .completed: completed += 1
            case .failed: failed += 1
            default: cancelled += 1
            }
            wallSeconds += record.wallSeconds
            coreSeconds += record.coreSeconds
            cpuSeconds += record.cpuSeconds
        }

        /// CPU time over the core time held: how busy the job's vCPUs were.
        public var efficiency: Double? { coreSeconds > 0 ? cpuSeconds / coreSeconds : nil }
    }

    public var grouping: Grouping
    /// One row per group, sorted by key.
    public var rows: [Row]
    public var total: Row

    public init(_ records: [AccountingRecord], by grouping: Grouping) {
        self.grouping = grouping
        var groups: [String: Row] = [:]
        var total = Row(key: "total")
        for record in records {
            let key = Self.key(of: record, grouping) ?? "-"
            groups[key, default: Row(key: key)].add(record)
            total.add(record)
        }
        rows = groups.values.sorted { $0.key < $1.key }
        self.total = total
    }

    /// A summary of rows already summed per group (by the store); the total is their sum.
    public init(grouping: Grouping, rows: [Row]) {
        self.grouping = grouping
        self.rows = rows.sorted { $0.key < $1.key }
        var total = Row(key: "total")
        for row in rows { total.add(row) }
        self.total = total
    }

    /// The value `record` is grouped under, nil if it has none (e.g. no VO).
    public static func key(of record: AccountingRecord, _ grouping: Grouping) -> String? {
        switch grouping {
        case .vo: record.vo
        case .user: record.owner
        case .queue: record.queue
        case .environment: record.environment
        case .node: record.node
        }
    }
}

/// The APEL individual job message, version 0.3: the format the APEL repository ingests
/// through SSM (one `Key: value` line per field, `%%` after each record).
///
/// Only jobs that started are accounted (APEL needs a start time); durations are whole
/// seconds, memory KiB, times Unix seconds. `Processors` is the job's cores, `NodeCount` 1
/// (a VM never spans nodes). `MemoryReal` is the VM's largest resident size when libvirt
/// reported one, `MemoryVirtual` the memory the VM was given.
public enum APELMessage {
    public static let header = "APEL-individual-job-message: v0.3"

    public static func render(_ report: AccountingReport) -> String {
        var out = header + "\n"
        for record in report.records {
            guard let start = record.startTime else { continue }
            var fields: [(String, String)] = [
                ("Site", report.site),
                ("SubmitHost", report.submitHost),
                ("MachineName", report.machineName),
                ("Queue", record.queue),
                ("LocalJobId", String(record.jobID)),
                ("LocalUserId", record.owner),
            ]
            if let subject = record.gridSubject { fields.append(("GlobalUserName", subject)) }
            if let vo = record.vo { fields.append(("VO", vo)) }
            fields += [
                ("WallDuration", String(Int(record.wallSeconds.rounded()))),
                ("CpuDuration", String(Int(record.cpuSeconds.rounded()))),
                ("Processors", String(record.cores)),
                ("NodeCount", "1"),
                ("StartTime", String(Int(start))),
                ("EndTime", String(Int(record.endTime))),
                ("InfrastructureDescription", "APEL-vbatch"),
                ("InfrastructureType", report.infrastructure),
            ]
            if let rss = record.maxRSSKiB { fields.append(("MemoryReal", String(rss))) }
            fields.append(("MemoryVirtual", String(record.memoryMB * 1024)))
            if let type = report.benchmarkType, let value = report.benchmark {
                fields.append(("ServiceLevelType", type))
                fields.append(("ServiceLevel", String(value)))
            }
            for (key, value) in fields { out += key + ": " + oneLine(value) + "\n" }
            out += "%%\n"
        }
        return out
    }

    /// A value as one line: a record field never spans lines nor starts a `%%` separator.
    static func oneLine(_ value: String) -> String {
        String(value.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
    }
}

/// The APEL summary job message, version 0.2 (`APEL-summary-job-message: v0.2`): what the
/// APEL client itself publishes, and what the APEL repository recommends over individual
/// records. One record per UTC month of the jobs' end times × grid identity × VO × cores,
/// with the jobs' summed wall and CPU time; only jobs that started count.
public enum APELSummaryMessage {
    public static let header = "APEL-summary-job-message: v0.2"

    struct Key: Hashable, Comparable {
        var year: Int
        var month: Int
        var subject: String
        var vo: String
        var processors: Int

        static func < (a: Key, b: Key) -> Bool {
            (a.year, a.month, a.subject, a.vo, a.processors) < (b.year, b.month, b.subject, b.vo, b.processors)
        }
    }

    struct Totals {
        var jobs = 0
        var wall = 0
        var cpu = 0
        var earliestEnd = Double.infinity
        var latestEnd = -Double.infinity
    }

    public static func render(_ report: AccountingReport) -> String {
        var groups: [Key: Totals] = [:]
        for record in report.records where record.startTime != nil {
            let (year, month) = CivilDate.yearMonth(ofEpochSeconds: record.endTime)
            let key = Key(year: year, month: month, subject: record.gridSubject ?? "", vo: record.vo ?? "",
                          processors: record.cores)
            var totals = groups[key, default: Totals()]
            totals.jobs += 1
            // Whole seconds per job, as in the individual records, so both messages add up alike.
            totals.wall += Int(record.wallSeconds.rounded())
            totals.cpu += Int(record.cpuSeconds.rounded())
            totals.earliestEnd = min(totals.earliestEnd, record.endTime)
            totals.latestEnd = max(totals.latestEnd, record.endTime)
            groups[key] = totals
        }
        var out = header + "\n"
        for key in groups.keys.sorted() {
            let totals = groups[key]!
            var fields: [(String, String)] = [("Site", report.site), ("Month", String(key.month)), ("Year", String(key.year))]
            if !key.subject.isEmpty { fields.append(("GlobalUserName", key.subject)) }
            if !key.vo.isEmpty { fields.append(("VO", key.vo)) }
            fields += [("SubmitHost", report.submitHost), ("InfrastructureType", report.infrastructure)]
            if let type = report.benchmarkType, let value = report.benchmark {
                fields.append(("ServiceLevelType", type))
                fields.append(("ServiceLevel", String(value)))
            }
            fields += [
                ("NodeCount", "1"),
                ("Processors", String(key.processors)),
                ("EarliestEndTime", String(Int(totals.earliestEnd))),
                ("LatestEndTime", String(Int(totals.latestEnd))),
                ("WallDuration", String(totals.wall)),
                ("CpuDuration", String(totals.cpu)),
                ("NumberOfJobs", String(totals.jobs)),
            ]
            for (key, value) in fields { out += key + ": " + APELMessage.oneLine(value) + "\n" }
            out += "%%\n"
        }
        return out
    }
}
