import Foundation
import Testing
import VBatchAPI
import VBatchCore
@testable import VBatchStore

/// A fresh database path in its own temporary directory (the store creates the parents).
struct TempDatabase: ~Copyable {
    let directory: URL
    var path: String { directory.appendingPathComponent("state/vbatch.db").path }

    init() {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("vbatch-store-tests-\(UUID().uuidString)")
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

func submission(owner: String = "alice", vo: String? = "atlas", queue: String = "grid", count: Int = 1,
                held: Bool = false, cores: Int = 1, script: String = "#!/bin/sh\necho hi\n",
                time: Double = 1000) -> NewSubmission {
    NewSubmission(name: "job", owner: owner, uid: 1001, vo: vo, submitQueue: "default", queue: queue,
                  environment: "el9", cores: cores, memoryMB: 2048, walltime: 3600, script: script,
                  arguments: ["-v"], variables: ["X": "1"], count: count, held: held, submitTime: time)
}

@Suite struct JobStoreTests {
    @Test func settingsAreInEffect() throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        let settings = try store.settings()
        #expect(settings.journalMode == "wal")
        #expect(settings.synchronous == 2)  // FULL
        #expect(settings.foreignKeys)
        #expect(settings.cacheSize == -JobStore.cacheKiB)
        #expect(FileManager.default.fileExists(atPath: db.path))
        #expect(try store.maxJobID() == 0)
    }

    @Test func submitSingleAndArray() async throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        let single = try await store.submit(submission())
        #expect(single == [1])
        let array = try await store.submit(submission(count: 5))
        #expect(array == [2, 3, 4, 5, 6])
        let held = try store.submit(batch: [submission(held: true), submission(count: 2)])
        #expect(held == [[7], [8, 9]])

        let job = try #require(try store.job(3))
        #expect(job.state == .queued)
        #expect(job.owner == "alice" && job.vo == "atlas" && job.queue == "grid" && job.submitQueue == "default")
        #expect(job.cores == 1 && job.memoryMB == 2048 && job.walltime == 3600 && job.environment == "el9")
        #expect(job.reason == "submitted to grid by alice")
        #expect(job.startTime == nil && job.endTime == nil && job.node == nil && job.cpus == nil)
        for id in array {
            #expect(try store.history(id) == [JobEvent(time: 1000, state: .queued, reason: "submitted to grid by alice")])
        }
        #expect(try store.job(7)?.state == .held)
        #expect(try store.history(7) == [JobEvent(time: 1000, state: .held, reason: "submitted held")])
        #expect(try store.job(10) == nil)
        #expect(try store.history(10) == [])
        #expect(try store.maxJobID() == 9)
    }

