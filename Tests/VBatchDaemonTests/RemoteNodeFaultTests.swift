import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// Nodes that fail while jobs run on them and on the other hosts: libvirtd killed or frozen,
/// the link cut, the node fenced, and a site where most nodes never answer. Jobs on the
/// healthy hosts finish normally; a job on the failed host is settled once, when its VM is
/// known gone or found again.
///
/// These are figures R2 (libvirtd killed, frozen) and R3 (link cut, fenced) of
/// docs/reliability.md: `VBATCH_R23_ROUNDS` (default 1) repeats each case, and each round
/// appends its result to `$VBATCH_RELIABILITY_OUT` (scripts/reliability.sh).
@Suite("Worker nodes that fail", .serialized)
final class RemoteNodeFaultTests {
    let hosts: TestHosts
    static let rounds = Array(0..<ReliabilityRecord.rounds("VBATCH_R23_ROUNDS", default: 1))

    init() throws {
        hosts = try TestHosts.load()
        try hosts.reset()
    }

    deinit {
        for host in hosts.hosts {
            try? hosts.setLink(host.name, up: true)
            if let pid = try? hosts.libvirtdPID(host.name) { kill(pid, SIGCONT) }
        }
        try? hosts.reset()
    }

    /// A daemon on the three hosts with one job running on each; returns the job on wn3 and the others.
    func threeRunningJobs(_ script: String, site: String? = nil, queues: [String: String] = [:]) throws
        -> (DaemonHarness, victim: Int64, others: [Int64]) {
        let d = try DaemonHarness(site: site ?? hosts.site(), queues: queues)
        try d.start()
        try d.waitNodes(["wn1", "wn2", "wn3"], link: "up")
        let ids = try d.submitJobs(script, ["-q", "two-way", "--count", "3"])
        try d.waitRunning(ids)
        let victim = try #require(try ids.first { try d.client.job($0).job.node == "wn3" }, "spread puts one job on each host")
        return (d, victim, ids.filter { $0 != victim })
    }

    /// One round's result for docs/reliability.md: the failed host's job settled as `victimStates`
    /// says (once), and every other job completed.
    func record(_ figure: String, _ fault: String, _ d: DaemonHarness, victim: Int64, victimStates: [String],
                others: [Int64]) throws {
        let states = try d.states(victim)
        let victimDone = try d.client.job(victim).job
        let othersDone = try others.filter { try d.client.job($0).job.state == .completed }.count
        let clean = states == victimStates && victimDone.state == .completed && victimDone.exitCode == 0 && othersDone == others.count
        try ReliabilityRecord(id: figure, subject: fault, rounds: 1,
                              checks: ["victim_settled_once": states == victimStates ? 1 : 0, "others": others.count,
                                       "others_completed": othersDone], passed: clean).append()
    }

    func expectCompleted(_ d: DaemonHarness, _ ids: [Int64], stdout: (Int64) -> String) throws {
        for id in ids {
            let job = try d.client.job(id).job
            #expect(job.state == .completed && job.exitCode == 0, "job \(id): \(job.state) \(job.reason ?? "")")
            #expect(try d.client.output(id).stdout == stdout(id))
        }
    }

    @Test("libvirtd on a host killed -9 and restarted: its VM keeps running and is settled, the other hosts' jobs finish", arguments: rounds)
    func libvirtdKilled(round: Int) throws {
        let (d, victim, others) = try threeRunningJobs("#!/bin/sh\nsleep 25\necho done $VBATCH_JOB_ID\n")
        try hosts.script(["stop", "wn3", "--kill"])
        try d.waitNodes(["wn3"], link: "unreachable")
        let note = try d.client.job(victim).node ?? ""
        #expect(note.contains("wn3 unreachable") && note.contains("keeps its slots"), "\(note)")
        #expect(try d.vbatch(["show", String(victim)]).stdout.contains("unreachable"))
        // Its QEMU process lives on without libvirtd.
        let qemu = try DaemonHarness.run("/usr/bin/pgrep", ["-f", "guest=vbatch-job-\(victim)"], environment: [:], stdin: nil)
        #expect(qemu.status == 0, "the VM of job \(victim) survived libvirtd")
        try d.waitEnded(others)
        try expectCompleted(d, others) { "done \($0)\n" }
        try hosts.script(["start", "wn3"])
        try d.waitNodes(["wn3"], link: "up")
        try d.waitEnded([victim])
        try expectCompleted(d, [victim]) { "done \($0)\n" }
        #expect(try d.states(victim) == ["queued", "starting", "running", "completed"])
        #expect(try hosts.domains("wn3").isEmpty)
        #expect(try hosts.volumes("wn3", pool: "vbatch-jobs").isEmpty)
        try record("R2", "libvirtd killed -9", d, victim: victim,
                   victimStates: ["queued", "starting", "running", "completed"], others: others)
    }

