import Foundation
import GRDB
import VBatchAPI
import VBatchCore

/// Active jobs of one queue, VO and state, and the cores they ask for.
public struct ActiveJobCount: Sendable, Equatable, Codable {
    public var queue: String
    /// Empty for jobs of no VO.
    public var vo: String
    public var state: JobState
    public var jobs: Int
    public var cores: Int
}

/// One row of the job-event table with the fields a live view filters on.
public struct JobEventRecord: Sendable, Equatable, Codable {
    /// Increases with every event: a reader asks for what came after the last one it saw.
    public var id: Int64
    public var jobID: Int64
    public var time: Double
    public var state: JobState
    public var reason: String
    public var owner: String
    public var queue: String
    public var vo: String?
}

/// What the jobs that ended in a window came to: outcomes, waits, and the same per hour.
public struct FinishedSummary: Sendable, Equatable, Codable {
    public struct Hour: Sendable, Equatable, Codable {
        /// Start of the hour (Unix seconds).
        public var start: Double
        public var completed: Int
        public var failed: Int
        public var cancelled: Int

        public init(start: Double, completed: Int, failed: Int, cancelled: Int) {
            self.start = start
            self.completed = completed
            self.failed = failed
            self.cancelled = cancelled
        }
    }

    /// Jobs per terminal state (`completed`, `failed`, `cancelled`).
    public var outcomes: [String: Int]
    /// Median and 95th percentile of the wait from submission to the last start, in seconds,
    /// of the jobs that ran; nil when none did.
    public var waitP50: Double?
    public var waitP95: Double?
    public var hours: [Hour]
}