    @Test func invalidSubmissionsAreRefused() async throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        await #expect(throws: StoreError.self) { try await store.submit(submission(count: 0)) }
        #expect(throws: StoreError.self) { try store.submit(batch: [submission(), submission(cores: 0)]) }
        var nul = submission()
        nul.name = "a\0b"
        await #expect(throws: StoreError.self) { try await store.submit(nul) }
        #expect(try store.maxJobID() == 0)
        #expect(try await store.submit(submission()) == [1])
    }

    @Test func idsAreNeverReused() async throws {
        let db = TempDatabase()
        do {
            let store = try JobStore(path: db.path)
            #expect(try await store.submit(submission(count: 3)) == [1, 2, 3])
            try store.record((1...3).map { Transition(id: $0, state: .cancelled, time: 2000, reason: "cancelled by alice") })
            #expect(try store.purge(endedBefore: 3000) == 3)
            #expect(try store.job(3) == nil)
            #expect(try store.history(3) == [])
            #expect(try store.script(3) == nil)
            #expect(try await store.submit(submission()) == [4])
            try store.record([Transition(id: 4, state: .failed, time: 2000, reason: "lost")])
            #expect(try store.purge(endedBefore: 3000) == 1)
            #expect(try store.maxJobID() == 4)
        }
        let reopened = try JobStore(path: db.path)
        #expect(try reopened.maxJobID() == 4)
        #expect(try await reopened.submit(submission(count: 2)) == [5, 6])
    }

    @Test func transitionsAreRecordedInOrder() throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        let id = try store.submit(batch: [submission(cores: 2)])[0][0]
        #expect(try store.record([
            Transition(id: id, state: .starting, time: 1010, reason: "placed on wn01", node: "wn01", cpus: [2, 3],
                       attemptsDelta: 1),
        ]) == 1)
        var job = try #require(try store.job(id))
        #expect(job.state == .starting && job.startTime == 1010 && job.node == "wn01" && job.cpus == [2, 3])
        #expect(job.reason == "placed on wn01")

        // Boot failure: back in the queue, off the node.
        try store.record([Transition(id: id, state: .queued, time: 1020, reason: "VM failed to boot on wn01")])
        job = try #require(try store.job(id))
        #expect(job.state == .queued && job.startTime == nil && job.node == nil && job.cpus == nil)
        #expect(try store.activeJobs().first?.attempts == 1)

        try store.record([
            Transition(id: id, state: .starting, time: 1030, reason: "placed on wn02", node: "wn02", cpus: [0, 1],
                       attemptsDelta: 1),
            Transition(id: id, state: .running, time: 1040, reason: "payload started"),
        ])
        job = try #require(try store.job(id))
        #expect(job.state == .running && job.startTime == 1030 && job.node == "wn02" && job.cpus == [0, 1])
        let active = try #require(try store.activeJobs().first)
        #expect(active.attempts == 2 && active.state == .running && active.startTime == 1030)

        try store.record([Transition(id: id, state: .completed, time: 1100, reason: "exited", exitCode: 3)])
        job = try #require(try store.job(id))
        #expect(job.state == .completed && job.endTime == 1100 && job.exitCode == 3 && job.reason == "exited")
        #expect(job.startTime == 1030 && job.node == "wn02" && job.cpus == [0, 1])

        // Terminal states never change; unknown jobs are skipped.
        #expect(try store.record([
            Transition(id: id, state: .cancelled, time: 1200, reason: "too late"),
            Transition(id: 999, state: .running, time: 1200, reason: "ghost"),
        ]) == 0)
        #expect(try store.job(id)?.state == .completed)

        #expect(try store.history(id) == [
            JobEvent(time: 1000, state: .queued, reason: "submitted to grid by alice"),
            JobEvent(time: 1010, state: .starting, reason: "placed on wn01"),
            JobEvent(time: 1020, state: .queued, reason: "VM failed to boot on wn01"),
            JobEvent(time: 1030, state: .starting, reason: "placed on wn02"),
            JobEvent(time: 1040, state: .running, reason: "payload started"),
            JobEvent(time: 1100, state: .completed, reason: "exited"),
        ])
        let usage = try store.finishedUsage(since: 0)
        #expect(usage.count == 1)
        #expect(usage.first?.vo == "atlas" && usage.first?.coreSeconds == 140 && usage.first?.endTime == 1100)
        #expect(try store.finishedUsage(since: 1101).isEmpty)
    }

    @Test func activeJobsExcludeTerminal() throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        let ids = try store.submit(batch: [submission(count: 6), submission(held: true)]).flatMap { $0 }
        try store.record([
            Transition(id: ids[0], state: .completed, time: 1, reason: "done", exitCode: 0),
            Transition(id: ids[1], state: .failed, time: 1, reason: "walltime"),
            Transition(id: ids[2], state: .cancelled, time: 1, reason: "cancelled"),
            Transition(id: ids[3], state: .starting, time: 1, reason: "placed", node: "wn01", cpus: [5]),
            Transition(id: ids[4], state: .starting, time: 1, reason: "placed", node: "wn01", cpus: [6]),
            Transition(id: ids[4], state: .running, time: 2, reason: "running"),
        ])
        let active = try store.activeJobs()
        #expect(active.map(\.id) == [ids[3], ids[4], ids[5], ids[6]])
        #expect(active.map(\.state) == [.starting, .running, .queued, .held])
        #expect(active[0].node == "wn01" && active[0].cpus == [5] && active[0].startTime == 1)
        #expect(active[2].owner == "alice" && active[2].vo == "atlas" && active[2].queue == "grid")
        #expect(active[2].environment == "el9" && active[2].cores == 1 && active[2].memoryMB == 2048)
        #expect(active[2].walltime == 3600 && active[2].submitTime == 1000 && active[2].node == nil)
    }

    @Test func listingFiltersByOwnerAndState() throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        let ids = try store.submit(batch: [
            submission(owner: "alice", count: 3), submission(owner: "bob", vo: nil, count: 3),
        ])
        let alice = ids[0], bob = ids[1]
        try store.record([
            Transition(id: alice[0], state: .completed, time: 50, reason: "done"),
            Transition(id: alice[1], state: .completed, time: 60, reason: "done"),
            Transition(id: bob[0], state: .cancelled, time: 55, reason: "cancelled"),
        ])
        #expect(try store.jobs(owner: "alice", active: true, limit: nil).map(\.id) == [alice[2]])
        #expect(try store.jobs(owner: "alice", active: false, limit: nil).map(\.id) == [alice[1], alice[0]])
        #expect(try store.jobs(owner: "bob", active: true, limit: nil).map(\.id) == [bob[1], bob[2]])
        #expect(try store.jobs(owner: nil, active: true, limit: nil).map(\.id) == [alice[2], bob[1], bob[2]])
        #expect(try store.jobs(owner: nil, active: false, limit: nil).map(\.id) == [alice[1], bob[0], alice[0]])
        #expect(try store.jobs(owner: nil, active: false, limit: 2).map(\.id) == [alice[1], bob[0]])
        #expect(try store.jobs(owner: nil, active: true, limit: 0).isEmpty)
        #expect(try store.jobs(owner: "carol", active: true, limit: nil).isEmpty)
        #expect(try store.jobs(owner: "bob", active: true, limit: 1).first?.vo == nil)
        // Finished since a time (history --since), alone and with owner and limit.
        #expect(try store.jobs(owner: nil, active: false, limit: nil, endedSince: 55).map(\.id) == [alice[1], bob[0]])
        #expect(try store.jobs(owner: "alice", active: false, limit: nil, endedSince: 55).map(\.id) == [alice[1]])
        #expect(try store.jobs(owner: nil, active: false, limit: 1, endedSince: 50).map(\.id) == [alice[1]])
        #expect(try store.jobs(owner: nil, active: false, limit: nil, endedSince: 61).isEmpty)
        let json = try JSONDecoder().decode([JobInfo].self, from: Data(try store.jobsJSON(owner: nil, active: false, limit: nil, endedSince: 55)))
        #expect(json.map(\.id) == [alice[1], bob[0]])
    }

    @Test func jsonListingMatchesTheTypedListing() throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        let ids = try store.submit(batch: [submission(count: 3), submission(owner: "bob", vo: nil, count: 2)]).flatMap { $0 }
        try store.record([
            Transition(id: ids[0], state: .starting, time: 1001.25, reason: "placed \"here\"\n", node: "wn01", cpus: [2, 3]),
            Transition(id: ids[1], state: .completed, time: 1002, reason: "exited with code 3", exitCode: 3),
        ])
        for (owner, active, limit) in [(nil, true, nil), (nil, false, nil), ("bob", true, 1), ("alice", false, 5)] as [(String?, Bool, Int?)] {
            let typed = try store.jobs(owner: owner, active: active, limit: limit)
            let json = try JSONDecoder().decode([JobInfo].self, from: Data(try store.jobsJSON(owner: owner, active: active, limit: limit)))
            #expect(json == typed)
        }
        #expect(try store.jobs(owner: nil, active: true, limit: nil).first?.cpus == [2, 3])
    }

    @Test func concurrentSubmitsGetDistinctIDs() async throws {
        let db = TempDatabase()
        let store = try JobStore(path: db.path)
        let ids = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for i in 0..<200 {
                group.addTask { try await store.submit(submission(owner: "user\(i % 7)", count: i % 3 + 1)) }
            }
            var all: [[Int64]] = []
            for try await ids in group { all.append(ids) }
            return all
        }
        #expect(ids.count == 200)
        for group in ids {
            #expect(group == Array(group[0]..<(group[0] + Int64(group.count))))  // consecutive
        }
        let flat = ids.flatMap { $0 }
        let expected = (0..<200).reduce(0) { $0 + $1 % 3 + 1 }
        #expect(flat.count == expected)
        #expect(Set(flat).count == expected)
        #expect(Set(flat) == Set((1...Int64(expected))))
        let rows = try store.jobs(owner: nil, active: true, limit: nil)
        #expect(rows.map(\.id) == flat.sorted())
        for id in flat.prefix(20) {
            #expect(try store.history(id).count == 1)
        }
    }

    @Test func reopeningGivesBackTheSameData() async throws {
        let db = TempDatabase()
        let hostileScript = "#!/bin/sh\necho '<>&\"' \u{00e9}\0after-nul\n"
        var s = submission(script: hostileScript)
        s.arguments = ["a b", "<>&'\"", "../etc/passwd", "nul\0inside", ""]
        s.variables = ["QUOTE": "'\"", "NEWLINE": "a\nb", "EMPTY": "", "NUL": "x\0y"]
        var empty = submission(script: "")
        empty.arguments = []
        empty.variables = [:]

        var before: [JobInfo] = []
        var histories: [[JobEvent]] = []
        do {
            let store = try JobStore(path: db.path)
            _ = try await store.submit(s)
            _ = try await store.submit(empty)
            _ = try await store.submit(submission(count: 2))
            try store.record([
                Transition(id: 1, state: .starting, time: 1001, reason: "placed", node: "wn01", cpus: [0, 1, 7],
                           attemptsDelta: 1),
                Transition(id: 1, state: .running, time: 1002, reason: "running"),
                Transition(id: 2, state: .cancelled, time: 1003, reason: "cancelled by alice"),
            ])
            before = try store.jobs(owner: nil, active: true, limit: nil)
                + store.jobs(owner: nil, active: false, limit: nil)
            histories = try (1...4).map { try store.history($0) }
        }
        let store = try JobStore(path: db.path)
        let after = try store.jobs(owner: nil, active: true, limit: nil) + store.jobs(owner: nil, active: false, limit: nil)
        #expect(after == before)
        #expect(after.count == 4)
        #expect(try (1...4).map { try store.history($0) } == histories)
        let payload = try #require(try store.script(1))
        #expect(payload.script == hostileScript)
        #expect(payload.arguments == s.arguments)
        #expect(payload.variables == s.variables)
        let emptyPayload = try #require(try store.script(2))
        #expect(emptyPayload.script == "" && emptyPayload.arguments == [] && emptyPayload.variables == [:])
        #expect(try store.script(4)?.script == submission().script)
        #expect(try store.job(1)?.cpus == [0, 1, 7])
    }

    @Test func cpuColumnCodec() {
        #expect(Columns.decodeCPUs(Columns.encodeCPUs([2, 3, 31])) == [2, 3, 31])
        #expect(Columns.decodeCPUs("") == [])
        #expect(Columns.decodeCPUs("1,") == nil)
        #expect(Columns.decodeCPUs(",1") == nil)
        #expect(Columns.decodeCPUs("1;2") == nil)
    }
}
