import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch node drain|resume NODE… [--reason TEXT]`, `vbatch node fence NODE… --reason TEXT`:
/// operators take worker nodes out of service and back, without restarting vbatchd; the
/// change outlives restarts.
struct NodeControl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Drain, fence or resume worker nodes (operators).",
        subcommands: [Drain.self, Fence.self, Resume.self])

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start no new job on the nodes; their running jobs finish, or leave as --mode says.",
            discussion: """
                --mode finish (the default) lets running jobs run to their end. save saves each job's VM and \
                restores it on another node (or here, once resumed); migrate moves each VM live to another \
                node, falling back to save and restore elsewhere; requeue stops each job and runs it again \
                from the start elsewhere. Jobs in pooled VMs always finish. vbatch nodes shows the progress; \
                the drain goes on after a vbatchd restart.
                """)
        @OptionGroup var options: Options
        @Option(help: "finish, save, migrate or requeue.") var mode: DrainMode = .finish
        func run() throws { try options.apply(enabled: false, mode: mode) }
    }

    struct Fence: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Declare the nodes' VMs gone (host powered off): their jobs are requeued or failed at once.",
            discussion: """
                Use it for a node that is down for good, or that you have powered off: vbatch cannot know \
                otherwise that its VMs are gone. Each job on it goes back to its queue (or fails, if the \
                queue says on_node_loss = "fail") once; should the node come back, its VMs are destroyed \
                and their output discarded. The node takes no job until vbatch node resume.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: ArgumentHelp("Node names, as in vbatch nodes.", valueName: "NODE")) var nodes: [String]
        @Option(help: "Why (recorded with the node and in its jobs' histories).") var reason: String

        func run() throws {
            let client = connection.client()
            var failed = false
            for name in nodes {
                do {
                    let node = try client.fenceNode(name, NodeFenceRequest(reason: reason))
                    Output.print("\(node.name): fenced; its jobs went back to their queues\n")
                } catch {
                    Output.error("\(name): \(error)")
                    failed = true
                }
            }
            if failed { throw CLIError.silent }
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put the nodes back in service (also after a fence, or failed starts took them out).")
        @OptionGroup var options: Options
        func run() throws { try options.apply(enabled: true, mode: nil) }
    }

    struct Options: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: ArgumentHelp("Node names, as in vbatch nodes.", valueName: "NODE")) var nodes: [String]
        @Option(help: "Why (shown by vbatch nodes).") var reason: String?

        /// Sets every node; reports each failure and fails if any did.
        func apply(enabled: Bool, mode: DrainMode?) throws {
            let client = connection.client()
            var failed = false
            for name in nodes {
                do {
                    let node = try client.setNode(name, NodeStateRequest(enabled: enabled, reason: reason, mode: mode))
                    let running = node.jobs.count == 1 ? "1 job running" : "\(node.jobs.count) jobs running"
                    let how = mode.map { $0 == .finish ? "" : ", \($0.rawValue)" } ?? ""
                    Output.print("\(node.name): " + (node.enabled ? "in service" : node.jobs.isEmpty ? "drained" : "draining (\(running)\(how))") + "\n")
                } catch {
                    Output.error("\(name): \(error)")
                    failed = true
                }
            }
            if failed { throw CLIError.silent }
        }
    }
}

extension DrainMode: ExpressibleByArgument {}
