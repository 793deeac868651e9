import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import VBatchAPI
import VBatchCore
import VBatchDrivers
import VBatchLibvirtDriver
import VBatchService
import VBatchStore

/// Starts `vbatchd`: opens the state directory, rebuilds the engine from the store, and
/// serves the API on the Unix socket until SIGTERM or SIGINT, or until a reload (SIGHUP,
/// `vbatch reload`) asks to start again on new configuration files.
public enum Daemon {
    /// How ``run(_:)`` ended.
    public enum Outcome: Sendable {
        case stopped
        /// Start again on this configuration (already checked); running VMs are re-adopted.
        case reload(Configuration)
    }

    public struct Options: Sendable {
        public var configuration: Configuration
        /// Holds `vbatch.sqlite`, the spool and the lock.
        public var stateDirectory: String
        public var socketPath: String
        /// The configuration directory: its `images/` is the catalogue (and holds the guest agent).
        public var configDirectory: String
        public var logLevel: Logger.Level
        /// Reads and checks the configuration files again, for reloads; nil: no reloads.
        public var reload: (@Sendable () throws -> Configuration)?
        /// systemd's `$NOTIFY_SOCKET` (`Type=notify`): readiness, status, reload, stop, watchdog.
        public var notifier: SystemdNotifier?

        public init(configuration: Configuration, stateDirectory: String, socketPath: String, configDirectory: String,
                    logLevel: Logger.Level = .info, reload: (@Sendable () throws -> Configuration)? = nil,
                    notifier: SystemdNotifier? = nil) {
            self.configuration = configuration
            self.stateDirectory = stateDirectory
            self.socketPath = socketPath
            self.configDirectory = configDirectory
            self.logLevel = logLevel
            self.reload = reload
            self.notifier = notifier
        }
    }

