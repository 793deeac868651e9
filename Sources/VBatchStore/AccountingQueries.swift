import GRDB
import VBatchAPI
import VBatchCore

/// Reads the `accounting` table (one record per finished job, written by a trigger).
enum AccountingQueries {
    static func records(_ db: Database, since: Double, until: Double, owner: String?) throws -> [AccountingRecord] {
        let ownerFilter = owner == nil ? "" : "owner = ? AND "
        let statement = try db.cachedStatement(sql: """
            SELECT job_id, name, owner, uid, vo, submit_queue, queue, environment, node, cores, memory_mb,
                   walltime_limit, submit_time, start_time, end_time, wall_seconds, cpu_seconds, max_rss_kib,
                   state, exit_code, reason, grid_subject
            FROM accounting WHERE \(ownerFilter)end_time >= ? AND end_time < ? ORDER BY end_time, job_id
            """)
        var arguments: StatementArguments = owner.map { [$0] } ?? []
        arguments += [since, until]
        var records: [AccountingRecord] = []
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try rows.next() {
            let id = try row.decode(Int64.self, atIndex: 0)
            records.append(AccountingRecord(
                jobID: id,
                name: try row.decode(String.self, atIndex: 1),
                owner: try row.decode(String.self, atIndex: 2),
                uid: try row.decode(Int.self, atIndex: 3),
                vo: try row.decode(String?.self, atIndex: 4),
                submitQueue: try row.decode(String.self, atIndex: 5),
                queue: try row.decode(String.self, atIndex: 6),
                environment: try row.decode(String.self, atIndex: 7),
                node: try row.decode(String?.self, atIndex: 8),
                cores: try row.decode(Int.self, atIndex: 9),
                memoryMB: try row.decode(Int.self, atIndex: 10),
                walltimeLimit: try row.decode(Int.self, atIndex: 11),
                submitTime: try row.decode(Double.self, atIndex: 12),
                startTime: try row.decode(Double?.self, atIndex: 13),
                endTime: try row.decode(Double.self, atIndex: 14),
                wallSeconds: try row.decode(Double.self, atIndex: 15),
                cpuSeconds: try row.decode(Double.self, atIndex: 16),
                maxRSSKiB: try row.decode(Int?.self, atIndex: 17),
                state: try Columns.state(try row.decode(String.self, atIndex: 18), job: id),
                exitCode: try row.decode(Int?.self, atIndex: 19),
                reason: try row.decode(String.self, atIndex: 20),
                gridSubject: try row.decode(String?.self, atIndex: 21)))
        }
        return records
    }
}

extension AccountingQueries {
    /// The records of `[since, until)` summed per group in SQL (`owner` nil for everyone's).
    static func summary(_ db: Database, since: Double, until: Double, owner: String?,
                        by grouping: AccountingSummary.Grouping) throws -> AccountingSummary {
        // The grouping column comes from this fixed mapping, never from the request's text.
        let column = switch grouping {
        case .vo: "vo"
        case .user: "owner"
        case .queue: "queue"
        case .environment: "environment"
        case .node: "node"
        }
        let ownerFilter = owner == nil ? "" : "owner = ? AND "
        let statement = try db.cachedStatement(sql: """
            SELECT \(column), count(*), total(state = 'completed'), total(state = 'failed'), total(state = 'cancelled'),
                   total(wall_seconds), total(cores * wall_seconds), total(cpu_seconds)
            FROM accounting WHERE \(ownerFilter)end_time >= ? AND end_time < ? GROUP BY \(column)
            """)
        var arguments: StatementArguments = owner.map { [$0] } ?? []
        arguments += [since, until]
        var rows: [AccountingSummary.Row] = []
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try cursor.next() {
            rows.append(AccountingSummary.Row(
                key: try row.decode(String?.self, atIndex: 0) ?? "-",
                jobs: try row.decode(Int.self, atIndex: 1),
                completed: Int(try row.decode(Double.self, atIndex: 2)),
                failed: Int(try row.decode(Double.self, atIndex: 3)),
                cancelled: Int(try row.decode(Double.self, atIndex: 4)),
                wallSeconds: try row.decode(Double.self, atIndex: 5),
                coreSeconds: try row.decode(Double.self, atIndex: 6),
                cpuSeconds: try row.decode(Double.self, atIndex: 7)))
        }
        return AccountingSummary(grouping: grouping, rows: rows)
    }
}
