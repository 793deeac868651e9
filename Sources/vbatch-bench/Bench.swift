import ArgumentParser
import Foundation

/// `vbatch-bench`: prints the figures of DESIGN.md's targets table.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vbatch-bench",
        abstract: "Measure vbatch against the performance targets (build with -c release).")

    @Flag(name: .long, help: "Print one JSON object: {KEY: {value, unit, target}}.")
    var json = false

    @Option(name: .long, parsing: .upToNextOption, help: "Only these figures (e.g. P1 P8).")
    var only: [String] = []

    @Option(name: .long, help: "Pending jobs for P6 (the target is stated at 1,000,000).")
    var p6Pending = 1_000_000

    @Option(name: .long, help: ArgumentHelp("The built test guest, for P4.", valueName: "DIR"))
    var guest = "images/testguest/out"

    @Option(name: .long, help: "VM boots per side for P4 (median of these).")
    var vmRuns = 5

    @Option(name: .long, help: ArgumentHelp(
        "SWF trace for P7 (default: \(ReplayBenchmark.sharedTrace) if it exists, else a synthetic 10,000-job trace).",
        valueName: "PATH"))
    var trace: String?

    @Flag(name: .long, help: "Replay the synthetic 10,000-job trace for P7 even if the shared trace exists.")
    var syntheticTrace = false

    @Option(name: .long, help: ArgumentHelp(
        "The repository: its scripts start the test worker nodes for P9–P14 and clean this machine's libvirtd after P4, P5.",
        valueName: "DIR"))
    var repository = "."

    @Option(name: .long, help: "Size of the disk image P9 uploads, in MiB.")
    var p9Megabytes = 256

    @Option(name: .long, help: "Moves per side for P13 and P14 (median of these).")
    var moveRuns = 3

    @Option(name: .long, help: "Interleaved rounds of the side-by-side figures with Slurm (P3_cli_vs_sbatch, P8_vs_squeue).")
    var slurmRounds = 5

    @Option(name: .long, help: "Jobs per submission loop in those rounds.")
    var slurmJobs = 500

    func wants(_ key: String) -> Bool { only.isEmpty || only.contains(key) }

    func run() async throws {
        Interruption.install()
        var figures: [Figure] = []
        if wants("P1") {
            log("P1: placement rate, 10,000 nodes × 32 slots, 100,000 pending")
            let (rate, placed) = CoreBenchmarks.placementRate(runs: 5)
            figures.append(Figure(key: "P1", value: rate.rounded(), unit: "decisions/s", target: 50_000, lowerIsBetter: false,
                                  note: "\(placed) of 100,000 placed in the cycle"))
        }
        if wants("P2") {
            log("P2: backfill cycle on a 95%-busy site with 100,000 pending")
            let (seconds, backfilled) = CoreBenchmarks.backfillCycle(runs: 5)
            figures.append(Figure(key: "P2", value: round3(seconds), unit: "s", target: 1, lowerIsBetter: true,
                                  note: "\(backfilled) jobs backfilled"))
        }
        if wants("P7") || wants("P7_deep") {
            let (bytes, source) = try ReplayBenchmark.trace(path: trace, synthetic: syntheticTrace)
            let runs = 5
            func note(_ p7: ReplayBenchmark.Result, _ what: String) -> String {
                let r = p7.report
                return "trace \(source)\(what): \(p7.jobs) jobs, \(r.completed) completed, \(r.killedForWalltime) killed at walltime, "
                    + "\(r.rejected) rejected, \(r.backfilled) backfilled, \(r.cycles) cycles, utilisation "
                    + "\(round3(r.utilization * 100))%, mean wait \(Int(r.meanWait)) s, parse \(round3(p7.parseSeconds * 1000)) ms; "
                    + "one node of \(ReplayBenchmark.slots) slots; median of \(runs)"
            }
            log("P7: replay of an SWF trace on a simulated site of its own size (trace: \(source))")
            let shallow = ReplayBenchmark.replay(bytes, runs: runs)
            if wants("P7") {
                figures.append(Figure(
                    key: "P7", value: round3(shallow.seconds), unit: "s", target: 2, lowerIsBetter: true, note: note(shallow, ""),
                    extra: [("jobs", Double(shallow.jobs)), ("parse_ms", round3(shallow.parseSeconds * 1000)),
                            ("mean_wait_s", shallow.report.meanWait.rounded())],
                    extraText: [("trace", source)]))
            }
            if wants("P7_deep") {
                log("P7_deep: the same trace with arrivals compressed to 0.5× (the queue stays deep)")
                let deep = ReplayBenchmark.replay(bytes, runs: runs, arrivalScale: 0.5)
                // Per job: both replays have the trace's jobs; the ratio of the medians.
                let ratio = (deep.seconds / Double(max(deep.jobs, 1))) / (shallow.seconds / Double(max(shallow.jobs, 1)))
                figures.append(Figure(
                    key: "P7_deep", value: round3(deep.seconds), unit: "s", target: 2, lowerIsBetter: true,
                    note: note(deep, ", arrivals × 0.5") + "; \(round3(ratio))× P7's time per job (target ≤ 3×)",
                    extra: [("jobs", Double(deep.jobs)), ("per_job_vs_P7", round3(ratio)), ("mean_wait_s", deep.report.meanWait.rounded())],
                    extraText: [("trace", source)]))
            }
        }
        if wants("P3_batched") || wants("P3_concurrent") || wants("P3_cli") {
            let daemon = try DaemonProcess(nodes: 4, started: false)
            defer { daemon.stop() }
            if wants("P3_batched") {
                log("P3_batched: durable array submissions of 1,000")
                figures.append(Figure(key: "P3_batched", value: try DaemonBenchmarks.batched(daemon).rounded(), unit: "jobs/s",
                                      target: 5000, lowerIsBetter: false))
            }
            if wants("P3_concurrent") {
                log("P3_concurrent: 16 concurrent single-job clients")
                figures.append(Figure(key: "P3_concurrent", value: try DaemonBenchmarks.concurrent(daemon).rounded(),
                                      unit: "jobs/s", target: 1000, lowerIsBetter: false))
            }
            if wants("P3_cli") {
                log("P3_cli: shell loop of vbatch submit")
                figures.append(Figure(key: "P3_cli", value: try DaemonBenchmarks.cli(daemon).rounded(), unit: "jobs/s",
                                      target: 250, lowerIsBetter: false))
            }
        }
        if wants("P8") {
            log("P8: vbatch status --all --json with 10,000 pending")
            let daemon = try DaemonProcess(nodes: 4, started: false)
            defer { daemon.stop() }
            figures.append(Figure(key: "P8", value: round3(try DaemonBenchmarks.statusLatency(daemon)), unit: "ms",
                                  target: 40, lowerIsBetter: true))
        }
        if wants("metrics_scrape") {
            let nodes = 500
            log("metrics_scrape: GET /metrics on \(nodes) simulated nodes, every slot running, as many jobs waiting")
            let m = try MetricsBenchmark.scrape(nodes: nodes)
            figures.append(Figure(key: "metrics_scrape", value: round3(m.milliseconds), unit: "ms", target: 500, lowerIsBetter: true,
                                  note: "\(nodes) nodes × 32 slots, \(nodes * 32) running, \(nodes * 32) waiting; "
                                      + "\(m.series) series, \(m.bytes / 1024) KiB; median of 21",
                                  extra: [("series", Double(m.series)), ("bytes", Double(m.bytes))]))
        }
        if wants("P6") {
            log("P6: daemon memory per pending job at \(p6Pending) pending")
            let daemon = try DaemonProcess(nodes: 4, started: false)
            defer { daemon.stop() }
            figures.append(Figure(key: "P6", value: try DaemonBenchmarks.memoryPerPending(daemon, pending: p6Pending).rounded(),
                                  unit: "bytes/job", target: 1024, lowerIsBetter: true, note: "at \(p6Pending) pending"))
        }
        if wants("P4") || wants("P5") {
            // After P4 and P5, also when one fails or the benchmark is interrupted: their VMs (the
            // refilled pooled VM) and volumes go.
            let clean = repositoryPath + "/scripts/clean-local-node.sh"
            let cleaning = Interruption.register("this machine's VMs (clean-local-node.sh)") { _ = try? runProgram(clean, []) }
            defer {
                _ = try? runProgram(clean, [])
                cleaning.withdraw()
            }
            if wants("P4") {
                log("P4: submit → payload running in an on-demand VM, vbatch over raw libvirt")
                let guestPath = URL(fileURLWithPath: guest).standardizedFileURL.path
                let p4 = try await VMBenchmarks.onDemandOverhead(guest: guestPath, runs: vmRuns)
                figures.append(Figure(key: "P4", value: round3(p4.overheadMs), unit: "ms", target: 100, lowerIsBetter: true,
                                      note: "vbatch \(round3(p4.vbatchMs)) ms, raw libvirt \(round3(p4.rawMs)) ms (medians of \(vmRuns))",
                                      extra: [("vbatch_ms", round3(p4.vbatchMs)), ("raw_ms", round3(p4.rawMs))]))
            }
            if wants("P5") {
                log("P5: submit → payload running in an idle pooled VM")
                let guestPath = URL(fileURLWithPath: guest).standardizedFileURL.path
                figures.append(Figure(key: "P5", value: round3(try VMBenchmarks.pooledStart(guest: guestPath, runs: vmRuns)), unit: "ms",
                                      target: 300, lowerIsBetter: true, note: "median of \(vmRuns)"))
            }
        }
        if ["P3_relay", "P9", "P10", "P11", "P12", "P13", "P14", "nodecosts"].contains(where: wants) {
            try await nodeFigures(&figures)
        }
        // Last: it deletes Slurm's state directory (thousands of files) when done, which slows
        // file creation on this machine's filesystem for a while.
        let slurmKeys = ["P3_cli_vs_sbatch", "P3_qsub_vs_submit", "P8_vs_squeue", "P8_qstat_vs_status"]
        if slurmKeys.contains(where: wants) {
            if SlurmController.isInstalled {
                log("P3_cli_vs_sbatch, P8_vs_squeue: vbatch beside a private Slurm controller, \(slurmRounds) interleaved rounds")
                figures += try SlurmComparison.run(rounds: slurmRounds, jobs: slurmJobs, pending: 10_000).filter { wants($0.key) }
            } else if !only.isEmpty {
                throw BenchError("Slurm is not installed: scripts/bench-slurm.sh installs it and runs these figures")
            } else {
                log("P3_cli_vs_sbatch, P8_vs_squeue: skipped, Slurm is not installed (scripts/bench-slurm.sh)")
            }
        }
        report(figures)
    }

    var repositoryPath: String { URL(fileURLWithPath: repository).standardizedFileURL.path }

    /// P3_relay and P9–P14 on the test hosts: three worker nodes, 197 addresses that never
    /// answer, a CE host; started here and removed after.
    func nodeFigures(_ figures: inout [Figure]) async throws {
        let guestPath = URL(fileURLWithPath: guest).standardizedFileURL.path
        log("P3_relay, P9–P14: starting the test hosts (scripts/test-hosts.sh)")
        let hosts = try NodeBenchmarks.Hosts(repository: repositoryPath)
        defer { withExtendedLifetime(hosts) {} }  // its deinit removes the test hosts
        do {
            if wants("P3_relay") {
                log("P3_relay: a qsub loop on the CE host through vbatch relay (mutual TLS), over the same loop on the server's socket")
                let r = try RelayBenchmark.run(hosts)
                figures.append(Figure(key: "P3_relay", value: round3(r.relayRate / r.socketRate), unit: "× socket", target: 0.5,
                                      lowerIsBetter: false,
                                      note: "relay \(r.relayRate.rounded()) jobs/s, server socket \(r.socketRate.rounded()) jobs/s (medians of 3 loops of 300)",
                                      extra: [("relay_jobs_s", r.relayRate.rounded()), ("socket_jobs_s", r.socketRate.rounded())]))
            }
            if wants("P9") {
                log("P9: image upload to a fresh node, vbatch image push over virsh vol-upload (\(p9Megabytes) MiB, qemu+tls)")
                let u = try NodeBenchmarks.imageUpload(hosts, megabytes: p9Megabytes)
                figures.append(Figure(key: "P9", value: round3(u.ratio), unit: "× raw throughput", target: 0.9, lowerIsBetter: false,
                                      note: "vbatch \(round3(u.vbatchMBps)) MiB/s, virsh vol-upload \(round3(u.rawMBps)) MiB/s, \(u.megabytes) MiB",
                                      extra: [("vbatch_mib_s", round3(u.vbatchMBps)), ("raw_mib_s", round3(u.rawMBps))]))
            }
            if wants("P10") {
                log("P10: submit → payload running on a remote node, over raw libvirt create over the same URI")
                let (v, r) = try await NodeBenchmarks.remoteStart(hosts, guest: guestPath, runs: vmRuns)
                figures.append(Figure(key: "P10", value: round3(v - r), unit: "ms", target: 150, lowerIsBetter: true,
                                      note: "vbatch \(round3(v)) ms, raw \(round3(r)) ms (medians of \(vmRuns))",
                                      extra: [("vbatch_ms", round3(v)), ("raw_ms", round3(r))]))
            }
            if wants("P11") || wants("P12") {
                log("P11/P12: start latency on healthy nodes with one node hung; threads with 200 nodes, 197 never answering")
                let h = try NodeBenchmarks.hungNode(hosts, guest: guestPath, runs: vmRuns)
                figures.append(Figure(key: "P11", value: round3(h.hung / h.healthy), unit: "× without fault", target: 1.1,
                                      lowerIsBetter: true,
                                      note: "p50 \(round3(h.hung)) ms with wn3's libvirtd stopped, \(round3(h.healthy)) ms without (\(vmRuns) each)",
                                      extra: [("hung_ms", round3(h.hung)), ("healthy_ms", round3(h.healthy))]))
                figures.append(Figure(key: "P12", value: Double(h.threads), unit: "threads", target: 64, lowerIsBetter: true,
                                      note: "200 configured nodes, 197 never answering, during P11"))
            }
            if wants("P13") {
                log("P13: save on one node + restore on another, vbatch over virsh save + volume copy + virsh restore")
                let (v, r) = try MoveBenchmarks.saveRestore(hosts, guest: guestPath, runs: moveRuns)
                figures.append(Figure(key: "P13", value: round3(v / r), unit: "× raw", target: 1.2, lowerIsBetter: true,
                                      note: "vbatch \(round3(v)) s, raw virsh \(round3(r)) s (medians of \(moveRuns))",
                                      extra: [("vbatch_s", round3(v)), ("raw_s", round3(r))]))
            }
            if wants("P14") {
                log("P14: live migration with the disks, vbatch drain --mode migrate over virsh migrate --live --copy-storage-inc")
                let (v, r) = try MoveBenchmarks.liveMigration(hosts, guest: guestPath, runs: moveRuns)
                figures.append(Figure(key: "P14", value: round3(v / r), unit: "× raw", target: 1.2, lowerIsBetter: true,
                                      note: "vbatch \(round3(v)) s, raw virsh \(round3(r)) s (medians of \(moveRuns))",
                                      extra: [("vbatch_s", round3(v)), ("raw_s", round3(r))]))
            }
            if wants("nodecosts") {
                log("Per-node costs of the daemon: 1 and 3 live nodes, 197 that never answer, an idle node's traffic")
                let c = try NodeBenchmarks.perNodeCosts(hosts)
                figures.append(Figure(key: "nodecosts", value: Double(c.threadsAt200), unit: "threads at 200 nodes", target: 64,
                                      lowerIsBetter: true,
                                      note: "per live node: \(round3(c.live.threads)) threads, \(round3(c.live.fds)) fds, "
                                        + "\(round3(c.live.rssKiB)) KiB, \(Int(c.idleBytesPerMinute)) bytes/min idle; per dead node: "
                                        + "\(round3(c.dead.threads)) threads, \(round3(c.dead.fds)) fds, \(round3(c.dead.rssKiB)) KiB",
                                      extra: [("live_threads", round3(c.live.threads)), ("live_fds", round3(c.live.fds)),
                                              ("live_rss_kib", round3(c.live.rssKiB)), ("idle_bytes_per_min", c.idleBytesPerMinute),
                                              ("dead_threads", round3(c.dead.threads)), ("dead_fds", round3(c.dead.fds)),
                                              ("dead_rss_kib", round3(c.dead.rssKiB))]))
            }
        }
    }

    func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    func report(_ figures: [Figure]) {
        if json {
            let body = figures.map { f in
                "  \"\(f.key)\": {\"value\": \(number(f.value)), \"unit\": \"\(f.unit)\", \"target\": \(number(f.target))"
                    + f.extra.map { ", \"\($0.0)\": \(number($0.1))" }.joined()
                    + f.extraText.map { ", \"\($0.0)\": \(quoted($0.1))" }.joined() + "}"
            }.joined(separator: ",\n")
            print("{\n\(body)\n}")
        } else {
            for f in figures {
                let mark = f.met ? "ok  " : "MISS"
                print("\(mark) \(f.key.padding(toLength: 14, withPad: " ", startingAt: 0)) \(number(f.value)) \(f.unit)"
                    + " (target \(f.lowerIsBetter ? "≤" : "≥") \(number(f.target)))\(f.note.isEmpty ? "" : "  — \(f.note)")")
            }
        }
    }

    /// A JSON string literal.
    func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count)
                + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
