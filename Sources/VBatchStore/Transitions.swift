import GRDB
import VBatchCore

/// Applies state transitions: one `UPDATE job` and one `INSERT INTO job_event` each.
enum TransitionWriter {
    static func record(_ transitions: [Transition], to pool: DatabasePool) throws -> Int {
        if transitions.isEmpty { return 0 }
        return try pool.write { db in
            // ?1 state, ?2 reason, ?3 time, ?4 node, ?5 cpus, ?6 exit code, ?7 attempts delta,
            // ?8 requeue (back to queued/held, run again from the start), ?9 starts, ?10 terminal,
            // ?11 id, ?12 CPU time of a piece (added up over the pieces of one run; a requeue
            // starts a new run), ?13 max RSS, ?14 saved node, ?15 move.
            // Ending a job (end_time set) fires the accounting trigger.
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
                    cpu_time = CASE WHEN ?8 THEN NULL WHEN ?12 IS NULL THEN cpu_time ELSE coalesce(cpu_time, 0) + ?12 END,
                    max_rss_kib = CASE WHEN ?13 IS NULL THEN max_rss_kib ELSE max(coalesce(max_rss_kib, 0), ?13) END,
                    saved_node = CASE WHEN ?14 IS NOT NULL THEN ?14
                                      WHEN ?8 OR ?10 OR ?1 IN ('running', 'suspended') THEN NULL
                                      ELSE saved_node END,
                    paused_seconds = CASE WHEN ?8 THEN 0
                                          WHEN paused_since IS NOT NULL AND (?10 OR ?1 = 'running')
                                              THEN paused_seconds + max(?3 - paused_since, 0)
                                          ELSE paused_seconds END,
                    paused_since = CASE WHEN ?8 OR ?10 OR ?1 = 'running' THEN NULL
                                        WHEN ?1 IN ('suspended', 'saved') THEN coalesce(paused_since, ?3)
                                        ELSE paused_since END,
                    move = ?15
                WHERE id = ?11 AND end_time IS NULL
                """)
            let insertEvent = try db.cachedStatement(sql: """
                INSERT INTO job_event (job_id, time, state, reason) VALUES (?, ?, ?, ?)
                """)
            var applied = 0
            for t in transitions {
                let reason = Columns.withoutNUL(t.reason)
                let requeue = (t.state == .queued || t.state == .held) && t.savedNode == nil
                try update.execute(arguments: [
                    t.state.rawValue, reason, t.time, t.node.map(Columns.withoutNUL), t.cpus.map(Columns.encodeCPUs),
                    t.exitCode, t.attemptsDelta, requeue, t.state.isActive, t.state.isTerminal, t.id,
                    t.cpuTime.map { max($0, 0) }, t.maxRSSKiB.map { max($0, 0) }, t.savedNode.map(Columns.withoutNUL),
                    t.move?.stored,
                ])
                guard db.changesCount == 1 else { continue }
                try insertEvent.execute(arguments: [t.id, t.time, t.state.rawValue, reason])
                applied += 1
            }
            return applied
        }
    }
}
