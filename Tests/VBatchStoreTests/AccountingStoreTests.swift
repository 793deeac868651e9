import Foundation
import GRDB
import Testing
import VBatchAPI
import VBatchCore
@testable import VBatchStore

/// The `accounting` table: one record per finished job, written with the transition that
/// ends it, kept when the job is purged.
@Suite struct AccountingStoreTests {
    @Test func everyEndedJobGetsExactlyOneRecord() async throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        let ran = try await store.submit(submission(owner: "alice", vo: "atlas", cores: 2))[0]
        let requeued = try await store.submit(submission(owner: "bob", vo: "cms"))[0]
        let neverStarted = try await store.submit(submission(owner: "bob", vo: "cms"))[0]
        try store.record([
            Transition(id: ran, state: .starting, time: 1100, reason: "placed", node: "wn1", cpus: [0, 1]),
            Transition(id: ran, state: .running, time: 1102, reason: "VM running"),
            Transition(id: requeued, state: .starting, time: 1100, reason: "placed", node: "wn2", cpus: [0]),
            Transition(id: requeued, state: .queued, time: 1105, reason: "start failed", cpuTime: 0.5),
        ])
        #expect(try store.accountingRecords(since: 0, until: 1e12, owner: nil).isEmpty)
        try store.record([
            Transition(id: ran, state: .completed, time: 1400, reason: "exited with code 3", exitCode: 3,
                       cpuTime: 512.25, maxRSSKiB: 300_000),
            Transition(id: requeued, state: .starting, time: 1200, reason: "placed", node: "wn1", cpus: [2]),
            Transition(id: requeued, state: .failed, time: 1300, reason: "killed: walltime", cpuTime: 90),
            Transition(id: neverStarted, state: .cancelled, time: 1250, reason: "cancelled by bob"),
            // A terminal job never changes again, nor gets a second record.
            Transition(id: ran, state: .failed, time: 1500, reason: "late", cpuTime: 1),
        ])
        let records = try store.accountingRecords(since: 0, until: 1e12, owner: nil)
        #expect(records.map(\.jobID) == [neverStarted, requeued, ran])  // by end time
        let first = try #require(records.last)
        #expect(first == AccountingRecord(
            jobID: ran, name: "job", owner: "alice", uid: 1001, vo: "atlas", submitQueue: "default", queue: "grid",
            environment: "el9", node: "wn1", cores: 2, memoryMB: 2048, walltimeLimit: 3600, submitTime: 1000,
            startTime: 1100, endTime: 1400, wallSeconds: 300, cpuSeconds: 512.25, maxRSSKiB: 300_000,
            state: .completed, exitCode: 3, reason: "exited with code 3"))
        #expect(first.coreSeconds == 600)
        // The requeue cleared the first start: wall time counts from the second placement.
        #expect(records[1].startTime == 1200 && records[1].wallSeconds == 100 && records[1].cpuSeconds == 90)
        #expect(records[1].state == .failed && records[1].node == "wn1")
        #expect(records[0].startTime == nil && records[0].node == nil && records[0].wallSeconds == 0)
        #expect(records[0].cpuSeconds == 0 && records[0].state == .cancelled)

        // Filters: owner, and the end-time window [since, until).
        #expect(try store.accountingRecords(since: 0, until: 1e12, owner: "bob").map(\.jobID) == [neverStarted, requeued])
        #expect(try store.accountingRecords(since: 1250, until: 1400, owner: nil).map(\.jobID) == [neverStarted, requeued])
        #expect(try store.accountingRecords(since: 1251, until: 1300, owner: nil).isEmpty)

        // Summed in SQL: the same rows and totals as summing the records in memory.
        for grouping in AccountingSummary.Grouping.allCases {
            let summed = try store.accountingSummary(since: 0, until: 1e12, owner: nil, by: grouping)
            #expect(summed == AccountingSummary(records, by: grouping), "\(grouping)")
        }
        let bobs = try store.accountingSummary(since: 0, until: 1e12, owner: "bob", by: .queue)
        #expect(bobs.total.jobs == 2 && bobs.total.failed == 1 && bobs.total.cancelled == 1 && bobs.total.cpuSeconds == 90)

        // Purging the jobs keeps their accounting.
        #expect(try store.purge(endedBefore: 2000) == 3)
        #expect(try store.job(ran) == nil)
        #expect(try store.accountingRecords(since: 0, until: 1e12, owner: nil) == records)
    }

    @Test func theGridSubjectComesFromTheJobsVariables() async throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        var grid = submission(owner: "atlas001")
        grid.variables = ["VBATCH_GRID_SUBJECT": "/DC=ch/DC=cern/OU=Users/CN=Some Body", "X": "1"]
        let withSubject = try await store.submit(grid)[0]
        let without = try await store.submit(submission())[0]
        try store.record([
            Transition(id: withSubject, state: .cancelled, time: 1100, reason: "cancelled"),
            Transition(id: without, state: .cancelled, time: 1100, reason: "cancelled"),
        ])
        let records = Dictionary(uniqueKeysWithValues: try store.accountingRecords(since: 0, until: 1e12, owner: nil).map { ($0.jobID, $0) })
        #expect(records[withSubject]?.gridSubject == "/DC=ch/DC=cern/OU=Users/CN=Some Body")
        #expect(records[without]?.gridSubject == nil)
    }

    @Test func aDatabaseFromBeforeAccountingIsMigrated() throws {
        let db = TempDatabase()
        try FileManager.default.createDirectory(atPath: (db.path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        do {
            // A store as the first release left it: schema v1 and a running job.
            let old = try DatabaseQueue(path: db.path)
            try Migrations.migrator.migrate(old, upTo: "v1")
            try old.write { db in
                try db.execute(sql: """
                    INSERT INTO job_payload (id, script, arguments, variables) VALUES (1, x'00', '[]', '{}');
                    INSERT INTO job (name, owner, uid, submit_queue, queue, environment, cores, memory_mb, walltime,
                                     state, submit_time, start_time, node, payload_id)
                    VALUES ('old', 'alice', 1001, 'grid', 'one-way', 'el9', 1, 256, 60, 'running', 10, 20, 'wn1', 1);
                    """)
            }
        }
        let store = try JobStore(path: db.path)
        try store.record([Transition(id: 1, state: .completed, time: 80, reason: "exited with code 0", exitCode: 0, cpuTime: 30)])
        let records = try store.accountingRecords(since: 0, until: 1e12, owner: nil)
        #expect(records.map(\.jobID) == [1] && records.first?.wallSeconds == 60 && records.first?.cpuSeconds == 30)
    }
}