extension JobStore {
    /// Active jobs by queue, VO and state: what the metrics' gauges and the dashboard's tiles show.
    public func activeJobCounts() throws -> [ActiveJobCount] {
        try pool.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT queue, coalesce(vo, ''), state, count(*), sum(cores) FROM job
                WHERE end_time IS NULL GROUP BY queue, vo, state
                """)
            var counts: [ActiveJobCount] = []
            while let row = try rows.next() {
                counts.append(ActiveJobCount(
                    queue: try row.decode(String.self, atIndex: 0), vo: try row.decode(String.self, atIndex: 1),
                    state: try Columns.state(try row.decode(String.self, atIndex: 2), job: 0),
                    jobs: try row.decode(Int.self, atIndex: 3), cores: try row.decode(Int.self, atIndex: 4)))
            }
            return counts
        }
    }

    /// Up to `limit` job events after event `id`, oldest first (live updates follow the table).
    public func events(after id: Int64, limit: Int) throws -> [JobEventRecord] {
        try pool.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT e.id, e.job_id, e.time, e.state, e.reason, j.owner, j.queue, j.vo
                FROM job_event e JOIN job j ON j.id = e.job_id
                WHERE e.id > ? ORDER BY e.id LIMIT ?
                """, arguments: [id, limit])
            var events: [JobEventRecord] = []
            while let row = try rows.next() {
                let job = try row.decode(Int64.self, atIndex: 1)
                events.append(JobEventRecord(
                    id: try row.decode(Int64.self, atIndex: 0), jobID: job, time: try row.decode(Double.self, atIndex: 2),
                    state: try Columns.state(try row.decode(String.self, atIndex: 3), job: job),
                    reason: try row.decode(String.self, atIndex: 4), owner: try row.decode(String.self, atIndex: 5),
                    queue: try row.decode(String.self, atIndex: 6), vo: try row.decode(String?.self, atIndex: 7)))
            }
            return events
        }
    }

    /// The newest job event's id (0 when there is none): where a live view starts following.
    public func lastEventID() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) FROM job_event") ?? 0 }
    }

    /// Events of state `starting` since `since`: how many starts the site made lately.
    public func startCount(since: Double) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM job_event WHERE time >= ? AND state = 'starting'",
                             arguments: [since]) ?? 0
        }
    }

    /// Outcomes and waits of the jobs (of `owner`, or everyone's) that ended since `since`.
    public func finishedSummary(since: Double, owner: String? = nil) throws -> FinishedSummary {
        try pool.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT state, end_time, start_time - submit_time FROM job
                WHERE end_time >= ? AND (? IS NULL OR owner = ?)
                """, arguments: [since, owner, owner])
            var outcomes: [String: Int] = [:]
            var waits: [Double] = []
            var hours: [Double: FinishedSummary.Hour] = [:]
            while let row = try rows.next() {
                let state = try row.decode(String.self, atIndex: 0)
                let hour = (try row.decode(Double.self, atIndex: 1) / 3600).rounded(.down) * 3600
                outcomes[state, default: 0] += 1
                if let wait = try row.decode(Double?.self, atIndex: 2) { waits.append(max(0, wait)) }
                var bucket = hours[hour] ?? .init(start: hour, completed: 0, failed: 0, cancelled: 0)
                switch state {
                case "completed": bucket.completed += 1
                case "failed": bucket.failed += 1
                default: bucket.cancelled += 1
                }
                hours[hour] = bucket
            }
            waits.sort()
            func percentile(_ p: Double) -> Double? {
                waits.isEmpty ? nil : waits[min(waits.count - 1, Int((p * Double(waits.count)).rounded(.up)) - 1)]
            }
            return FinishedSummary(outcomes: outcomes, waitP50: percentile(0.5), waitP95: percentile(0.95),
                                   hours: hours.values.sorted { $0.start < $1.start })
        }
    }
}

/// What the dashboard's job list asks for: filters (nil matches anything), an order and a
/// page size. Active jobs and those that ended since `endedSince` are listed.
public struct JobQuery: Sendable, Equatable {
    /// Orders the list can take; each maps to one column, ties broken by id.
    public enum Order: String, Sendable, CaseIterable {
        case id, name, owner, vo, queue, state, cores, node, submitted

        var column: String { self == .submitted ? "submit_time" : rawValue }
    }

    public var owner: String?
    /// A job state, or `active` for every state but the terminal ones.
    public var state: String?
    /// Matches the execution queue or the queue it was submitted to.
    public var queue: String?
    /// A VO, or `none` for jobs of no VO.
    public var vo: String?
    public var node: String?
    public var endedSince: Double
    public var order: Order
    public var descending: Bool
    public var limit: Int

    public init(owner: String? = nil, state: String? = nil, queue: String? = nil, vo: String? = nil, node: String? = nil,
                endedSince: Double, order: Order = .id, descending: Bool = true, limit: Int = 500) {
        self.owner = owner
        self.state = state
        self.queue = queue
        self.vo = vo
        self.node = node
        self.endedSince = endedSince
        self.order = order
        self.descending = descending
        self.limit = limit
    }
}

extension JobStore {
    /// The jobs `query` selects, in its order, at most `query.limit`, and how many it selects in all.
    public func jobs(matching query: JobQuery) throws -> (jobs: [JobInfo], total: Int) {
        var conditions = ["(end_time IS NULL OR end_time >= ?)"]
        var arguments: StatementArguments = [query.endedSince]
        if let owner = query.owner {
            conditions.append("owner = ?")
            arguments += [owner]
        }
        if query.state == "active" {
            conditions.append("end_time IS NULL")
        } else if let state = query.state {
            conditions.append("state = ?")
            arguments += [state]
        }
        if let queue = query.queue {
            conditions.append("(queue = ? OR submit_queue = ?)")
            arguments += [queue, queue]
        }
        if query.vo == "none" {
            conditions.append("vo IS NULL")
        } else if let vo = query.vo {
            conditions.append("vo = ?")
            arguments += [vo]
        }
        if let node = query.node {
            conditions.append("node = ?")
            arguments += [node]
        }
        let filter = conditions.joined(separator: " AND ")
        let direction = query.descending ? "DESC" : "ASC"
        return try pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM job WHERE \(filter)", arguments: arguments) ?? 0
            let rows = try Row.fetchCursor(db, sql: """
                SELECT \(JobQueries.jobInfoColumns) FROM job WHERE \(filter)
                ORDER BY \(query.order.column) \(direction), id \(direction) LIMIT ?
                """, arguments: arguments + [max(0, query.limit)])
            var jobs: [JobInfo] = []
            while let row = try rows.next() { jobs.append(try JobQueries.jobInfo(row)) }
            return (jobs, total)
        }
    }
}
