#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import Synchronization
import ServiceLifecycle
import VBatchAPI
import VBatchCore
import VBatchService

/// Reloads the configuration without stopping jobs: on SIGHUP or `vbatch reload`, the files
/// are read and checked first; only a configuration without errors replaces the running
/// one. The daemon's services then stop gracefully and start again on it, and the new
/// engine re-adopts the running VMs exactly as after a restart (running jobs keep going;
/// idle pooled VMs are replaced).
public actor Reloader {
    private let load: (@Sendable () throws -> Configuration)?
    private let logger: Logger
    /// Exists while the services restart (``API/reloadMarker(socketPath:)``).
    private let marker: String?
    private let notifier: SystemdNotifier?
    private var group: ServiceGroup?
    /// The configuration to restart on, once a reload was accepted.
    public private(set) var accepted: Configuration?

    /// `load` reads and checks the configuration files; nil when the daemon cannot reload
    /// (it was given a configuration, not files).
    /// `notifier` is told `RELOADING=1` when a reload is accepted (systemd, `Type=notify`).
    public init(load: (@Sendable () throws -> Configuration)?, logger: Logger, marker: String? = nil,
                notifier: SystemdNotifier? = nil) {
        self.load = load
        self.logger = logger
        self.marker = marker
        self.notifier = notifier
    }

    func attach(_ group: ServiceGroup) { self.group = group }

    /// Checks the files and, if they hold no error, restarts the services on them.
    /// - Returns: what happened, for the operator who asked.
    public func reload(requestedBy who: String) async throws(EngineError) -> String {
        guard let load else { throw EngineError.conflict("this vbatchd was not started from configuration files: it cannot reload") }
        if accepted != nil { return "a reload is already under way" }
        let configuration: Configuration
        do {
            configuration = try load()
        } catch {
            logger.error("reload asked by \(who) refused; the running configuration stays:\n\(error)")
            let errors = "\(error)".split(separator: "\n").joined(separator: "; ")
            throw EngineError.conflict("the configuration has errors, nothing changed: \(errors)")
        }
        accepted = configuration
        notifier?.reloading(status: "reloading the configuration (asked by \(who))")
        if let marker {
            let fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            if fd >= 0 { close(fd) }
        }
        logger.notice("configuration reloaded (asked by \(who)): restarting services; running VMs keep running")
        await group?.triggerGracefulShutdown()
        return "configuration reloaded: \(configuration.summary)"
    }
}

/// Hands SIGHUP to the running daemon's ``Reloader``. One signal source for the process:
/// a source made again after an earlier one was cancelled is not reliably delivered to.
/// (`@unchecked`: the source is set once in `init` and only resumed there.)
final class SIGHUPWatcher: @unchecked Sendable {
    static let shared = SIGHUPWatcher()

    private let current = Mutex<Reloader?>(nil)
    private let source: any DispatchSourceSignal

    private init() {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [weak self] in
            guard let reloader = self?.current.withLock({ $0 }) else { return }
            Task { _ = try? await reloader.reload(requestedBy: "SIGHUP") }
        }
        source.resume()
    }

    /// The reloader SIGHUP goes to (nil: SIGHUP is ignored).
    func route(to reloader: Reloader?) { current.withLock { $0 = reloader } }
}
