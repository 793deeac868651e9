import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// The crash matrix (docs/reliability.md, R1): vbatchd killed with SIGKILL at each step of a
/// job's life, through the crash points a debug build honours (`VBATCH_CRASH_AT`), then
/// started again. Afterwards every acknowledged job is there once and ends once, every
/// history is consistent, and on libvirt no job ran in two VMs and no VM or volume is left.
///
/// `VBATCH_R1_ROUNDS` (rounds per step on simulated nodes, default 1), `VBATCH_R1_SUBMISSIONS`
/// (per simulated round, default 200) and `VBATCH_R1_VM_ROUNDS` (per step on libvirt, default
/// 1) set the size; scripts/reliability.sh runs the long version.
@Suite("Crash matrix (R1)", .serialized)
struct CrashMatrixTests {
    static let environment = ProcessInfo.processInfo.environment
    static let rounds = ReliabilityRecord.rounds("VBATCH_R1_ROUNDS", default: 1)
    static let submissions = ReliabilityRecord.rounds("VBATCH_R1_SUBMISSIONS", default: 200)
    static let vmRounds = ReliabilityRecord.rounds("VBATCH_R1_VM_ROUNDS", default: 1)
    /// `VBATCH_R1_STEPS` (comma-separated) runs only these steps.
    static let only = environment["VBATCH_R1_STEPS"].map { Set($0.split(separator: ",").map(String.init)) }

    /// A queue with room for a thousand short jobs on a few simulated nodes.
    static let queue = """
        [queue.crash]
        type = "execution"
        description = "Crash matrix"
        environments = ["testguest"]
        walltime_max = "1h"
        default_memory = "64mb"
        max_queued = 100000
        """

    /// What one step's rounds found, summed.
    struct Tally: CustomStringConvertible {
        var rounds = 0, killed = 0, acknowledged = 0, lost = 0, duplicated = 0, unended = 0
        var inconsistent = 0, runTwice = 0, leftBehind = 0, reruns = 0
        var problems: [String] = []
        var description: String {
            "rounds=\(rounds) killed=\(killed) acknowledged=\(acknowledged) lost=\(lost) duplicated=\(duplicated) "
                + "unended=\(unended) inconsistent=\(inconsistent) run_twice=\(runTwice) left_behind=\(leftBehind) reruns=\(reruns)"
        }
        var clean: Bool { killed == rounds && lost + duplicated + unended + inconsistent + runTwice + leftBehind == 0 }
        var checks: [String: Int] {
            ["killed": killed, "acknowledged": acknowledged, "lost": lost, "duplicated": duplicated, "unended": unended,
             "inconsistent": inconsistent, "run_twice": runTwice, "left_behind": leftBehind, "reruns": reruns]
        }
    }

    // MARK: - Simulated nodes

    /// The steps a simulated node goes through (the disk, domain and output steps are libvirt's).
    static let simulatedSteps = ["submit", "commit", "place", "running", "end"]

    @Test(arguments: simulatedSteps)
    func simulatedNodes(step: String) throws {
        guard Self.only?.contains(step) ?? true else { return }
        var tally = Tally()
        for round in 0..<Self.rounds {
            try simulatedRound(step: step, round: round, into: &tally)
        }
        var checks = tally.checks
        checks["submissions"] = Self.submissions * Self.rounds
        try ReliabilityRecord(id: "R1", subject: "simulated nodes, killed at \(step)", rounds: tally.rounds, checks: checks,
                              passed: tally.clean).append()
        #expect(tally.clean, "\(step): \(tally) \(tally.problems.prefix(5))")
    }

    /// One round: submissions from four clients until the daemon kills itself at the step's
    /// N-th passage (N varies by round), a restart, every job run to its end, then the checks.
    func simulatedRound(step: String, round: Int, into tally: inout Tally) throws {
        let d = try DaemonHarness(nodes: 8, slots: 16, queues: ["crash.toml": Self.queue])
        let total = Self.submissions
        // Where in the job stream the kill falls: early, middle or late, by round.
        let spread = step == "place" ? 6 : max(1, total / 2)
        let n = 1 + (round * 7_919 + step.count * 31) % spread
        try d.start(environment: ["VBATCH_CRASH_AT": "\(step):\(n)"])
        let acknowledged = Acknowledged()
        let next = Counter()
        let client = d.client
        /// Four clients submit until `total` submissions were tried or the daemon stops answering.
        @Sendable func submitAll() {
            let submitters = (0..<4).map { _ in
                Thread {
                    let request = SubmitRequest(name: "crash", queue: "crash", script: "#!/bin/sh\ntrue\n",
                                                variables: ["VBATCH_SIM_RUNTIME": "0.3"])
                    while next.take() < total {
                        guard let response = try? client.submit(request) else { return }
                        acknowledged.add(response.ids)
                    }
                }
            }
            submitters.forEach { $0.start() }
            while submitters.contains(where: { !$0.isFinished }) { usleep(10_000) }
        }
        let feeding = Thread { submitAll() }
        feeding.start()
        try awaitCrash(d, at: "\(step):\(n)", timeout: 120, round: round, into: &tally)
        while !feeding.isFinished { usleep(10_000) }
        // The rest of the round's submissions go to the restarted daemon.
        submitAll()
        try check(d, acknowledged: acknowledged.ids, into: &tally, round: round, simulated: true)
    }

    // MARK: - Real VMs

