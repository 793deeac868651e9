import Foundation
import VBatchAPI

/// P3_cli_vs_sbatch and P8_vs_squeue: vbatch's per-job command line beside Slurm's, on this
/// machine, in one run (scripts/bench-slurm.sh).
///
/// A CE forks one submit process per job and one status process per poll, so those processes'
/// whole cost is the site's rate. Both systems get the same loop (`/bin/sh`, one process per
/// job, output to /dev/null), the same environment, a queue that holds its jobs (a stopped
/// vbatch queue, a `State=DOWN` Slurm partition), and the same number of pending jobs for
/// the status step. The rounds interleave the two systems step by step, and only ratios
/// within a round count: this machine varies by ±15 % from minute to minute. Before each
/// timed step the binaries are read into the page cache (idle file pages are evicted here
/// after about a minute) and each command runs once untimed. Nothing is deleted until the
/// last measurement: creating files near a mass deletion is many times slower on this
/// machine's filesystem.
///
/// vbatch answers a submission only once it is on disk (an fsync per commit); slurmctld
/// writes the job's files without fsync and saves its state every few seconds.
enum SlurmComparison {
    /// One round's measurements.
    struct Round {
        var floorRate = 0.0
        var vbatchStartMs = 0.0, sbatchStartMs = 0.0
        var vbatchRate = 0.0, sbatchRate = 0.0, qsubRate = 0.0
        var statusMs = 0.0, statusTableMs = 0.0, squeueMs = 0.0, squeueJSONMs = 0.0, qstatMs = 0.0
    }

    static let script = "#!/bin/sh\necho hello from a benchmark\n"

    /// Runs `rounds` rounds of submission loops of `jobs` jobs on fresh systems, tops both up to
    /// `pending` single pending jobs, then runs `rounds` rounds of status calls; returns the figures.
    static func run(rounds: Int, jobs: Int, pending: Int) throws -> [Figure] {
        let daemon = try DaemonProcess(nodes: 4, started: false)
        defer { daemon.stop() }
        let slurm = try SlurmController()
        defer {
            slurm.stop()
            slurm.removeFiles()
        }
        let bench = try Setup(daemon: daemon, slurm: slurm)
        var results = [Round](repeating: Round(), count: rounds)

        for r in 0..<rounds {
            results[r].floorRate = Double(jobs) / (try bench.loop("/bin/true", [], jobs))
            let starts = 200
            results[r].vbatchStartMs = try bench.loop(bench.vbatch, ["--version"], starts) * 1000 / Double(starts)
            results[r].sbatchStartMs = try bench.loop(SlurmController.sbatch, ["--version"], starts) * 1000 / Double(starts)
            results[r].vbatchRate = Double(jobs) / (try bench.loop(bench.vbatch, ["submit", bench.script, "-q", "bench"], jobs))
            results[r].sbatchRate = Double(jobs) / (try bench.loop(SlurmController.sbatch, ["-p", slurm.partition, bench.script], jobs))
            results[r].qsubRate = Double(jobs) / (try bench.loop(bench.qsub, ["-q", "bench", bench.script], jobs))
            let x = results[r]
            log("round \(r + 1)/\(rounds): submit vbatch \(Int(x.vbatchRate))/s, sbatch \(Int(x.sbatchRate))/s, qsub \(Int(x.qsubRate))/s "
                + "(\(round2(x.vbatchRate / x.sbatchRate))×); start vbatch \(round2(x.vbatchStartMs)) ms, "
                + "sbatch \(round2(x.sbatchStartMs)) ms; floor \(Int(x.floorRate))/s")
        }

        log("topping both systems up to \(pending) pending jobs (Slurm's as single sbatch calls)")
        try bench.fill(to: pending)
        // Slurm has just written thousands of job files: have them on disk before the status
        // rounds, rather than written back while they run.
        sync()
        sleep(2)
        for r in 0..<rounds {
            let calls = 10
            results[r].statusMs = try bench.loop(bench.vbatch, ["status", "--all", "--json"], calls) * 1000 / Double(calls)
            results[r].squeueMs = try bench.loop(SlurmController.squeue, [], calls) * 1000 / Double(calls)
            results[r].qstatMs = try bench.loop(bench.qstat, [], calls) * 1000 / Double(calls)
            results[r].statusTableMs = try bench.loop(bench.vbatch, ["status", "--all"], calls) * 1000 / Double(calls)
            results[r].squeueJSONMs = try bench.loop(SlurmController.squeue, ["--json"], 2) * 1000 / 2
            let x = results[r]
            log("round \(r + 1)/\(rounds) at \(pending) pending: vbatch status --all --json \(round2(x.statusMs)) ms, "
                + "squeue \(round2(x.squeueMs)) ms (\(round2(x.statusMs / x.squeueMs))×), squeue --json \(round2(x.squeueJSONMs)) ms, "
                + "qstat \(round2(x.qstatMs)) ms, vbatch status --all \(round2(x.statusTableMs)) ms")
        }
        return figures(results, jobs: jobs, pending: pending)
    }

