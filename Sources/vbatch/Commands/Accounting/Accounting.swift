import ArgumentParser
// FoundationEssentials, not Foundation: every `vbatch` process (one per submitted job) would
// otherwise load Foundation's ICU-backed parts at start.
import FoundationEssentials
import VBatchAPI
import VBatchClient
import VBatchCore

/// `vbatch accounting [--since T] [--until T] [--by vo|user|queue|environment|node] [--all]
/// [--records] [--json] [--format apel|apel-summary [--output FILE]]`: what finished jobs used.
struct Accounting: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounting",
        abstract: "Summarise what finished jobs used, or export their records for APEL.",
        discussion: """
            Every finished job has one accounting record: owner, VO, queues, environment, node, cores, memory,
            wall time, the CPU time libvirt measured of its VM, exit status and times. Times for --since and
            --until: 2026-11-01, "2026-11-01 12:00" (UTC), Unix seconds, or a span before now (7d, 12h).
            Users see their own records; operators see everyone's with --all.
            --format apel writes an APEL individual job message (v0.3), --format apel-summary an APEL
            summary message (v0.2, one record per month, VO and job size), for the APEL SSM sender.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, apel
        case apelSummary = "apel-summary"
    }

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("Jobs that ended at or after this time.", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Jobs that ended before this time (default: now).", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Group the summary by vo, user, queue, environment or node.", valueName: "key"))
    var by: AccountingSummary.Grouping = .vo

    @Flag(help: "Every user's jobs (operators).")
    var all = false

    @Flag(help: "List the records instead of the summary.")
    var records = false

    @Flag(help: "Print JSON (the summary, or the report with --records).")
    var json = false

    @Option(help: ArgumentHelp("table, apel or apel-summary.", valueName: "format"))
    var format: Format = .table

    @Option(name: [.short, .long], help: ArgumentHelp("Write to FILE (atomically) instead of standard output.", valueName: "file"))
    var output: String?

    func validate() throws {
        if json && format != .table { throw ValidationError("--json and --format \(format.rawValue) exclude each other") }
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, UTCTime.parse(value, now: 0) == nil {
                throw ValidationError("\(name) '\(value)' is not a time (2026-11-01, \"2026-11-01 12:00\", Unix seconds, or 7d)")
            }
        }
    }

    func run() throws {
        let now = Date().timeIntervalSince1970
        let client = connection.client()
        let (from, to) = (since.flatMap { UTCTime.parse($0, now: now) }, until.flatMap { UTCTime.parse($0, now: now) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let text: String
        if format == .table && !records {
            // Summed by the daemon: a summary never ships the records.
            let summary = try client.accountingSummary(since: from, until: to, all: all, by: by)
            text = json ? String(decoding: try encoder.encode(summary), as: UTF8.self) + "\n" : Self.summaryTable(summary)
        } else {
            let report = try client.accounting(since: from, until: to, all: all)
            switch format {
            case .apel: text = APELMessage.render(report)
            case .apelSummary: text = APELSummaryMessage.render(report)
            case .table: text = json ? String(decoding: try encoder.encode(report), as: UTF8.self) + "\n" : Self.recordTable(report.records)
            }
        }
        if let output {
            try Self.writeAtomically(text, to: output)
        } else {
            Output.print(text)
        }
    }

    static func summaryTable(_ summary: AccountingSummary) -> String {
        var t = Table([
            .init(title: summary.grouping.rawValue.uppercased(), maxWidth: 24), .init(title: "JOBS", rightAligned: true),
            .init(title: "COMPLETED", rightAligned: true), .init(title: "FAILED", rightAligned: true),
            .init(title: "CANCELLED", rightAligned: true), .init(title: "WALL", rightAligned: true),
            .init(title: "CORE-HOURS", rightAligned: true), .init(title: "CPU-HOURS", rightAligned: true),
            .init(title: "CPU/CORE", rightAligned: true),
        ])
        for row in summary.rows + [summary.total] {
            t.append([
                row.key, String(row.jobs), String(row.completed), String(row.failed), String(row.cancelled),
                Quantities.formatHMS(Int(row.wallSeconds.rounded())), hours(row.coreSeconds), hours(row.cpuSeconds),
                row.efficiency.map { String(Int(($0 * 100).rounded())) + "%" } ?? "-",
            ])
        }
        return t.render()
    }

    static func recordTable(_ records: [AccountingRecord]) -> String {
        var t = Table([
            .init(title: "ID", rightAligned: true), .init(title: "OWNER", maxWidth: 12), .init(title: "VO", maxWidth: 10),
            .init(title: "QUEUE", maxWidth: 16), .init(title: "ENV", maxWidth: 16), .init(title: "NODE", maxWidth: 16),
            .init(title: "CORES", rightAligned: true), .init(title: "STATE"), .init(title: "EXIT", rightAligned: true),
            .init(title: "ENDED (UTC)"), .init(title: "WALL", rightAligned: true), .init(title: "CPU", rightAligned: true),
        ])
        for r in records {
            t.append([
                String(r.jobID), r.owner, r.vo ?? "-", r.queue, r.environment, r.node ?? "-", String(r.cores), r.state.rawValue,
                r.exitCode.map(String.init) ?? "-", UTCTime.format(r.endTime), Quantities.formatHMS(Int(r.wallSeconds.rounded())),
                Quantities.formatHMS(Int(r.cpuSeconds.rounded())),
            ])
        }
        return t.render()
    }

    private static func hours(_ seconds: Double) -> String {
        let hundredths = Int((seconds / 36).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + String(fraction)
    }

    /// Writes through a temporary file and a rename, so a sender polling the directory
    /// (APEL's SSM) never reads half a message.
    private static func writeAtomically(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw CLIError("cannot write \(path): \(error)")
        }
    }
}

extension AccountingSummary.Grouping: ExpressibleByArgument {}
