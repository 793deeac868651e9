import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOPosix
import NIOSSL
import ServiceLifecycle
import VBatchAPI
import VBatchCore
import VBatchService

/// `vbatch relay`: run on a CE host so that `qsub`, `qstat`, the BLAH scripts and ARC's PBS
/// commands work there unchanged against a vbatchd on another machine (Torque's `trqauthd`
/// pattern). Serves the usual Unix socket; forwards each request over pooled mutual-TLS
/// connections, asserting the local user. vbatchd believes it only if this host's
/// certificate is listed in its `[api] relays`, and never for an operator.
@main
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vbatch relay",
        abstract: "Serve vbatchd's socket on a CE host, forwarding to a remote vbatchd over mutual TLS.",
        discussion: """
            Runs in the foreground until SIGTERM or SIGINT. Local users connect to --socket as they would to \
            vbatchd's own socket; each request goes to --server over TLS with this host's certificate, naming \
            the user (from the socket's peer credentials and this host's accounts). vbatchd must list the \
            certificate's common name in [api] relays. See docs/grid-ce.md and docs/security.md. Under systemd \
            (Type=notify) it reports readiness once the socket is bound, its stop, and sends the watchdog keep-alive \
            while its event loops run.
            """)

    @Option(help: ArgumentHelp("vbatchd's TLS listener ([api] listen on the server).", valueName: "HOST:PORT"))
    var server: String

    @Option(help: ArgumentHelp("The site CA: vbatchd's certificate must chain to it.", valueName: "FILE"))
    var ca: String

    @Option(help: ArgumentHelp("This relay's certificate (PEM), signed by the site CA.", valueName: "FILE"))
    var certificate: String

    @Option(help: ArgumentHelp("This relay's private key (PEM).", valueName: "FILE"))
    var key: String

    @Option(help: ArgumentHelp("The socket local commands use.", valueName: "PATH"))
    var socket: String = API.defaultSocket

    @Option(help: ArgumentHelp("Most TLS connections to vbatchd at a time (kept open between requests; "
                               + "more concurrent requests wait for one).", valueName: "N"))
    var connections: Int = 8

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "LEVEL"))
    var logLevel: String = "info"

    @Option(help: ArgumentHelp("Log lines on standard error: text, logfmt or json (one object per line).",
                               valueName: LogFormat.choices))
    var logFormat: String = LogFormat.text.rawValue

    func validate() throws {
        guard address != nil else { throw ValidationError("--server must be HOST:PORT, e.g. vbatch.example.org:8443") }
        guard (1...256).contains(connections) else { throw ValidationError("--connections must be from 1 to 256") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \(logLevel)") }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be one of \(LogFormat.choices)") }
        for (option, path) in [("--ca", ca), ("--certificate", certificate), ("--key", key)]
        where !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("\(option): \(path) is not a readable file")
        }
        guard socket.utf8.count < 108 else { throw ValidationError("--socket: path too long (max 107 bytes)") }
    }

    /// `--server` as host and port; `[v6]:port` for IPv6.
    var address: HostPort? { HostPort(server) }

    func run() async throws {
        // A daemon starts with no signal blocked: a mask inherited from whatever started it
        // (a thread pool's thread blocks them all) would keep SIGTERM from stopping it.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        LogFormat(rawValue: logFormat)!.bootstrap()
        let logger = {
            var logger = Logger(label: "vbatch-relay")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return logger
        }()
        guard let address else { throw ValidationError("--server must be HOST:PORT") }
        let (host, port) = (address.host, address.port)

        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
        } catch {
            throw ValidationError("cannot read the relay's certificate, key or CA: \(error)")
        }
        tls.minimumTLSVersion = .tlsv12
        let pool = try UpstreamPool(host: host, port: port, size: connections, tls: tls,
                                    group: MultiThreadedEventLoopGroup.singleton)
        let forwarder = Forwarder(pool: pool, logger: logger)

        let directory = (socket as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        }
        unlink(socket)
        let socketPath = socket
        let notifier = SystemdNotifier.fromEnvironment()
        let app = Application(
            responder: CallbackResponder { request, context in try await forwarder.respond(to: request, context: context) },
            configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "vbatch-relay"),
            onServerRunning: { _ in
                // Every local user may connect; who they are comes from SO_PEERCRED.
                chmod(socketPath, 0o666)
                logger.info("relaying \(socketPath) to \(host):\(port)")
                notifier?.ready(status: "relaying \(socketPath) to \(host):\(port)")
            },
            logger: logger)
        var services: [any Service] = [app]
        if let notifier {
            // Alive while every event loop (the socket's and the upstream connections') runs a task.
            services.append(SystemdService(notifier: notifier, alive: {
                for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
                    guard (try? await loop.submit {}.get()) != nil else { return false }
                }
                return true
            }))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        defer { unlink(socketPath) }
        try await group.run()
    }
}
