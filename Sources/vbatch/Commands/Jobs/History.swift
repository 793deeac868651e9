import ArgumentParser
import FoundationEssentials
import VBatchAPI
import VBatchClient

/// `vbatch history [--all] [--limit N] [--since T] [--json]`: finished jobs.
struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "List finished jobs, newest first.")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Show all users' jobs.")
    var all = false

    @Option(help: ArgumentHelp("At most N jobs (default 100).", valueName: "N"))
    var limit: Int?

    @Option(help: ArgumentHelp("Jobs that ended at or after this time: 2026-11-01, \"2026-11-01 12:00\" (UTC), Unix seconds, or 7d.",
                               valueName: "time"))
    var since: String?

    @Flag(help: "Print the daemon's JSON.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let since, UTCTime.parse(since, now: 0) == nil {
            throw ValidationError("--since '\(since)' is not a time (2026-11-01, \"2026-11-01 12:00\", Unix seconds, or 7d)")
        }
    }

    func run() throws {
        let client = connection.client()
        let from = since.flatMap { UTCTime.parse($0, now: Date().timeIntervalSince1970) }
        if json { return Output.json(try client.getJSON(Route.history(all: all, limit: limit, since: from))) }
        let jobs = try client.history(all: all, limit: limit, since: from)
        var t = Table([
            .init(title: "ID", rightAligned: true), .init(title: "NAME", maxWidth: 20), .init(title: "OWNER", maxWidth: 12),
            .init(title: "QUEUE", maxWidth: 16), .init(title: "STATE"), .init(title: "EXIT", rightAligned: true),
            .init(title: "ENDED (UTC)"), .init(title: "RUNTIME", rightAligned: true), .init(title: "REASON", maxWidth: 48),
        ])
        for j in jobs {
            var runtime = "-"
            if let start = j.startTime, let end = j.endTime, end >= start { runtime = Format.walltime(Int(end - start)) }
            t.append([
                String(j.id), j.name, j.owner, j.queue, j.state.rawValue, Format.optional(j.exitCode),
                Format.time(j.endTime), runtime, j.reason ?? "",
            ])
        }
        Output.print(t.render())
    }
}