    public static func run(_ options: Options) async throws -> Outcome {
        // SIGHUP is ignored from here on (its default kills the process) and reloads once serving.
        SIGHUPWatcher.shared.route(to: nil)
        let logger = {
            var logger = Logger(label: "vbatchd")
            logger.logLevel = options.logLevel
            return logger
        }()
        let files = FileManager.default
        raiseFileLimit()
        var options = options
        // Absolute, because libvirt opens the spool's disks and console logs itself.
        options.stateDirectory = URL(fileURLWithPath: options.stateDirectory).standardizedFileURL.path
        try files.createDirectory(atPath: options.stateDirectory, withIntermediateDirectories: true)
        let lock = try StateLock(path: options.stateDirectory + "/vbatchd.lock")
        defer { withExtendedLifetime(lock) {} }

        let catalogue = URL(fileURLWithPath: options.configDirectory).standardizedFileURL.path + "/images"
        let metrics = SiteMetrics()
        let driver = try makeDriver(for: options.configuration, catalogue: catalogue, logger: logger, metrics: metrics)
        let nodes = try nodesWithTLS(options.configuration, pkiDirectory: options.stateDirectory + "/pki")
        let store = try JobStore(path: options.stateDirectory + "/vbatch.sqlite", observeCommit: { metrics.commit($0) })
        let spool = options.stateDirectory + "/spool"
        try files.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let engine = try await Engine(configuration: options.configuration, store: store, driver: driver,
                                      spoolRoot: spool, logger: logger, driverNodes: nodes, metrics: metrics)

        try prepareSocket(options.socketPath)
        let socketPath = options.socketPath
        let marker = API.reloadMarker(socketPath: socketPath)
        let notifier = options.notifier
        let reloader = Reloader(load: options.reload, logger: logger, marker: marker, notifier: notifier)
        let tokens = TokenBook(store: store, configuration: options.configuration)
        let app = Application(
            router: buildRouter(engine: engine, tokens: tokens, reloader: reloader),
            configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "vbatchd"),
            services: [SchedulerLoop(engine: engine), DriverEventPump(engine: engine, driver: driver)],
            onServerRunning: { _ in
                // Every local user may connect; who they are comes from SO_PEERCRED.
                chmod(socketPath, 0o666)
                unlink(marker)  // serving again after a reload
                logger.info("vbatchd listening on \(socketPath)")
                notifier?.ready(status: await engine.statusLine)
            },
            logger: logger)
        var services: [any Service] = [app]
        let streams = DashboardStreams()
        if let listener = try APIListener(settings: options.configuration.site.api) {
            services.append(try listener.application(
                router: buildRouter(engine: engine, tokens: tokens, reloader: reloader, identity: .tls(logger), streams: streams),
                logger: logger))
        }
        if let notifier { services.append(SystemdService.daemon(notifier: notifier, engine: engine, reloader: reloader)) }
        // Last: told of a shutdown first, it ends the dashboard's streams before the listeners wait for them.
        services.append(streams)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        await reloader.attach(group)
        SIGHUPWatcher.shared.route(to: reloader)
        defer { SIGHUPWatcher.shared.route(to: nil) }
        do {
            try await group.run()
        } catch {
            unlink(marker)
            await engine.recordBeforeStopping()
            await driver.shutdown()
            throw error
        }
        unlink(socketPath)
        await engine.recordBeforeStopping()
        await driver.shutdown()
        guard let next = await reloader.accepted else {
            unlink(marker)
            return .stopped
        }
        return .reload(next)
    }

    /// `sim://` sites run on the simulated driver, every other site on libvirt; a site is
    /// one or the other.
    static func makeDriver(for configuration: Configuration, catalogue: String, logger: Logger,
                           metrics: SiteMetrics) throws -> any HypervisorDriver {
        let simulated = configuration.nodes.filter { $0.uri.hasPrefix("sim://") }
        if simulated.count == configuration.nodes.count { return SimulatedDriver(clock: .wallClock) }
        guard simulated.isEmpty else {
            throw DaemonError("a site is either simulated or real: \(simulated.map(\.name).joined(separator: ", ")) "
                + "use sim:// but other nodes use libvirt")
        }
        var settings = LibvirtDriver.Settings(walltimeGrace: .seconds(configuration.site.walltimeGrace),
                                              catalogueDirectory: catalogue, agentPath: guestAgent(catalogue: catalogue))
        settings.observeCall = { node, operation, duration, succeeded in
            metrics.libvirtCall(node: node, operation: operation, duration: duration, succeeded: succeeded)
        }
        return LibvirtDriver(settings: settings, logger: logger)
    }

    /// The nodes as the driver connects to them: `qemu+tls://` URIs get `pkipath=` naming a
    /// directory in the state directory whose `cacert.pem`, `clientcert.pem` and
    /// `clientkey.pem` link to the site file's `tls_ca`, `tls_certificate` and `tls_key`
    /// (libvirt wants those names in one directory). A URI with its own `pkipath` is kept.
    static func nodesWithTLS(_ configuration: Configuration, pkiDirectory: String) throws -> [NodeConfig] {
        guard let tls = configuration.site.tls else { return configuration.nodes }
        let files = FileManager.default
        try files.createDirectory(atPath: pkiDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for (name, target) in [("cacert.pem", tls.ca), ("clientcert.pem", tls.certificate), ("clientkey.pem", tls.key)] {
            let link = pkiDirectory + "/" + name
            unlink(link)
            try files.createSymbolicLink(atPath: link, withDestinationPath: target)
        }
        return configuration.nodes.map { node in
            guard node.uri.hasPrefix("qemu+tls://"), !node.uri.contains("pkipath=") else { return node }
            var node = node
            node.uri += (node.uri.contains("?") ? "&" : "?") + "pkipath=" + pkiDirectory
            return node
        }
    }

    /// The guest agent cloud-init images receive: the catalogue's `vbatch-guest`, else the
    /// one in `$VBATCH_HOME/images`, else the one of the source tree this binary was built in.
    static func guestAgent(catalogue: String) -> String {
        var candidates = [catalogue + "/vbatch-guest"]
        if let home = ProcessInfo.processInfo.environment["VBATCH_HOME"], !home.isEmpty {
            candidates.append(home + "/images/vbatch-guest")
        }
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
            for _ in 0..<5 {
                candidates.append(url.path + "/images/vbatch-guest")
                url.deleteLastPathComponent()
            }
        }
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) } ?? candidates[0]
    }

    /// Raises the soft limit of open files to the hard limit: each worker node holds one or
    /// two sockets (docs/nodes.md), and the default soft limit of 1,024 would cap a site at
    /// a few hundred nodes.
    static func raiseFileLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(resource, &limit)
    }

    /// Creates the socket's directory and removes a stale socket left by a killed daemon.
    static func prepareSocket(_ path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        guard path.utf8.count < 108 else { throw DaemonError("socket path is too long (max 107 bytes): \(path)") }
        unlink(path)
    }
}

public struct DaemonError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An exclusive `flock` on the state directory, so two daemons never share one store.
final class StateLock {
    private let fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DaemonError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw DaemonError("another vbatchd is using this state directory (\(path) is locked)")
        }
    }

    deinit { close(fd) }
}
