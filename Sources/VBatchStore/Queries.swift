import Foundation
import GRDB
import VBatchAPI
import VBatchCore

/// Read queries. Rows are decoded by column index from raw cursors: listing 10,000 jobs or
/// loading a million active ones must not go through `Codable`.
enum JobQueries {
    /// Columns of ``JobInfo``, in the order ``jobInfo(_:)`` decodes them.
    static let jobInfoColumns = """
        id, name, owner, vo, submit_queue, queue, environment, cores, memory_mb, walltime, state,
        submit_time, start_time, end_time, node, cpus, exit_code, reason, cpu_time, saved_node, paused_seconds
        """

    static func jobInfo(_ row: Row) throws -> JobInfo {
        let id = try row.decode(Int64.self, atIndex: 0)
        return JobInfo(
            id: id,
            name: try row.decode(String.self, atIndex: 1),
            owner: try row.decode(String.self, atIndex: 2),
            vo: try row.decode(String?.self, atIndex: 3),
            submitQueue: try row.decode(String.self, atIndex: 4),
            queue: try row.decode(String.self, atIndex: 5),
            environment: try row.decode(String.self, atIndex: 6),
            cores: try row.decode(Int.self, atIndex: 7),
            memoryMB: try row.decode(Int.self, atIndex: 8),
            walltime: try row.decode(Int.self, atIndex: 9),
            state: try Columns.state(try row.decode(String.self, atIndex: 10), job: id),
            submitTime: try row.decode(Double.self, atIndex: 11),
            startTime: try row.decode(Double?.self, atIndex: 12),
            endTime: try row.decode(Double?.self, atIndex: 13),
            node: try row.decode(String?.self, atIndex: 14),
            cpus: try Columns.cpus(try row.decode(String?.self, atIndex: 15), job: id),
            exitCode: try row.decode(Int?.self, atIndex: 16),
            reason: try row.decode(String?.self, atIndex: 17),
            cpuTime: try row.decode(Double?.self, atIndex: 18),
            savedNode: try row.decode(String?.self, atIndex: 19),
            pausedSeconds: try row.decode(Double.self, atIndex: 20).nonZero)
    }

    static func job(_ db: Database, id: Int64) throws -> JobInfo? {
        let statement = try db.cachedStatement(sql: "SELECT \(jobInfoColumns) FROM job WHERE id = ?")
        return try Row.fetchOne(statement, arguments: [id]).map(jobInfo)
    }

    static func history(_ db: Database, id: Int64) throws -> [JobEvent] {
        let statement = try db.cachedStatement(sql: """
            SELECT time, state, reason FROM job_event WHERE job_id = ? ORDER BY id
            """)
        var events: [JobEvent] = []
        let rows = try Row.fetchCursor(statement, arguments: [id])
        while let row = try rows.next() {
            events.append(JobEvent(time: try row.decode(Double.self, atIndex: 0),
                                   state: try Columns.state(try row.decode(String.self, atIndex: 1), job: id),
                                   reason: try row.decode(String.self, atIndex: 2)))
        }
        return events
    }

    /// Non-terminal jobs are exactly those without an end time (a CHECK in the schema), so
    /// both listings walk an index on `end_time` without sorting: `IS NULL` entries come in
    /// id order, the others backwards by end time.
    static func jobs(_ db: Database, owner: String?, active: Bool, limit: Int?, endedSince: Double? = nil) throws -> [JobInfo] {
        let statement = try listStatement(db, owner: owner, active: active, limit: limit, endedSince: endedSince)
        var result: [JobInfo] = []
        if let limit { result.reserveCapacity(min(limit, 100_000)) }
        let rows = try Row.fetchCursor(statement)
        while let row = try rows.next() {
            result.append(try jobInfo(row))
        }
        return result
    }

    /// The listing query with its arguments bound; columns are ``jobInfoColumns``.
    static func listStatement(_ db: Database, owner: String?, active: Bool, limit: Int?,
                              endedSince: Double? = nil) throws -> Statement {
        let ownerFilter = owner == nil ? "" : "owner = ? AND "
        let filter = active
            ? "\(ownerFilter)end_time IS NULL ORDER BY id"
            : "\(ownerFilter)end_time >= ? ORDER BY end_time DESC, id DESC"
        let statement = try db.cachedStatement(sql: "SELECT \(jobInfoColumns) FROM job WHERE \(filter) LIMIT ?")
        var arguments: StatementArguments = owner.map { [$0] } ?? []
        // Finished jobs are those with an end time; `>= -inf` keeps them all.
        if !active { arguments += [endedSince ?? -Double.infinity] }
        arguments += [limit.map { max($0, 0) } ?? -1]
        try statement.setArguments(arguments)
        return statement
    }

