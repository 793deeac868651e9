import ArgumentParser
import VBatchClient

/// `--socket PATH`, shared by every subcommand that talks to vbatchd.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "vbatchd's socket (default: $VBATCH_SOCKET, else /run/vbatch/vbatchd.sock).", valueName: "PATH"))
    var socket: String?

    /// A client for the resolved socket.
    func client() -> VBatchClient {
        VBatchClient(socketOption: socket)
    }
}
