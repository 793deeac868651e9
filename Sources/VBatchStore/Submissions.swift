import Foundation
import GRDB
import VBatchCore
import VBatchFaults

/// Writes submissions: one `job_payload` row per submission, then one `job` row and one
/// `job_event` row per array element, all in the caller's transaction.
enum SubmissionWriter {
    /// Refuses what SQLite would store wrongly or what the schema would reject anyway, before
    /// it can fail a whole group-commit batch.
    static func validate(_ s: NewSubmission) throws {
        guard s.count >= 1 else { throw StoreError.invalidSubmission("count must be at least 1, got \(s.count)") }
        guard s.cores >= 1 else { throw StoreError.invalidSubmission("cores must be at least 1, got \(s.cores)") }
        guard s.memoryMB >= 0 else { throw StoreError.invalidSubmission("memory must not be negative") }
        guard s.walltime >= 0 else { throw StoreError.invalidSubmission("walltime must not be negative") }
        let texts: [(String, String)] = [
            ("name", s.name), ("owner", s.owner), ("vo", s.vo ?? ""), ("submit queue", s.submitQueue),
            ("queue", s.queue), ("environment", s.environment),
        ]
        for (field, text) in texts where Columns.hasNUL(text) {
            throw StoreError.invalidSubmission("\(field) contains a NUL character")
        }
    }

    /// A submission's payload columns, encoded outside the write transaction.
    struct Payload {
        var script: Data
        var arguments: String
        var variables: String
    }

    static func submit(_ batch: [NewSubmission], to pool: DatabasePool) throws -> [[Int64]] {
        if batch.isEmpty { return [] }
        for submission in batch { try validate(submission) }
        let payloads = try batch.map { s in
            Payload(script: Data(s.script.utf8),
                    arguments: try Columns.encodeJSON(s.arguments),
                    variables: try Columns.encodeJSON(s.variables))
        }
        return try pool.write { db in
            let ids = try insert(batch, payloads: payloads, db)
            CrashPoint.submitBatch.reach()
            return ids
        }
    }

    static func insert(_ batch: [NewSubmission], payloads: [Payload], _ db: Database) throws -> [[Int64]] {
        // An empty script binds as NULL (SQLite's rule for an empty blob pointer): store x''.
        let insertPayload = try db.cachedStatement(sql: """
            INSERT INTO job_payload (script, arguments, variables) VALUES (coalesce(?, x''), ?, ?)
            """)
        let insertJob = try db.cachedStatement(sql: """
            INSERT INTO job (name, owner, uid, vo, submit_queue, queue, environment, cores, memory_mb,
                             walltime, state, submit_time, reason, payload_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let insertEvent = try db.cachedStatement(sql: """
            INSERT INTO job_event (job_id, time, state, reason) VALUES (?, ?, ?, ?)
            """)
        var result: [[Int64]] = []
        result.reserveCapacity(batch.count)
        for (s, payload) in zip(batch, payloads) {
            try insertPayload.execute(arguments: [payload.script, payload.arguments, payload.variables])
            let payloadID = db.lastInsertedRowID
            let state: JobState = s.held ? .held : .queued
            let reason = s.held ? "submitted held" : "submitted to \(s.queue) by \(s.owner)"
            var ids: [Int64] = []
            ids.reserveCapacity(s.count)
            for _ in 0..<s.count {
                try insertJob.execute(arguments: [
                    s.name, s.owner, s.uid, s.vo, s.submitQueue, s.queue, s.environment, s.cores, s.memoryMB,
                    s.walltime, state.rawValue, s.submitTime, reason, payloadID,
                ])
                let id = db.lastInsertedRowID
                try insertEvent.execute(arguments: [id, s.submitTime, state.rawValue, reason])
                ids.append(id)
            }
            result.append(ids)
        }
        return result
    }
}