    static func activeJobs(_ db: Database) throws -> [ActiveJob] {
        let statement = try db.makeStatement(sql: """
            SELECT id, owner, vo, queue, environment, cores, memory_mb, walltime, state, submit_time,
                   start_time, node, cpus, attempts, saved_node, paused_seconds, paused_since, move
            FROM job WHERE end_time IS NULL ORDER BY id
            """)
        var intern = StringInterner()
        var states: [String: JobState] = [:]
        var result: [ActiveJob] = []
        let rows = try Row.fetchCursor(statement)
        while let row = try rows.next() {
            let id = try row.decode(Int64.self, atIndex: 0)
            let rawState = try row.decode(String.self, atIndex: 8)
            let state: JobState
            if let known = states[rawState] {
                state = known
            } else {
                state = try Columns.state(rawState, job: id)
                states[rawState] = state
            }
            result.append(ActiveJob(
                id: id,
                owner: intern(try row.decode(String.self, atIndex: 1)),
                vo: try row.decode(String?.self, atIndex: 2).map { intern($0) },
                queue: intern(try row.decode(String.self, atIndex: 3)),
                environment: intern(try row.decode(String.self, atIndex: 4)),
                cores: try row.decode(Int.self, atIndex: 5),
                memoryMB: try row.decode(Int.self, atIndex: 6),
                walltime: try row.decode(Int.self, atIndex: 7),
                state: state,
                submitTime: try row.decode(Double.self, atIndex: 9),
                startTime: try row.decode(Double?.self, atIndex: 10),
                node: try row.decode(String?.self, atIndex: 11).map { intern($0) },
                cpus: try Columns.cpus(try row.decode(String?.self, atIndex: 12), job: id),
                attempts: try row.decode(Int.self, atIndex: 13),
                savedNode: try row.decode(String?.self, atIndex: 14).map { intern($0) },
                pausedSeconds: try row.decode(Double.self, atIndex: 15),
                pausedSince: try row.decode(Double?.self, atIndex: 16),
                move: try row.decode(String?.self, atIndex: 17).flatMap(JobMove.init(stored:))))
        }
        return result
    }

    static func finishedUsage(_ db: Database, since: Double) throws
        -> [(vo: String?, coreSeconds: Double, endTime: Double)]
    {
        let statement = try db.makeStatement(sql: """
            SELECT vo, cores * (end_time - start_time), end_time
            FROM job WHERE end_time >= ? AND start_time IS NOT NULL ORDER BY end_time
            """)
        var intern = StringInterner()
        var result: [(vo: String?, coreSeconds: Double, endTime: Double)] = []
        let rows = try Row.fetchCursor(statement, arguments: [since])
        while let row = try rows.next() {
            result.append((vo: try row.decode(String?.self, atIndex: 0).map { intern($0) },
                           coreSeconds: max(try row.decode(Double.self, atIndex: 1), 0),
                           endTime: try row.decode(Double.self, atIndex: 2)))
        }
        return result
    }

    static func script(_ db: Database, id: Int64) throws
        -> (script: String, arguments: [String], variables: [String: String])?
    {
        let statement = try db.cachedStatement(sql: """
            SELECT p.script, p.arguments, p.variables
            FROM job JOIN job_payload p ON p.id = job.payload_id WHERE job.id = ?
            """)
        guard let row = try Row.fetchOne(statement, arguments: [id]) else { return nil }
        let script = try row.decode(Data.self, atIndex: 0)
        return (script: String(decoding: script, as: UTF8.self),
                arguments: try Columns.decodeJSON([String].self, try row.decode(String.self, atIndex: 1)),
                variables: try Columns.decodeJSON([String: String].self, try row.decode(String.self, atIndex: 2)))
    }
}

extension Double {
    /// Nil for zero (a column that is 0 unless something happened).
    var nonZero: Double? { self == 0 ? nil : self }
}
