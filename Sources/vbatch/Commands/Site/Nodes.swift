import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch nodes [--json]`
struct Nodes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes", abstract: "List the worker nodes with their slots, memory and jobs.")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the daemon's JSON.")
    var json = false

    func run() throws {
        let client = connection.client()
        if json { return Output.json(try client.getJSON(Route.nodes)) }
        var t = Table([
            .init(title: "NAME", maxWidth: 24), .init(title: "STATE"), .init(title: "SLOTS", rightAligned: true),
            .init(title: "MEMORY", rightAligned: true), .init(title: "JOBS", maxWidth: 32), .init(title: "URI", maxWidth: 60),
            .init(title: "POOLS (idle/size)", maxWidth: 40), .init(title: "IMAGE CACHE", maxWidth: 60),
            .init(title: "NOTE", maxWidth: 80),
        ])
        for n in try client.nodes() {
            let usedSlots = n.slots - n.freeSlots
            t.append([
                n.name, n.state, "\(usedSlots)/\(n.slots)",
                Format.memory(n.memoryMB - n.freeMemoryMB) + "/" + Format.memory(n.memoryMB),
                n.jobs.isEmpty ? "-" : n.jobs.map(String.init).joined(separator: ","), n.uri,
                n.pools.isEmpty ? "-" : n.pools.map { "\($0.name) \($0.idle)/\($0.size)" + ($0.booting > 0 ? " (+\($0.booting) booting)" : "") }
                    .joined(separator: ", "),
                n.cache.map { c in
                    Format.memory(Int(c.bytes >> 20)) + "/" + Format.memory(Int(c.capBytes >> 20))
                        + (c.images.isEmpty ? "" : ": " + c.images.joined(separator: ", "))
                } ?? "-",
                Format.text(n.note),
            ])
        }
        Output.print(t.render())
    }
}
