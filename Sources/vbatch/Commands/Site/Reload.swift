import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch reload`: vbatchd reads its configuration files again (operators), as on SIGHUP.
struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Have vbatchd read its configuration again; running jobs keep running (operators).",
        discussion: """
            The files are checked first: if they hold errors, they are printed with file, line and key, \
            and nothing changes. Otherwise vbatchd restarts its services on them and re-adopts the running \
            VMs; the socket is back within a few seconds. Use it after editing queues, nodes, VOs or the \
            image catalogue (e.g. after vbatch image build). SIGHUP to vbatchd does the same.
            """)

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        Output.print(try connection.client().reload().message + "\n")
    }
}
