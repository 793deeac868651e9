import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// vbatchd killed -9 in the middle of a save, a restore and a live migration: each move was
/// recorded before it began, so the restarted daemon finds exactly one copy of the VM (running,
/// or saved) and the job goes on to one result, its count unbroken.
@Suite("vbatchd killed in the middle of a move", .serialized)
final class RemoteMoveCrashTests {
    let hosts: TestHosts
    let moves: RemoteMoveTests

    init() throws {
        moves = try RemoteMoveTests()
        hosts = moves.hosts
    }

    /// Runs `vbatch ARGUMENTS` without waiting, kills vbatchd with SIGKILL as soon as the job's
    /// history shows `marker` (the move's record), and starts it again. True if it was seen.
    func crash(_ d: DaemonHarness, job id: Int64, during marker: String, _ arguments: [String]) throws -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DaemonHarness.binaries + "/vbatch")
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(["VBATCH_SOCKET": d.socket]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var seen = false
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let last = try? d.client.job(id).history.last, last.reason.contains(marker) {
                seen = true
                break
            }
            usleep(5_000)
        }
        d.kill9()
        p.waitUntilExit()
        try d.start()
        return seen
    }

    /// After the restart: waits until the job is settled (saved, or running with its VM found
    /// again or restored), then checks there is exactly one copy of its VM, or none while saved.
    ///
    /// A VM re-adopted while the save begun before the kill was still being written is not
    /// settled yet: libvirtd may finish that save a moment later (the VM stops, the job turns
    /// `saved`). It counts as running for good once it still runs well after any save of the
    /// test guest would have ended.
    ///
    /// The copies are counted between two reads of the job's state, and the count is kept only
    /// if both reads agree: a job that ends in between (its VM gone) is looked at again.
    func expectOneCopy(_ d: DaemonHarness, _ id: Int64) throws -> JobState {
        var state = JobState.queued
        var copies: [String] = []
        let settled = try d.wait(timeout: 120) {
            let detail = try d.client.job(id)
            state = detail.job.state
            let last = detail.history.last
            let reason = last?.reason ?? ""
            let isSettled: Bool
            if state == .running, reason.contains("the save under way then had not completed") {
                isSettled = Date().timeIntervalSince1970 - (last?.time ?? 0) > 20
            } else {
                isSettled = state == .saved || state.isTerminal
                    || (state == .running && (reason.contains("re-adopted") || reason.contains("restored") || reason.contains("migrated")))
            }
            guard isSettled else { return false }
            copies = try moves.copies(id)
            return try d.client.job(id).job.state == state
        }
        let history = try d.client.job(id).history.map { "\($0.state.rawValue): \($0.reason)" }
        #expect(settled, "job \(id) did not settle after the restart: \(history)\n\(d.daemonLog.suffix(3000))")
        #expect(copies.count == (state == .running ? 1 : 0), "copies of job \(id)'s VM while \(state.rawValue): \(copies); \(history)")
        return state
    }

    @Test("killed while a job's VM is saved: one copy afterwards (saved or running), and one result")
    func killDuringSave() throws {
        let d = try moves.harness(count: 1)
        // 40 ticks: still counting after the 20 s that a VM re-adopted mid-save is watched for.
        let id = try moves.submitCounter(d, ticks: 40)
        try moves.letItCount(d, id, seconds: 6)
        let seen = try crash(d, job: id, during: "saving its VM", ["checkpoint", String(id)])
        #expect(seen, "the save was recorded before it began")
        try d.waitNodes(["wn1"], link: "up")
        let state = try expectOneCopy(d, id)
        #expect(state == .saved || state == .running)
        if state == .saved {
            #expect(try hosts.volumes("wn1", pool: "vbatch-jobs").contains("job-\(id).save"))
            #expect(try d.vbatch(["release", String(id)]).status == 0)
        }
        try d.waitEnded([id])
        try moves.expectUnbrokenCount(d, id, ticks: 40)
        #expect(try hosts.volumes("wn1", pool: "vbatch-jobs").isEmpty)
    }

    @Test("killed while a saved VM is restored on another host: one copy afterwards, and one result")
    func killDuringRestore() throws {
        let d = try moves.harness(count: 2)
        #expect(try d.vbatch(["node", "drain", "wn2"]).status == 0)
        let id = try moves.submitCounter(d, ticks: 20)
        try moves.letItCount(d, id, seconds: 6)
        #expect(try d.vbatch(["checkpoint", String(id)]).status == 0)
        #expect(try d.vbatch(["node", "resume", "wn2"]).status == 0)
        #expect(try d.vbatch(["node", "drain", "wn1"]).status == 0)
        let seen = try crash(d, job: id, during: "restoring its VM saved on wn1", ["release", String(id)])
        #expect(seen, "the restore was recorded before it began")
        try d.waitNodes(["wn1", "wn2"], link: "up")
        #expect(try expectOneCopy(d, id) == .running)
        try d.waitEnded([id])
        try moves.expectUnbrokenCount(d, id, ticks: 20)
        #expect(try d.client.job(id).job.node == "wn2")
        #expect(try d.wait(timeout: 60) {
            try hosts.volumes("wn1", pool: "vbatch-jobs").isEmpty && hosts.volumes("wn2", pool: "vbatch-jobs").isEmpty
        })
    }

    @Test("killed while a VM migrates live: one copy afterwards, the drain goes on, and one result")
    func killDuringMigration() throws {
        let d = try moves.harness(count: 2)
        #expect(try d.vbatch(["node", "drain", "wn2"]).status == 0)
        let id = try moves.submitCounter(d, ticks: 25)
        try moves.letItCount(d, id, seconds: 6)
        #expect(try d.vbatch(["node", "resume", "wn2"]).status == 0)
        let seen = try crash(d, job: id, during: "migrating live from wn1 to wn2", ["node", "drain", "wn1", "--mode", "migrate"])
        #expect(seen, "the migration was recorded before it began")
        try d.waitNodes(["wn1", "wn2"], link: "up")
        let state = try expectOneCopy(d, id)
        let history = try d.client.job(id).history.map { "\($0.state.rawValue): \($0.reason)" }
        #expect(state == .running, "\(history)\n\(d.daemonLog.suffix(4000))")
        // The drain goes on after the restart: the job ends up on wn2 either way.
        #expect(try d.wait(timeout: 120) { try d.client.job(id).job.node == "wn2" || d.client.job(id).job.state.isTerminal })
        try d.waitEnded([id])
        try moves.expectUnbrokenCount(d, id, ticks: 25)
        #expect(try d.wait(timeout: 60) {
            try hosts.volumes("wn1", pool: "vbatch-jobs").isEmpty && hosts.domains("wn1").isEmpty
        })
    }
}
