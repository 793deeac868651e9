import Foundation
import GRDB
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