    /// Every step, on this machine's libvirtd with the test guest.
    static let vmSteps = ["submit", "commit", "place", "prepare", "define", "running", "end", "collect"]

    @Test(arguments: vmSteps)
    func realVMs(step: String) async throws {
        guard Self.only?.contains(step) ?? true else { return }
        var tally = Tally()
        for round in 0..<Self.vmRounds {
            try await vmRound(step: step, round: round, into: &tally)
        }
        try ReliabilityRecord(id: "R1", subject: "real VMs, killed at \(step)", rounds: tally.rounds, checks: tally.checks,
                              passed: tally.clean).append()
        #expect(tally.clean, "\(step): \(tally) \(tally.problems.prefix(5))")
    }

    func vmRound(step: String, round: Int, into tally: inout Tally) async throws {
        let d = try DaemonHarness(site: DaemonHarness.libvirtSite())
        try d.start(environment: ["VBATCH_CRASH_AT": step])
        var acknowledged: [Int64] = []
        var request = SubmitRequest(name: "crash-\(step)", queue: "one-way", script: "#!/bin/sh\nsleep 3\necho ran once\n")
        request.walltime = 600
        if let response = try? d.client.submit(request) { acknowledged = response.ids }
        try awaitCrash(d, at: step, timeout: 180, round: round, into: &tally)
        try check(d, acknowledged: acknowledged, into: &tally, round: round, simulated: false)
        // Every job the daemon knows ran once, in one VM, to its end, and its output came back.
        for job in try d.client.history(all: true, limit: 1_000_000) where job.name != Self.probeName {
            let detail = try d.client.job(job.id)
            if JobHistoryCheck.runs(detail.history) != 1 {
                tally.runTwice += 1
                tally.problems.append("job \(job.id) ran in \(JobHistoryCheck.runs(detail.history)) VMs: \(detail.history.map(\.reason))")
            }
            let output = try d.client.output(job.id)
            if job.state != .completed || job.exitCode != 0 || output.stdout != "ran once\n" {
                tally.problems.append("job \(job.id) ended \(job.state.rawValue) (\(job.reason ?? "")), stdout \(output.stdout.debugDescription)")
                tally.unended += 1
            }
        }
        d.stop()
        let left = try await LibvirtLeftovers.find()
        if !left.isEmpty {
            tally.leftBehind += left.count
            tally.problems.append("left behind on libvirtd: \(left)")
        }
    }

    // MARK: - Checks

    /// Waits for the armed daemon to kill itself (counted when it died of SIGKILL), then
    /// starts it again, unarmed.
    func awaitCrash(_ d: DaemonHarness, at point: String, timeout: Double, round: Int, into tally: inout Tally) throws {
        let died = try d.wait(timeout: timeout) { d.process?.isRunning == false }
        tally.rounds += 1
        if died, let p = d.process, p.terminationReason == .uncaughtSignal, p.terminationStatus == SIGKILL {
            tally.killed += 1
        } else {
            tally.problems.append("round \(round): the daemon was not killed at \(point)")
        }
        d.kill9()
        try d.start()
    }

    /// The held job each round submits last to see that ids keep growing; cancelled at once.
    static let probeName = "id-probe"

    /// Waits for every job to end, then counts what the matrix forbids.
    func check(_ d: DaemonHarness, acknowledged: [Int64], into tally: inout Tally, round: Int, simulated: Bool) throws {
        tally.acknowledged += acknowledged.count
        let settled = try d.wait(timeout: simulated ? 180 : 240) { try d.client.jobs(all: true).isEmpty }
        if !settled {
            let open = try d.client.jobs(all: true)
            tally.unended += open.count
            tally.problems.append("round \(round): \(open.count) jobs never ended, e.g. \(open.prefix(3).map { "\($0.id) \($0.state.rawValue)" })")
        }
        let ended = try d.client.history(all: true, limit: 1_000_000)
        let ids = ended.map(\.id)
        tally.duplicated += ids.count - Set(ids).count
        let lost = Set(acknowledged).subtracting(ids)
        tally.lost += lost.count
        if !lost.isEmpty { tally.problems.append("round \(round): acknowledged jobs lost: \(lost.sorted().prefix(10))") }
        for job in ended {
            if job.state != .completed {
                tally.unended += 1
                tally.problems.append("job \(job.id) \(job.state.rawValue): \(job.reason ?? "")")
            }
            let history = try d.client.job(job.id).history
            let problems = JobHistoryCheck.problems(history)
            if !problems.isEmpty {
                tally.inconsistent += 1
                tally.problems.append("job \(job.id): \(problems) in \(history.map { "\($0.state.rawValue): \($0.reason)" })")
            }
            tally.reruns += max(0, JobHistoryCheck.runs(history) - 1)
        }
        // Ids keep growing past every id handed out before the kill.
        let next = try d.client.submit(SubmitRequest(name: Self.probeName, queue: simulated ? "crash" : "one-way",
                                                     script: "#!/bin/sh\ntrue\n", held: true))
        if next.ids[0] <= (acknowledged.max() ?? 0) {
            tally.duplicated += 1
            tally.problems.append("round \(round): id \(next.ids[0]) handed out again")
        }
        _ = try d.client.cancel(next.ids[0])
    }
}

/// A shared counter for the submitting threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    /// The value before this call's increment.
    func take() -> Int { lock.withLock { defer { value += 1 }; return value } }
}
