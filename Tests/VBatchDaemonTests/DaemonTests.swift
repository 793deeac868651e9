import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// The daemon and the CLI end to end, as real processes, on simulated nodes.
@Suite("Daemon and CLI", .serialized)
struct DaemonTests {
    static let script = "#!/bin/sh\necho hello\n"

    func submit(_ d: DaemonHarness, _ args: [String]) throws -> Int64 {
        let path = try d.writeScript(Self.script)
        let r = try d.vbatch(["submit", path] + args)
        guard r.status == 0, let id = Int64(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("submit failed (\(r.status)): \(r.stderr)")
        }
        return id
    }

    func state(_ d: DaemonHarness, _ id: Int64) throws -> JobState { try d.client.job(id).job.state }

    @Test func gridRoutesToEachDestinationAndRejectsWithReasons() throws {
        let d = try DaemonHarness()
        try d.start()
        let short = try submit(d, ["-q", "grid", "-l", "walltime=2h"])
        let long = try submit(d, ["-q", "grid", "-l", "walltime=12h"])
        #expect(try d.client.job(short).job.queue == "one-way")
        #expect(try d.client.job(long).job.queue == "two-way")
        #expect(try d.client.job(short).job.submitQueue == "grid")

        let path = try d.writeScript(Self.script)
        let rejected = try d.vbatch(["submit", path, "-q", "grid", "-l", "walltime=30h"])
        #expect(rejected.status != 0)
        #expect(rejected.stdout.isEmpty)
        let lines = rejected.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(rejected.stderr.contains("one-way: walltime 1d6h exceeds the maximum of 10h"))
        #expect(rejected.stderr.contains("two-way: walltime 1d6h exceeds the maximum of 1d"))
        #expect(rejected.stderr.contains("cms-long: users outside a VO may not use it"))
    }

    @Test func defaultWalltimeAndLimitsOnDirectSubmit() throws {
        let d = try DaemonHarness()
        try d.start()
        let id = try submit(d, ["-q", "grid"])
        #expect(try d.client.job(id).job.walltime == 3600)
        let two = try submit(d, ["-q", "two-way"])
        #expect(try d.client.job(two).job.walltime == 7200)
        let path = try d.writeScript(Self.script)
        let tooMany = try d.vbatch(["submit", path, "-q", "two-way", "-l", "cores=2"])
        #expect(tooMany.status != 0)
        #expect(tooMany.stderr.contains("2 cores exceed the maximum of 1"))
    }

    @Test func jobsRunCompleteAndRecordHistory() throws {
        let d = try DaemonHarness()
        try d.start()
        let ok = try submit(d, ["-q", "grid", "-v", "VBATCH_SIM_RUNTIME=0.2"])
        let bad = try submit(d, ["-q", "grid", "-v", "VBATCH_SIM_RUNTIME=0.2", "-v", "VBATCH_SIM_EXIT=3"])
        #expect(try d.wait { try state(d, ok) == .completed && state(d, bad) == .completed })
        #expect(try d.client.job(ok).job.exitCode == 0)
        let detail = try d.client.job(bad)
        #expect(detail.job.exitCode == 3)
        #expect(detail.history.map(\.state) == [.queued, .starting, .running, .completed])
        #expect(detail.history.last?.reason == "exited with code 3")
        let show = try d.vbatch(["show", String(bad)])
        #expect(show.status == 0)
        #expect(show.stdout.contains("exited with code 3"))
        let history = try d.vbatch(["history", "--json"])
        let finished = try JSONDecoder().decode([JobInfo].self, from: Data(history.stdout.utf8))
        #expect(Set(finished.map(\.id)) == [ok, bad])
        let recent = try d.vbatch(["history", "--json", "--since", "1h"])
        #expect(Set(try JSONDecoder().decode([JobInfo].self, from: Data(recent.stdout.utf8)).map(\.id)) == [ok, bad])
        let future = try d.vbatch(["history", "--json", "--since", "2999-01-01"])
        #expect(future.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        #expect(try d.vbatch(["history", "--since", "soon"]).stderr.contains("--since 'soon' is not a time"))
    }