    @Test("libvirtd on a host stopped for 60 s: nothing else stalls, its VM survives and its job ends once", arguments: rounds)
    func libvirtdFrozen(round: Int) throws {
        let (d, victim, others) = try threeRunningJobs("#!/bin/sh\nsleep 20\necho done $VBATCH_JOB_ID\n")
        let pid = try hosts.libvirtdPID("wn3")
        kill(pid, SIGSTOP)
        let frozenAt = Date()
        defer { kill(pid, SIGCONT) }
        try d.waitNodes(["wn3"], link: "unreachable", timeout: 50)
        // The daemon answers at once and a new job starts on a healthy host.
        for _ in 0..<5 {
            let start = Date()
            #expect(try d.vbatch(["status", "--all"]).status == 0)
            #expect(Date().timeIntervalSince(start) < 1, "vbatch status took \(Date().timeIntervalSince(start)) s")
        }
        let quick = try d.submitJobs("#!/bin/sh\necho quick\n", ["-q", "two-way"])
        try d.waitEnded(quick, timeout: 60)
        #expect(try d.client.job(quick[0]).job.node != "wn3")
        try d.waitEnded(others, timeout: 60)
        try expectCompleted(d, others + quick) { $0 == quick[0] ? "quick\n" : "done \($0)\n" }
        #expect(Date().timeIntervalSince(frozenAt) < 60, "the healthy hosts' jobs did not wait for the frozen one")
        Thread.sleep(forTimeInterval: max(0, 60 - Date().timeIntervalSince(frozenAt)))
        kill(pid, SIGCONT)
        try d.waitNodes(["wn3"], link: "up", timeout: 90)
        try d.waitEnded([victim], timeout: 90)
        try expectCompleted(d, [victim]) { "done \($0)\n" }
        #expect(try d.states(victim) == ["queued", "starting", "running", "completed"])
        try record("R2", "libvirtd stopped (SIGSTOP) 60 s", d, victim: victim,
                   victimStates: ["queued", "starting", "running", "completed"], others: others + quick)
    }

    @Test("a host's link cut and restored: unreachable, then settled; a VM past its lease counts as gone", arguments: rounds)
    func linkCut(round: Int) throws {
        let queues = ["wn3.toml": """
            [queue.onwn3]
            type = "execution"
            environments = ["testguest"]
            walltime_max = "1h"
            nodes = ["wn3"]

            [queue.leased]
            type = "execution"
            environments = ["testguest"]
            walltime_max = "1h"
            nodes = ["wn3"]
            on_node_loss = "fail"
            """]
        let d = try DaemonHarness(site: hosts.site(extra: "lease_margin = \"15s\""), queues: queues)
        try d.start()
        try d.waitNodes(["wn1", "wn2", "wn3"], link: "up")
        let finishes = try d.submitJobs("#!/bin/sh\nsleep 20\necho finished while cut off\n", ["-q", "onwn3"])[0]
        let overruns = try d.submitJobs("#!/bin/sh\nsleep 600\n", ["-q", "leased", "-l", "walltime=30s"])[0]
        let elsewhere = try d.submitJobs("#!/bin/sh\nsleep 10\necho elsewhere\n", ["-q", "two-way"])[0]
        try d.waitRunning([finishes, overruns, elsewhere])
        #expect(try d.client.job(elsewhere).job.node != "wn3")
        try hosts.setLink("wn3", up: false)
        defer { try? hosts.setLink("wn3", up: true) }
        try d.waitNodes(["wn3"], link: "unreachable", timeout: 60)
        #expect((try d.client.job(finishes).node ?? "").contains("wn3 unreachable"))
        let qstat = try PBSCommands(d).run("qstat", ["-f", String(finishes)]).stdout
        #expect(qstat.contains("comment = node wn3 unreachable since"), "\(qstat)")
        try d.waitEnded([elsewhere])
        try expectCompleted(d, [elsewhere]) { _ in "elsewhere\n" }
        // The overrunning job's VM powers itself off at walltime + grace + 10 s; 15 s later the
        // daemon takes it as gone and fails it (its queue says on_node_loss = "fail").
        try d.waitEnded([overruns], timeout: 120)
        let lost = try d.client.job(overruns).job
        #expect(lost.state == .failed && (lost.reason ?? "").contains("lease"), "\(lost.state) \(lost.reason ?? "")")
        #expect(try d.client.job(finishes).job.state == .running, "its VM's fate is unknown: it keeps its slots")
        try hosts.setLink("wn3", up: true)
        try d.waitNodes(["wn3"], link: "up", timeout: 90)
        try d.waitEnded([finishes])
        try expectCompleted(d, [finishes]) { _ in "finished while cut off\n" }
        #expect(try d.states(overruns).filter { $0 == "failed" }.count == 1)
        #expect(try hosts.domains("wn3").isEmpty)
        #expect(try hosts.volumes("wn3", pool: "vbatch-jobs").isEmpty)
        let overrunOnce = try d.states(overruns) == ["queued", "starting", "running", "failed"]
        try record("R3", "link cut and restored", d, victim: finishes,
                   victimStates: ["queued", "starting", "running", "completed"] + (overrunOnce ? [] : ["(overrun not failed once)"]),
                   others: [elsewhere])
    }

