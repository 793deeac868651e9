import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// Operators drain nodes and stop, start, disable and enable queues at run time, through
/// the real CLI against a real daemon on simulated nodes; the settings outlive restarts.
@Suite("Run-time control of nodes and queues", .serialized)
struct AdminTests {
    func submit(_ d: DaemonHarness, _ args: [String]) throws -> Int64 {
        let path = try d.writeScript("#!/bin/sh\necho hi\n", name: "job-\(UUID().uuidString.prefix(6)).sh")
        let r = try d.vbatch(["submit", path] + args)
        guard r.status == 0, let id = Int64(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("submit failed (\(r.status)): \(r.stderr)")
        }
        return id
    }

    func job(_ d: DaemonHarness, _ id: Int64) throws -> JobInfo { try d.client.job(id).job }

    func node(_ d: DaemonHarness, _ name: String) throws -> NodeInfo {
        try #require(try d.client.nodes().first { $0.name == name })
    }

    func queue(_ d: DaemonHarness, _ name: String) throws -> QueueInfo {
        try #require(try d.client.queues().first { $0.name == name })
    }

    @Test func aDrainedNodeStartsNoJobsUntilResumedAcrossRestarts() throws {
        let d = try DaemonHarness(nodes: 2, slots: 2)
        try d.start()
        let running = try submit(d, ["-q", "two-way", "-v", "VBATCH_SIM_RUNTIME=3"])
        #expect(try d.wait { try job(d, running).state == .running })
        let busyNode = try #require(try job(d, running).node)
        let otherNode = busyNode == "wn1" ? "wn2" : "wn1"

        let drain = try d.vbatch(["node", "drain", busyNode, otherNode, "--reason", "kernel update"])
        #expect(drain.status == 0, "\(drain.stderr)")
        #expect(drain.stdout == "\(busyNode): draining (1 job running)\n\(otherNode): drained\n")
        let drained = try node(d, busyNode)
        #expect(!drained.enabled && drained.note == "drained by root: kernel update")
        #expect(try d.vbatch(["nodes"]).stdout.contains("draining"))
        // Its running job goes on; a new job waits.
        let waiting = try submit(d, ["-q", "two-way", "-v", "VBATCH_SIM_RUNTIME=0.2"])
        #expect(try d.wait(timeout: 10) { try job(d, running).state == .completed })
        usleep(500_000)
        #expect(try job(d, waiting).state == .queued)
        #expect(try d.client.job(waiting).waiting == "every node serving queue two-way with environment testguest is drained or out of service")

        // Kept across a restart.
        d.stop()
        try d.start()
        #expect(try !node(d, busyNode).enabled && node(d, busyNode).note == "drained by root: kernel update")
        usleep(500_000)
        #expect(try job(d, waiting).state == .queued)

        #expect(try d.vbatch(["node", "resume", otherNode]).stdout == "\(otherNode): in service\n")
        #expect(try d.wait(timeout: 10) { try job(d, waiting).state == .completed })
        #expect(try job(d, waiting).node == otherNode)
        #expect(try node(d, otherNode).enabled && node(d, otherNode).note == nil)

        // Unknown nodes, and users who are not operators, are refused.
        let unknown = try d.vbatch(["node", "drain", "wn9"])
        #expect(unknown.status != 0 && unknown.stderr == "vbatch: error: wn9: node wn9 does not exist\n")
        let user = try d.vbatch(as: "nobody", ["node", "resume", busyNode])
        #expect(user.status != 0 && user.stderr.contains("only operators may drain or resume nodes"))
        #expect(try !node(d, busyNode).enabled)
    }

    @Test func stoppedQueuesHoldTheirJobsAndDisabledOnesRefuseNewOnes() throws {
        let d = try DaemonHarness()
        try d.start()
        #expect(try d.vbatch(["queue", "stop", "two-way", "--reason", "draining for maintenance"]).stdout
                == "two-way: enabled, stopped\n")
        let held = try submit(d, ["-q", "two-way", "-v", "VBATCH_SIM_RUNTIME=0.2"])
        let other = try submit(d, ["-q", "one-way", "-v", "VBATCH_SIM_RUNTIME=0.2"])
        #expect(try d.wait(timeout: 10) { try job(d, other).state == .completed })
        #expect(try job(d, held).state == .queued)
        // Why it waits, for its owner and in its JSON.
        #expect(try d.client.job(held).waiting == "queue two-way is stopped")
        let shown = try d.vbatch(["show", String(held)]).stdout.split(separator: "\n").first { $0.hasPrefix("waiting:") }
        #expect(shown?.hasSuffix(" queue two-way is stopped") == true)
        let stopped = try queue(d, "two-way")
        #expect(stopped.enabled && !stopped.started && stopped.note == "stopped by root: draining for maintenance")

        // Disabled: new submissions are refused, directly and through the routing queue.
        #expect(try d.vbatch(["queue", "disable", "two-way"]).stdout == "two-way: disabled, stopped\n")
        let path = try d.writeScript("#!/bin/sh\necho hi\n", name: "refused.sh")
        let direct = try d.vbatch(["submit", path, "-q", "two-way"])
        #expect(direct.status != 0 && direct.stderr.contains("queue two-way rejected the job: queue is disabled"))
        let routed = try d.vbatch(["submit", path, "-q", "grid", "-l", "walltime=12h"])
        #expect(routed.status != 0 && routed.stderr.contains("two-way: queue is disabled"))

        // A routing queue is enabled or disabled, never started or stopped.
        let routing = try d.vbatch(["queue", "stop", "grid"])
        #expect(routing.status != 0 && routing.stderr.contains("grid is a routing queue"))
        #expect(try d.vbatch(["queue", "disable", "grid"]).stdout == "grid: disabled\n")
        #expect(try d.vbatch(["submit", path, "-q", "grid"]).stderr.contains("queue grid rejected the job: queue is disabled"))

        // Kept across a restart, then undone.
        d.stop()
        try d.start()
        #expect(try !queue(d, "two-way").enabled && !queue(d, "two-way").started && !queue(d, "grid").enabled)
        #expect(try job(d, held).state == .queued)
        #expect(try d.vbatch(["queue", "enable", "two-way", "grid"]).status == 0)
        #expect(try d.vbatch(["queue", "start", "two-way"]).status == 0)
        #expect(try d.wait(timeout: 10) { try job(d, held).state == .completed })
        #expect(try queue(d, "two-way").note == nil && queue(d, "grid").note == nil)
        _ = try submit(d, ["-q", "grid", "-l", "walltime=12h"])

        let user = try d.vbatch(as: "nobody", ["queue", "stop", "one-way"])
        #expect(user.status != 0 && user.stderr.contains("only operators may change queues"))
        let unknown = try d.vbatch(["queue", "start", "nope"])
        #expect(unknown.status != 0 && unknown.stderr.contains("queue nope does not exist"))
        let hostile = try d.vbatch(["queue", "stop", "one-way", "--reason", "line\nbreak"])
        #expect(hostile.status != 0 && hostile.stderr.contains("reason must be one line"))
    }
}
