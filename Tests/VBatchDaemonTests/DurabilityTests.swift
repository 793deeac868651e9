import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// kill -9 of the daemon loses no acknowledged job and never reuses an id.
@Suite("Durability", .serialized)
struct DurabilityTests {
    @Test func killDuringSubmissionLoopLosesNothing() throws {
        let d = try DaemonHarness(nodes: 1, slots: 2)
        try d.start()
        let acknowledged = Acknowledged()
        let client = d.client
        // Four concurrent submitters, as several CE threads would be.
        let submitters = (0..<4).map { n in
            Thread {
                var request = SubmitRequest(name: "loop\(n)", queue: "two-way", script: "#!/bin/sh\ntrue\n")
                request.held = true
                while true {
                    guard let response = try? client.submit(request) else { return }
                    acknowledged.add(response.ids)
                }
            }
        }
        submitters.forEach { $0.start() }
        #expect(try d.wait(timeout: 60) { acknowledged.count >= 300 })
        d.kill9()
        while submitters.contains(where: { !$0.isFinished }) { usleep(10_000) }
        let acked = acknowledged.ids

        try d.start()
        let jobs = try d.client.jobs(all: true)
        let ids = jobs.map(\.id)
        #expect(Set(ids).count == ids.count, "no job listed twice")
        let missing = Set(acked).subtracting(ids)
        #expect(missing.isEmpty, "acknowledged jobs lost: \(missing.sorted().prefix(10))")
        // Every job, acknowledged or caught mid-flight, came through whole.
        #expect(jobs.allSatisfy { $0.state == .held && $0.queue == "two-way" })
        // New ids continue above every id ever handed out.
        let next = try d.client.submit(SubmitRequest(queue: "two-way", script: "#!/bin/sh\ntrue\n"))
        #expect(next.ids[0] > (ids.max() ?? 0))
        #expect(next.ids[0] > (acked.max() ?? 0))
    }

    @Test func runningJobsAreRecoveredAfterRestart() throws {
        let d = try DaemonHarness(nodes: 1, slots: 2)
        try d.start()
        let request = SubmitRequest(queue: "two-way", script: "#!/bin/sh\ntrue\n", variables: ["VBATCH_SIM_RUNTIME": "1"], count: 2)
        let ids = try d.client.submit(request).ids
        #expect(try d.wait { try ids.allSatisfy { try d.client.job($0).job.state == .running } })
        d.kill9()
        try d.start()
        // The simulated VMs died with the daemon: the jobs go back to the queue and run again.
        #expect(try d.wait { try ids.allSatisfy { try d.client.job($0).job.state == .completed } })
        let history = try d.client.job(ids[0]).history
        #expect(history.contains { $0.reason.contains("VM lost while vbatchd was down") })
    }
}

final class Acknowledged: @unchecked Sendable {
    private let lock = NSLock()
    private var all: [Int64] = []
    func add(_ ids: [Int64]) { lock.withLock { all += ids } }
    var count: Int { lock.withLock { all.count } }
    var ids: [Int64] { lock.withLock { all } }
}