    @Test("a fenced host: its job is requeued once and runs elsewhere; its stale VM is destroyed when it returns", arguments: rounds)
    func fencedHost(round: Int) throws {
        let (d, victim, others) = try threeRunningJobs("#!/bin/sh\nsleep 30\necho run of $VBATCH_JOB_ID\n")
        try hosts.setLink("wn3", up: false)
        defer { try? hosts.setLink("wn3", up: true) }
        try d.waitNodes(["wn3"], link: "unreachable", timeout: 60)
        #expect(try d.vbatch(["node", "fence", "wn3"]).status != 0, "a fence needs a reason")
        let fence = try d.vbatch(["node", "fence", "wn3", "--reason", "powered off at the PDU"])
        #expect(fence.status == 0, "\(fence.stderr)")
        let requeued = try d.client.job(victim).history.filter { $0.state == .queued }
        #expect(requeued.count == 2 && requeued.last!.reason.contains("fenced"), "\(requeued.map(\.reason))")
        try d.waitEnded(others + [victim], timeout: 240)
        try expectCompleted(d, others + [victim]) { "run of \($0)\n" }
        #expect(try d.client.job(victim).job.node != "wn3")
        #expect(try d.states(victim).filter { $0 == "completed" }.count == 1)
        // Back on the network, wn3 is still fenced: its stale VM and volumes go, no job comes.
        try hosts.setLink("wn3", up: true)
        try d.waitNodes(["wn3"], link: "up", timeout: 90)
        #expect(try d.wait(timeout: 60) { try hosts.domains("wn3").isEmpty && (try hosts.volumes("wn3", pool: "vbatch-jobs")).isEmpty })
        let node = try #require(try d.client.nodes().first { $0.name == "wn3" })
        #expect(node.fenced && node.state == "fenced" && (node.note ?? "").contains("PDU"))
        #expect(try d.vbatch(["pbsnodes", "-l"]).stdout.contains("wn3"))
        #expect(try d.client.output(victim).stdout == "run of \(victim)\n")
        // Kept across a restart, until resumed.
        d.stop()
        try d.start()
        try d.waitNodes(["wn3"], link: "up")
        #expect(try d.client.nodes().first { $0.name == "wn3" }?.fenced == true)
        #expect(try d.vbatch(["node", "resume", "wn3"]).status == 0)
        #expect(try d.client.nodes().first { $0.name == "wn3" }?.state == "free")
        try record("R3", "node fenced", d, victim: victim,
                   victimStates: ["queued", "starting", "running", "queued", "starting", "running", "completed"], others: others)
    }

    @Test("200 configured nodes of which 197 never answer: the daemon starts, answers fast, runs jobs on the 3 live ones, few threads")
    func mostNodesNeverAnswer() throws {
        #expect(hosts.dead.count >= 197, "test-hosts.sh up 3 --dead 197 makes the dead addresses")
        let dead = hosts.dead.prefix(197).enumerated().map { i, address in
            "[node.dead\(i + 1)]\nuri = \"qemu+tls://\(address)/system\"\ncpus = \"0-1\"\nmemory = \"2gb\"\n"
        }.joined(separator: "\n")
        let d = try DaemonHarness(site: hosts.site(nodes: dead))
        let started = Date()
        try d.start()
        let startup = Date().timeIntervalSince(started)
        #expect(startup < 10, "vbatchd answered its socket after \(startup) s")
        var slowest = 0.0
        for _ in 0..<10 {
            let start = Date()
            #expect(try d.vbatch(["status", "--all"]).status == 0)
            slowest = max(slowest, Date().timeIntervalSince(start))
        }
        #expect(slowest < 1, "vbatch status took up to \(slowest) s")
        try d.waitNodes(["wn1", "wn2", "wn3"], link: "up")
        let ids = try d.submitJobs("#!/bin/sh\necho alive $VBATCH_JOB_ID\n", ["-q", "two-way", "--count", "6"])
        try d.waitEnded(ids)
        try expectCompleted(d, ids) { "alive \($0)\n" }
        let nodes = try d.client.nodes()
        #expect(nodes.filter { $0.link == "unreachable" }.count == 197)
        #expect(try ids.allSatisfy { ["wn1", "wn2", "wn3"].contains(try d.client.job($0).job.node ?? "") })
        let pid = try #require(d.process?.processIdentifier)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let threads = Int(status.split(separator: "\n").first { $0.hasPrefix("Threads:") }?.split(separator: "\t").last ?? "") ?? 0
        print("vbatchd with 200 nodes (197 dead): \(threads) threads after \(Int(Date().timeIntervalSince(started))) s")
        #expect(threads > 0 && threads <= 64)
    }
}
