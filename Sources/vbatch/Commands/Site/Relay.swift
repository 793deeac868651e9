import ArgumentParser

/// `vbatch relay --server HOST:PORT --ca FILE --certificate FILE --key FILE [--socket PATH]`:
/// on a CE host, serves vbatchd's socket and forwards to a remote vbatchd over mutual TLS.
///
/// `vbatch-relay` (a ``CompanionTool``) does the work: TLS and the HTTP server stay out of
/// the per-job `vbatch` binary. Its options are documented by `vbatch relay --help`.
struct Relay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "On a CE host: serve vbatchd's socket, forwarding to a remote vbatchd over mutual TLS.")

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp(
        "--server HOST:PORT --ca FILE --certificate FILE --key FILE [--socket PATH] [--connections N] "
            + "[--log-level LEVEL] (see docs/grid-ce.md)", valueName: "options"))
    var arguments: [String] = []

    func run() throws {
        try CompanionTool.relay.exec(arguments)
    }
}
