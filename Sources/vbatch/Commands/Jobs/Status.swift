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

    /// What was asked, as plain values.
    var listing: StatusListing { StatusListing(socket: connection.socket, all: all, json: json) }

    func run() throws {
        try listing.run()
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

/// `vbatch status`'s request as plain values, however its command line was read: by
/// ArgumentParser (``Status``), or by ``PlainArguments`` on the per-job path.
struct StatusListing: Equatable {
    var socket: String?
    var all = false
    var json = false

    /// Prints the jobs: the daemon's JSON as it came, or a table.
    func run() throws {
        let client = VBatchClient(socketOption: socket)
        if json { return Output.json(try client.jobsJSON(all: all)) }
        Output.print(Status.table(try client.jobs(all: all)))
    }
}

// The plain reader in an extension, so that the struct keeps its memberwise initializer.
extension StatusListing {
    /// `vbatch status`'s options, for ``PlainArguments``.
    static let plainOptions: [PlainArguments.Option] = [.value("--socket"), .flag("--all"), .flag("--json")]

    /// The listing a plain command line asks for; nil for anything ArgumentParser must read.
    init?(plain arguments: [String]) {
        guard let p = PlainArguments(arguments, options: Self.plainOptions, maxPositionals: 0, takesTerminator: false) else {
            return nil
        }
        self.init(socket: p.value("--socket"), all: p.flags.contains("--all"), json: p.flags.contains("--json"))
    }
}