    static func figures(_ rs: [Round], jobs: Int, pending: Int) -> [Figure] {
        func median(_ f: (Round) -> Double) -> Double { Stats.median(rs.map(f)) }
        func list(_ f: (Round) -> Double) -> String { rs.map { String(round2(f($0))) }.joined(separator: " ") }
        let rounds = "median of \(rs.count) interleaved rounds"
        return [
            Figure(
                key: "P3_cli_vs_sbatch", value: round2(median { $0.vbatchRate / $0.sbatchRate }), unit: "× sbatch", target: 1.5,
                lowerIsBetter: false,
                note: "loops of \(jobs) `vbatch submit` \(Int(median(\.vbatchRate))) jobs/s, `sbatch` \(Int(median(\.sbatchRate))) jobs/s; "
                    + "start (--version) \(round2(median(\.vbatchStartMs))) vs \(round2(median(\.sbatchStartMs))) ms; "
                    + "fork/exec floor \(Int(median(\.floorRate)))/s; \(rounds) (ratios \(list { $0.vbatchRate / $0.sbatchRate }))",
                extra: [("vbatch_jobs_s", median(\.vbatchRate).rounded()), ("sbatch_jobs_s", median(\.sbatchRate).rounded()),
                        ("vbatch_start_ms", round2(median(\.vbatchStartMs))), ("sbatch_start_ms", round2(median(\.sbatchStartMs))),
                        ("floor_jobs_s", median(\.floorRate).rounded()), ("rounds", Double(rs.count))]),
            Figure(
                key: "P3_qsub_vs_submit", value: round2(median { $0.qsubRate / $0.vbatchRate }), unit: "× vbatch submit",
                target: 0.9, lowerIsBetter: false,
                note: "loops of \(jobs) `qsub` \(Int(median(\.qsubRate))) jobs/s (\(round2(median { $0.qsubRate / $0.sbatchRate }))× sbatch); "
                    + rounds,
                extra: [("qsub_jobs_s", median(\.qsubRate).rounded()), ("qsub_vs_sbatch", round2(median { $0.qsubRate / $0.sbatchRate }))]),
            Figure(
                key: "P8_vs_squeue", value: round2(median { $0.statusMs / $0.squeueMs }), unit: "× squeue", target: 0.25,
                lowerIsBetter: true,
                note: "\(pending) single pending jobs each: `vbatch status --all --json` \(round2(median(\.statusMs))) ms, "
                    + "`squeue` \(round2(median(\.squeueMs))) ms, `squeue --json` \(round2(median(\.squeueJSONMs))) ms; "
                    + "\(rounds) (ratios \(list { $0.statusMs / $0.squeueMs }))",
                extra: [("vbatch_ms", round2(median(\.statusMs))), ("squeue_ms", round2(median(\.squeueMs))),
                        ("squeue_json_ms", round2(median(\.squeueJSONMs))),
                        ("vs_squeue_json", round3(median { $0.statusMs / $0.squeueJSONMs }))]),
            Figure(
                key: "P8_qstat_vs_status", value: round2(median { $0.qstatMs / $0.statusTableMs }), unit: "× vbatch status --all",
                target: 1.1, lowerIsBetter: true,
                note: "`qstat` \(round2(median(\.qstatMs))) ms, `vbatch status --all` \(round2(median(\.statusTableMs))) ms (both "
                    + "decode the list and print a table) at \(pending) pending; qstat is \(round2(median { $0.qstatMs / $0.squeueMs }))× "
                    + "squeue and \(round2(median { $0.qstatMs / $0.statusMs }))× `vbatch status --all --json`; \(rounds)",
                extra: [("qstat_ms", round2(median(\.qstatMs))), ("status_table_ms", round2(median(\.statusTableMs))),
                        ("qstat_vs_squeue", round2(median { $0.qstatMs / $0.squeueMs })),
                        ("qstat_vs_status_json", round2(median { $0.qstatMs / $0.statusMs }))]),
        ]
    }

