#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Synchronization
import VBatchAPI
import VBatchClient

/// `vbatch image push NAME [--node N]…`: operators copy an image into worker nodes' image
/// caches ahead of jobs, through vbatchd, with each node's progress while it runs.
struct ImagePush: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Copy an image of the running catalogue into worker nodes' caches (operators, through vbatchd).",
        discussion: """
            Without --node, every node that may run the image gets it. Files a node has already \
            (checked by size and header) are not sent again. Jobs do this by themselves on first \
            use; pushing ahead spares the first job on each node the upload. See docs/nodes.md.
            """)

    @Argument(help: ArgumentHelp("The image's name in the catalogue vbatchd runs with.", valueName: "NAME"))
    var name: String

    @Option(name: .customLong("node"), help: ArgumentHelp("A node to push to (repeat for several).", valueName: "NODE"))
    var nodes: [String] = []

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let socket = VBatchClient.socketPath(explicit: connection.socket)
        // A push of a large image to many nodes may take long: no client timeout.
        let client = VBatchClient(socketPath: socket, timeout: 0)
        let done = SharedFlag()
        let watcher = ProgressWatcher(client: VBatchClient(socketPath: socket), nodes: nodes, done: done)
        // A task of its own polls the nodes while this thread waits for the push's answer.
        let task = Task.detached { watcher.run() }
        defer { task.cancel() }
        let results = try client.pushImage(name, ImagePushRequest(nodes: nodes.isEmpty ? nil : nodes))
        done.set()
        var t = Table([.init(title: "NODE", maxWidth: 24), .init(title: "UPLOADED", rightAligned: true),
                       .init(title: "SECONDS", rightAligned: true), .init(title: "RESULT", maxWidth: 100)])
        for r in results {
            t.append([r.node, Format.memory(Int(r.uploadedBytes >> 20)), String(Int(r.seconds.rounded())),
                      r.error.map { "failed: " + Format.text($0) } ?? (r.uploadedBytes == 0 ? "already cached" : "cached")])
        }
        Output.print(t.render())
        if results.contains(where: { $0.error != nil }) { throw CLIError.silent }
    }

    /// Prints each node's uploads under way, when they change, until the push is done.
    struct ProgressWatcher: Sendable {
        let client: VBatchClient
        let nodes: [String]
        let done: SharedFlag

        func run() {
            var last: [String: [String]] = [:]
            while !done.isSet {
                if let all = try? client.nodes() {
                    for node in all where nodes.isEmpty || nodes.contains(node.name) {
                        let transfers = node.cache?.transfers ?? []
                        if transfers != last[node.name, default: []], !transfers.isEmpty, !done.isSet {
                            Output.progress("\(node.name): " + transfers.joined(separator: ", "))
                        }
                        last[node.name] = transfers
                    }
                }
                usleep(500_000)
            }
        }
    }
}

/// A flag one thread sets and another reads.
final class SharedFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
