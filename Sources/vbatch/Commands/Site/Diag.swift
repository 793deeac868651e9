import ArgumentParser
import VBatchAPI
import VBatchClient
import VBatchCore

/// `vbatch diag [--json]`: the daemon's since-start figures, like Slurm's `sdiag`.
struct Diag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diag", abstract: "Show vbatchd's scheduler, store, API and libvirt figures since it started.",
        discussion: """
            Like Slurm's sdiag: scheduling cycles (count, last, mean, max, how long ago the last one ended), \
            jobs placed, started by backfill and preempted, durable commits of the job store, API requests \
            by route and libvirt calls by worker node. Counted since vbatchd started (a reload starts again). \
            Times are in milliseconds (ms). --json prints the daemon's report as it is.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the daemon's JSON.")
    var json = false

    func run() throws {
        let client = connection.client()
        if json { return Output.json(try client.getJSON(Route.diag)) }
        Output.print(Self.render(try client.diagnostics()))
    }

    /// The report as text: a block of figures, then the API and libvirt tables.
    static func render(_ d: Diagnostics) -> String {
        var out = ""
        func line(_ label: String, _ value: String) {
            out += label + ":" + String(repeating: " ", count: max(1, 26 - label.count)) + value + "\n"
        }
        line("Daemon started", "\(UTCTime.format(d.started)) UTC (up \(Quantities.formatHMS(Int(d.reported - d.started))))")
        line("Report time", "\(UTCTime.format(d.reported)) UTC")
        line("Jobs pending", "\(d.pending)")
        line("Jobs running", "\(d.running)")
        out += "\nScheduler\n"
        line("  Cycles", "\(d.cycles.count)")
        line("  Last cycle", withUnit(milliseconds(d.cycles.lastSeconds, of: d.cycles.count)))
        line("  Mean cycle", withUnit(milliseconds(d.cycles.meanSeconds, of: d.cycles.count)))
        line("  Max cycle", withUnit(milliseconds(d.cycles.maxSeconds, of: d.cycles.count)))
        line("  Last cycle ended", d.lastCycle.map { seconds(d.reported - $0) + " ago" } ?? "never")
        line("  Jobs placed", "\(d.placements)")
        line("  Backfill starts", "\(d.backfillStarts)")
        line("  Preemptions", "\(d.preemptions)")
        out += "\nJob store\n"
        line("  Commits", "\(d.commits.count)")
        line("  Mean commit", withUnit(milliseconds(d.commits.meanSeconds, of: d.commits.count)))
        line("  Max commit", withUnit(milliseconds(d.commits.maxSeconds, of: d.commits.count)))

        out += "\nAPI requests by route\n"
        var api = Table([.init(title: "ROUTE", maxWidth: 60), .init(title: "COUNT", rightAligned: true),
                         .init(title: "FAILURES", rightAligned: true), .init(title: "MEAN MS", rightAligned: true),
                         .init(title: "MAX MS", rightAligned: true)])
        for (route, tally) in d.api.sorted(by: { ($1.value.count, $0.key) < ($0.value.count, $1.key) }) {
            api.append([route, "\(tally.count)", "\(tally.failures)", milliseconds(tally.meanSeconds, of: tally.count),
                        milliseconds(tally.maxSeconds, of: tally.count)])
        }
        out += api.render()

        out += "\nLibvirt calls by worker node\n"
        var libvirt = Table([.init(title: "NODE", maxWidth: 40), .init(title: "CONNECTED"), .init(title: "CALLS", rightAligned: true),
                             .init(title: "FAILURES", rightAligned: true), .init(title: "MEAN MS", rightAligned: true),
                             .init(title: "MAX MS", rightAligned: true)])
        for node in Set(d.connected.keys).union(d.libvirt.keys).sorted() {
            let tally = d.libvirt[node] ?? .init()
            libvirt.append([node, d.connected[node].map(Format.yesNo) ?? "-", "\(tally.count)", "\(tally.failures)",
                            milliseconds(tally.meanSeconds, of: tally.count), milliseconds(tally.maxSeconds, of: tally.count)])
        }
        out += libvirt.render()
        return out
    }

    /// `12.345` milliseconds, or `-` when nothing was counted.
    static func milliseconds(_ seconds: Double, of count: Int) -> String {
        guard count > 0, seconds.isFinite else { return "-" }
        let micro = Int((seconds * 1_000_000).rounded())
        let fraction = String(micro % 1000)
        return "\(micro / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// `12.345 ms`, or `-`.
    static func withUnit(_ milliseconds: String) -> String { milliseconds == "-" ? "-" : milliseconds + " ms" }

    /// `0.4 s`, `75.0 s`: one decimal.
    static func seconds(_ value: Double) -> String {
        let tenths = Int((max(0, value) * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) s"
    }
}