    /// The two systems, the job script, the `qsub`/`qstat` links, and the loop that times them.
    struct Setup {
        let daemon: DaemonProcess
        let slurm: SlurmController
        let vbatch = Binaries.path("vbatch")
        let script: String
        let qsub: String
        let qstat: String
        /// The same environment for every command: what a CE's job manager has, plus where each system is.
        let environment: [String: String]

        init(daemon: DaemonProcess, slurm: SlurmController) throws {
            self.daemon = daemon
            self.slurm = slurm
            script = daemon.directory + "/job.sh"
            try SlurmComparison.script.write(toFile: script, atomically: true, encoding: .utf8)
            // Torque's commands are links to the vbatch binary, as scripts/install-ce-commands.sh makes them.
            qsub = daemon.directory + "/qsub"
            qstat = daemon.directory + "/qstat"
            for link in [qsub, qstat] { try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: vbatch) }
            environment = ["PATH": "/usr/bin:/bin", "HOME": NSHomeDirectory(), "USER": NSUserName(), "LOGNAME": NSUserName(),
                           "VBATCH_SOCKET": daemon.socket].merging(slurm.environment) { $1 }
        }

        /// Seconds of a `/bin/sh` loop running `program arguments` `count` times, after reading
        /// the binaries into the page cache and one untimed run.
        func loop(_ program: String, _ arguments: [String], _ count: Int) throws -> Double {
            warmPageCache()
            try Self.shellLoop(program, arguments, 1, environment)
            return try measure { try Self.shellLoop(program, arguments, count, environment) }
        }

        private static func shellLoop(_ program: String, _ arguments: [String], _ count: Int,
                                      _ environment: [String: String]) throws {
            let body = "n=$1; shift; i=0; while [ $i -lt $n ]; do \"$@\" >/dev/null || exit 1; i=$((i+1)); done"
            let status = spawnAndWait("/bin/sh", ["-c", body, "loop", String(count), program] + arguments, environment: environment)
            guard status == 0 else {
                throw BenchError("\(([program] + arguments).joined(separator: " ")) failed in its loop (status \(status))")
            }
        }

        /// Reads vbatch's binary and Slurm's client, library and plugins (as a Slurm client
        /// loads them), so that no timed step pays for evicted pages.
        func warmPageCache() {
            var files = [vbatch, SlurmController.sbatch, SlurmController.squeue, "/bin/sh", "/bin/true"]
            if let plugins = try? FileManager.default.contentsOfDirectory(atPath: SlurmController.libraries) {
                files += plugins.filter { $0.hasSuffix(".so") }.map { SlurmController.libraries + "/" + $0 }
            }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            for file in files {
                let fd = open(file, O_RDONLY)
                guard fd >= 0 else { continue }
                while read(fd, &buffer, buffer.count) > 0 {}
                close(fd)
            }
        }

        /// Both systems to exactly `pending` pending jobs: vbatch by array submissions (each
        /// job its own record), Slurm by single `sbatch` calls in two parallel loops.
        func fill(to pending: Int) throws {
            var have = try daemon.client.jobs(all: true).count
            while have < pending {
                let n = min(pending - have, 5000)
                _ = try daemon.client.submit(SubmitRequest(name: "bench", queue: "bench", walltime: 3600,
                                                           script: SlurmComparison.script, count: n))
                have += n
            }
            let missing = pending - (try slurm.pendingCount())
            if missing > 0 {
                let half = missing / 2
                let loops = [half, missing - half].filter { $0 > 0 }
                let failures = LockedCounter()
                let (arguments, environment) = (["-p", slurm.partition, script], environment)
                DispatchQueue.concurrentPerform(iterations: loops.count) { i in
                    do { try Self.shellLoop(SlurmController.sbatch, arguments, loops[i], environment) } catch { failures.increment() }
                }
                guard failures.value == 0 else { throw BenchError("filling Slurm with sbatch failed") }
            }
            let counts = (vbatch: try daemon.client.jobs(all: true).count, slurm: try slurm.pendingCount())
            guard counts.vbatch == pending, counts.slurm == pending else {
                throw BenchError("expected \(pending) pending jobs in each, have vbatch \(counts.vbatch), Slurm \(counts.slurm)")
            }
        }
    }

    static func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }
    static func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
}
