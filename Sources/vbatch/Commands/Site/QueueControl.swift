import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch queue stop|start|disable|enable QUEUE… [--reason TEXT]`: operators hold back a
/// queue's waiting jobs or refuse new ones, without restarting vbatchd; the change
/// outlives restarts.
struct QueueControl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Stop, start, disable or enable queues (operators).",
        subcommands: [Stop.self, Start.self, Disable.self, Enable.self])

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start none of the queues' waiting jobs (they still accept new ones).")
        @OptionGroup var options: Options
        func run() throws { try options.apply(QueueStateRequest(started: false, reason: options.reason)) }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the queues' waiting jobs again.")
        @OptionGroup var options: Options
        func run() throws { try options.apply(QueueStateRequest(started: true, reason: options.reason)) }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse new submissions to the queues (waiting jobs still run).")
        @OptionGroup var options: Options
        func run() throws { try options.apply(QueueStateRequest(enabled: false, reason: options.reason)) }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept new submissions to the queues again.")
        @OptionGroup var options: Options
        func run() throws { try options.apply(QueueStateRequest(enabled: true, reason: options.reason)) }
    }

    struct Options: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: ArgumentHelp("Queue names, as in vbatch queues.", valueName: "QUEUE")) var queues: [String]
        @Option(help: "Why (shown by vbatch queues).") var reason: String?

        /// Applies `change` to every queue; reports each failure and fails if any did.
        func apply(_ change: QueueStateRequest) throws {
            let client = connection.client()
            var failed = false
            for name in queues {
                do {
                    let q = try client.setQueue(name, change)
                    Output.print("\(q.name): " + (q.enabled ? "enabled" : "disabled")
                                 + (q.kind == "execution" ? ", " + (q.started ? "started" : "stopped") : "") + "\n")
                } catch {
                    Output.error("\(name): \(error)")
                    failed = true
                }
            }
            if failed { throw CLIError.silent }
        }
    }
}
