import GRDB
import VBatchCore

/// Applies state transitions: one `UPDATE job` and one `INSERT INTO job_event` each.
enum TransitionWriter {
    static func record(_ transitions: [Transition], to pool: DatabasePool) throws -> Int {
        if transitions.isEmpty { return 0 }
        return try pool.write { db in
            // ?1 state, ?2 reason, ?3 time, ?4 node, ?5 cpus, ?6 exit code, ?7 attempts delta,
            // ?8 requeue (back to queued/held), ?9 starts, ?10 terminal, ?11 id, ?12 CPU time,
            // ?13 max RSS. Ending a job (end_time set) fires the accounting trigger.
            // Terminal jobs (end_time set) are left alone: their state never changes again.
            let update = try db.cachedStatement(sql: """
                UPDATE job SET
                    state = ?1,
                    reason = ?2,
                    node = CASE WHEN ?8 THEN NULL ELSE coalesce(?4, node) END,
                    cpus = CASE WHEN ?8 THEN NULL ELSE coalesce(?5, cpus) END,
                    exit_code = coalesce(?6, exit_code),
                    attempts = max(attempts + ?7, 0),
                    start_time = CASE WHEN ?8 THEN NULL
                                      WHEN ?9 THEN coalesce(start_time, ?3)
                                      ELSE start_time END,
                    end_time = CASE WHEN ?10 THEN ?3 ELSE NULL END,
                    cpu_time = coalesce(?12, cpu_time),
                    max_rss_kib = coalesce(?13, max_rss_kib)
                WHERE id = ?11 AND end_time IS NULL
                """)
            let insertEvent = try db.cachedStatement(sql: """
                INSERT INTO job_event (job_id, time, state, reason) VALUES (?, ?, ?, ?)
                """)
            var applied = 0
            for t in transitions {
                let reason = Columns.withoutNUL(t.reason)
                let requeue = t.state == .queued || t.state == .held
                try update.execute(arguments: [
                    t.state.rawValue, reason, t.time, t.node.map(Columns.withoutNUL), t.cpus.map(Columns.encodeCPUs),
                    t.exitCode, t.attemptsDelta, requeue, t.state.isActive, t.state.isTerminal, t.id,
                    t.cpuTime.map { max($0, 0) }, t.maxRSSKiB.map { max($0, 0) },
                ])
                guard db.changesCount == 1 else { continue }
                try insertEvent.execute(arguments: [t.id, t.time, t.state.rawValue, reason])
                applied += 1
            }
            return applied
        }
    }
}