    @Test func walltimeIsEnforced() throws {
        let d = try DaemonHarness()
        try d.start()
        let id = try submit(d, ["-q", "grid", "-l", "walltime=1s", "-v", "VBATCH_SIM_RUNTIME=600"])
        #expect(try d.wait { try state(d, id).isTerminal })
        let job = try d.client.job(id).job
        #expect(job.state == .failed)
        #expect(job.reason == "killed: walltime of 1s exceeded")
    }

    @Test func oneWayRunsOneJobPerNode() throws {
        let d = try DaemonHarness(nodes: 1, slots: 4)
        try d.start()
        let a = try submit(d, ["-q", "one-way", "-v", "VBATCH_SIM_RUNTIME=2"])
        let b = try submit(d, ["-q", "one-way", "-v", "VBATCH_SIM_RUNTIME=2"])
        #expect(try d.wait { try state(d, a) == .running })
        #expect(try state(d, b) == .queued)
        let nodes = try d.client.nodes()
        #expect(nodes[0].jobs == [a])
        #expect(try d.wait { try state(d, b) == .running || state(d, b) == .completed })
        #expect(try state(d, a) == .completed)
    }

    @Test func cancelHoldAndRelease() throws {
        let d = try DaemonHarness(nodes: 1, slots: 2)
        try d.start()
        let running = try submit(d, ["-q", "one-way", "-v", "VBATCH_SIM_RUNTIME=600"])
        let waiting = try submit(d, ["-q", "one-way"])
        #expect(try d.wait { try state(d, running) == .running })
        #expect(try d.vbatch(["hold", String(waiting)]).status == 0)
        #expect(try state(d, waiting) == .held)
        // Holding a running job saves its VM; released, it is restored and runs on.
        #expect(try d.vbatch(["hold", String(running)]).status == 0)
        #expect(try state(d, running) == .saved)
        #expect(try d.vbatch(["release", String(running)]).status == 0)
        #expect(try d.wait { try state(d, running) == .running })
        #expect(try state(d, waiting) == .held)
        #expect(try d.vbatch(["release", String(waiting)]).status == 0)
        #expect(try state(d, waiting) == .queued)
        #expect(try d.vbatch(["cancel", String(waiting)]).status == 0)
        #expect(try state(d, waiting) == .cancelled)
        #expect(try d.vbatch(["cancel", String(running)]).status == 0)
        #expect(try d.wait { try state(d, running) == .cancelled })
        #expect(try d.client.job(running).history.last?.reason == "cancelled by root")
        let again = try d.vbatch(["cancel", String(running)])
        #expect(again.status != 0)
        #expect(again.stderr.contains("has already ended"))
        let unknown = try d.vbatch(["show", "99999"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("job 99999 does not exist"))
    }

    @Test func arraySubmitIsOneAcknowledgement() throws {
        let d = try DaemonHarness()
        try d.start()
        let path = try d.writeScript(Self.script)
        let r = try d.vbatch(["submit", path, "-q", "two-way", "--count", "50", "--hold"])
        #expect(r.status == 0)
        let ids = r.stdout.split(separator: "\n").compactMap { Int64($0) }
        #expect(ids.count == 50)
        #expect(ids == Array(ids[0]...ids[0] + 49))
        let status = try d.vbatch(["status", "--all", "--json"])
        let jobs = try JSONDecoder().decode([JobInfo].self, from: Data(status.stdout.utf8))
        #expect(jobs.filter { $0.state == .held }.count == 50)
        let table = try d.vbatch(["status"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("held"))
        #expect(try d.vbatch(["queues"]).stdout.contains("two-way"))
        #expect(try d.vbatch(["nodes", "--json"]).status == 0)
    }

    @Test func hostileFieldsAreRejectedWithAMessage() throws {
        let d = try DaemonHarness()
        try d.start()
        func rejected(_ request: SubmitRequest) -> String? {
            do {
                _ = try d.client.submit(request)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let base = SubmitRequest(queue: "grid", script: Self.script)
        var r = base
        r.name = "<domain type='kvm'>&\"x\""
        #expect(rejected(r)?.contains("job name must be") == true)
        r = base
        r.name = "../../etc/passwd"
        #expect(rejected(r)?.contains("job name must be") == true)
        r = base
        r.name = "a\nb"
        #expect(rejected(r) != nil)
        r = base
        r.variables = ["X": "a\u{0}b"]
        #expect(rejected(r)?.contains("NUL") == true)
        r = base
        r.variables = ["BAD NAME": "x"]
        #expect(rejected(r)?.contains("environment variable name") == true)
        r = base
        r.environment = "../testguest"
        #expect(rejected(r)?.contains("environment name is not valid") == true)
        r = base
        r.count = 10_000_000
        #expect(rejected(r)?.contains("count must be between") == true)
        r = base
        r.walltime = Int.max / 2
        #expect(rejected(r)?.contains("walltime must be between") == true)
        r = base
        r.script = String(repeating: "x", count: API.maxScriptBytes + 1)
        #expect(rejected(r)?.contains("script is larger") == true)
        // Values with markup are fine as data: they never become structure.
        r = base
        r.variables = ["GREETING": "<b>&'\"</b>"]
        #expect(rejected(r) == nil)
    }

    @Test func identityComesFromThePeerCredentials() throws {
        let d = try DaemonHarness()
        try d.start()
        let rootJob = try submit(d, ["-q", "two-way", "--hold"])
        let whoami = try d.vbatch(as: "nobody", ["whoami", "--json"])
        let me = try JSONDecoder().decode(WhoAmI.self, from: Data(whoami.stdout.utf8))
        #expect(me.user == "nobody" && !me.isOperator && me.vo == nil)
        // nobody sees none of root's jobs and may not list everyone's.
        #expect(try d.vbatch(as: "nobody", ["status", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let all = try d.vbatch(as: "nobody", ["status", "--all"])
        #expect(all.status != 0 && all.stderr.contains("only operators may list every user's jobs"))
        for command in ["show", "cancel", "hold", "release"] {
            let r = try d.vbatch(as: "nobody", [command, String(rootJob)])
            #expect(r.status != 0, "\(command) of another user's job must fail")
            #expect(r.stderr.contains("belongs to another user"))
        }
        #expect(try state(d, rootJob) == .held)
        // nobody's own job is nobody's; root, an operator, sees both.
        let path = try d.writeScript(Self.script, name: "nobody.sh")
        chmod(path, 0o644)
        let own = try d.vbatch(as: "nobody", ["submit", path, "-q", "two-way", "--hold"])
        #expect(own.status == 0, "\(own.stderr)")
        let ownID = Int64(own.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(try d.client.job(ownID).job.owner == "nobody")
        #expect(try d.vbatch(as: "nobody", ["cancel", String(ownID)]).status == 0)
        #expect(Set(try d.client.jobs(all: true).map(\.id)) == [rootJob])
    }

    @Test func configErrorsNameFileLineAndKey() throws {
        let d = try DaemonHarness(queues: ["broken.toml": """
            [queue.broken]
            type = "execution"
            environments = ["testguest"]
            walltime_mx = "1h"
            walltime_max = "1h"
            """])
        let r = try DaemonHarness.vbatchd(["--check", "--config", d.configDirectory])
        #expect(r.status != 0)
        #expect(r.stderr.contains("broken.toml:4: queue.broken.walltime_mx"))
        let good = try DaemonHarness.vbatchd(["--check", "--config", DaemonHarness.repository])
        #expect(good.status == 0)
        #expect(good.stdout.contains("configuration OK"))
    }
}
