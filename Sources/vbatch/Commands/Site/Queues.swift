import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch queues [--json]`
struct Queues: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues", abstract: "List the queues with their limits and load.")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the daemon's JSON.")
    var json = false

    func run() throws {
        let client = connection.client()
        if json { return Output.json(try client.getJSON(Route.queues)) }
        var t = Table([
            .init(title: "NAME", maxWidth: 20), .init(title: "TYPE"), .init(title: "ENABLED/STARTED"),
            .init(title: "PRIO", rightAligned: true), .init(title: "WALLTIME MAX/DEF"),
            .init(title: "PER-NODE", rightAligned: true), .init(title: "QUEUED", rightAligned: true),
            .init(title: "RUNNING", rightAligned: true), .init(title: "DESTINATIONS/ENVS", maxWidth: 60),
            .init(title: "NOTE", maxWidth: 80),
        ])
        for q in try client.queues() {
            let targets = q.kind == "routing" ? q.destinations : q.environments
            t.append([
                q.name, q.kind, Format.yesNo(q.enabled) + "/" + Format.yesNo(q.started), Format.optional(q.priority),
                Format.walltime(q.walltimeMax) + "/" + Format.walltime(q.walltimeDefault),
                Format.optional(q.maxJobsPerNode), String(q.queued), String(q.running),
                targets.map { $0.isEmpty ? "-" : $0.joined(separator: ",") } ?? "-", Format.text(q.note),
            ])
        }
        Output.print(t.render())
    }
}
