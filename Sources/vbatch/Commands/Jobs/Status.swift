import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch status [--all] [--json]`: unfinished jobs as a table.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "List your unfinished jobs (--all: everyone's you may see).")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Show all users' jobs.")
    var all = false

    @Flag(help: "Print the daemon's JSON.")
    var json = false

    func run() throws {
        let client = connection.client()
        if json { return Output.json(try client.jobsJSON(all: all)) }
        Output.print(Self.table(try client.jobs(all: all)))
    }

    static func table(_ jobs: [JobInfo]) -> String {
        var t = Table([
            .init(title: "ID", rightAligned: true), .init(title: "NAME", maxWidth: 20), .init(title: "OWNER", maxWidth: 12),
            .init(title: "QUEUE", maxWidth: 16), .init(title: "ENV", maxWidth: 12), .init(title: "STATE"),
            .init(title: "CORES", rightAligned: true), .init(title: "WALLTIME", rightAligned: true),
            .init(title: "NODE", maxWidth: 16), .init(title: "REASON", maxWidth: 48),
        ])
        for j in jobs {
            t.append([
                String(j.id), j.name, j.owner, j.queue, j.environment, j.state.rawValue, String(j.cores),
                Format.walltime(j.walltime), j.node ?? "-", j.reason ?? "",
            ])
        }
        return t.render()
    }
}
