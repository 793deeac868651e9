import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch node drain|resume NODE… [--reason TEXT]`: operators take worker nodes out of
/// service and back, without restarting vbatchd; the change outlives restarts.
struct NodeControl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Drain a worker node or put it back in service (operators).",
        subcommands: [Drain.self, Resume.self])

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start no new job on the nodes; their running jobs finish.")
        @OptionGroup var options: Options
        func run() throws { try options.apply(enabled: false) }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put the nodes back in service (also after the daemon took them out for failed starts).")
        @OptionGroup var options: Options
        func run() throws { try options.apply(enabled: true) }
    }

    struct Options: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: ArgumentHelp("Node names, as in vbatch nodes.", valueName: "NODE")) var nodes: [String]
        @Option(help: "Why (shown by vbatch nodes).") var reason: String?

        /// Sets every node; reports each failure and fails if any did.
        func apply(enabled: Bool) throws {
            let client = connection.client()
            var failed = false
            for name in nodes {
                do {
                    let node = try client.setNode(name, NodeStateRequest(enabled: enabled, reason: reason))
                    let running = node.jobs.count == 1 ? "1 job running" : "\(node.jobs.count) jobs running"
                    Output.print("\(node.name): " + (node.enabled ? "in service" : node.jobs.isEmpty ? "drained" : "draining (\(running))") + "\n")
                } catch {
                    Output.error("\(name): \(error)")
                    failed = true
                }
            }
            if failed { throw CLIError.silent }
        }
    }
}
