import Foundation
import VBatchCore
import VBatchDrivers

/// `vbatch simulate TRACE --config A --config B`: the same trace replayed against two
/// configurations, the figures side by side with B − A, overall and per execution queue and VO.
struct ComparisonReport {
    var a: ReplayReport
    var b: ReplayReport

    /// A row of the side-by-side table: a label and how to read and show the figure.
    struct Row {
        var label: String
        var value: (ReplayMetrics, SiteSimulation.Report) -> Double
        var show: (Double) -> String
        var difference: (Double) -> String
    }

    static func rows(_ durations: @escaping (Double) -> String) -> [Row] {
        let count: (Double) -> String = { String(Int($0)) }
        let signedCount: (Double) -> String = { ($0 > 0 ? "+" : "") + String(Int($0)) }
        let signedDuration: (Double) -> String = { ($0 < 0 ? "-" : $0 > 0 ? "+" : "") + durations(abs($0)) }
        let ratio: (Double) -> String = { String(format: "%.2f", $0) }
        let signedRatio: (Double) -> String = { String(format: "%+.2f", $0) }
        let percent: (Double) -> String = { String(format: "%.1f%%", $0 * 100) }
        let signedPercent: (Double) -> String = { String(format: "%+.1f points", $0 * 100) }
        return [
            Row(label: "jobs", value: { m, _ in Double(m.jobs) }, show: count, difference: signedCount),
            Row(label: "started", value: { m, _ in Double(m.started) }, show: count, difference: signedCount),
            Row(label: "backfilled", value: { m, _ in Double(m.backfilled) }, show: count, difference: signedCount),
            Row(label: "wait mean", value: { m, _ in m.meanWait }, show: durations, difference: signedDuration),
            Row(label: "wait median", value: { m, _ in m.medianWait }, show: durations, difference: signedDuration),
            Row(label: "wait p95", value: { m, _ in m.p95Wait }, show: durations, difference: signedDuration),
            Row(label: "wait max", value: { m, _ in m.maxWait }, show: durations, difference: signedDuration),
            Row(label: "bounded slowdown", value: { m, _ in m.meanBoundedSlowdown }, show: ratio, difference: signedRatio),
            Row(label: "utilisation", value: { m, _ in m.utilization }, show: percent, difference: signedPercent),
        ]
    }

    func text() -> String {
        let duration: (Double) -> String = { Quantities.formatWalltime(Int($0.rounded())) }
        var out = "trace  \(ReplayReport.clean(a.trace)): \(a.parsed.jobs.count) jobs read, \(a.parsed.skipped.count) lines skipped\n"
        for (name, r) in [("A", a), ("B", b)] {
            let nodes = r.configuration.nodes.count
            out += "\(name)      \(ReplayReport.clean(r.source)): \(nodes) node\(nodes == 1 ? "" : "s"), \(r.slots) slots; "
                + "jobs to queue \(ReplayReport.clean(r.queue)); \(r.result.rejected) rejected, "
                + "makespan \(duration(r.result.makespan))\n"
        }
        var table: [[String]] = [["", "A", "B", "B − A"]]
        func section(_ title: String, _ ma: ReplayMetrics?, _ mb: ReplayMetrics?) {
            table.append([title, "", "", ""])
            for row in Self.rows(duration) {
                let va = ma.map { row.value($0, a.result) }, vb = mb.map { row.value($0, b.result) }
                let difference = va.flatMap { x in vb.map { row.difference($0 - x) } } ?? ""
                table.append(["  " + row.label, va.map(row.show) ?? "–", vb.map(row.show) ?? "–", difference])
            }
        }
        section("all jobs", a.result.overall, b.result.overall)
        for (what, key) in [("queue", \ReplayJob.queue), ("VO", \ReplayJob.vo)] {
            let ga = a.result.metrics(by: { $0[keyPath: key] }), gb = b.result.metrics(by: { $0[keyPath: key] })
            for name in Set(ga.keys).union(gb.keys).sorted() { section("\(what) \(ReplayReport.clean(name))", ga[name], gb[name]) }
        }
        let widths = (0..<4).map { c in table.map { $0[c].count }.max() ?? 0 }
        for line in table {
            let cells = line.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }
            out += String(cells.joined(separator: "   ").reversed().drop { $0 == " " }.reversed()) + "\n"
        }
        return out
    }

    struct JSONForm: Encodable {
        var a: ReplayReport.JSONForm
        var b: ReplayReport.JSONForm
        /// B − A of the overall figures, by the same keys as the reports'.
        var difference: [String: Double]
    }

    func json() throws -> String {
        let (fa, fb) = (a.form(), b.form())
        let (ma, mb) = (a.result.overall, b.result.overall)
        let difference: [String: Double] = [
            "rejected": Double(b.result.rejected - a.result.rejected), "started": Double(mb.started - ma.started),
            "backfilled": Double(mb.backfilled - ma.backfilled), "makespan": b.result.makespan - a.result.makespan,
            "mean_wait": mb.meanWait - ma.meanWait, "median_wait": mb.medianWait - ma.medianWait,
            "p95_wait": mb.p95Wait - ma.p95Wait, "max_wait": mb.maxWait - ma.maxWait,
            "mean_bounded_slowdown": mb.meanBoundedSlowdown - ma.meanBoundedSlowdown,
            "utilization": mb.utilization - ma.utilization,
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(JSONForm(a: fa, b: fb, difference: difference)), as: UTF8.self) + "\n"
    }
}
