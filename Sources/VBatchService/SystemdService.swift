import ServiceLifecycle

/// The part of `Type=notify` that runs alongside a server in its `ServiceGroup`: `WATCHDOG=1`
/// while `alive` answers, a `STATUS=` line refreshed every `statusInterval`, and
/// `STOPPING=1` as soon as the group begins a graceful shutdown (unless `isReloading` says
/// the shutdown is a reload, which announced itself with `RELOADING=1`). Add it last to the
/// group, so that it is the first service told to shut down. `READY=1` is the server's to
/// send, once it listens.
public struct SystemdService: Service {
    let notifier: SystemdNotifier
    let alive: @Sendable () async -> Bool
    let status: (@Sendable () async -> String)?
    let statusInterval: Duration
    let isReloading: @Sendable () async -> Bool

    /// - Parameters:
    ///   - alive: proves the process works (e.g. an actor hop into the engine); a hang stops the watchdog.
    ///   - status: the `STATUS=` line; nil: none is sent periodically.
    ///   - isReloading: whether a graceful shutdown is a reload rather than a stop.
    public init(notifier: SystemdNotifier, alive: @escaping @Sendable () async -> Bool,
                status: (@Sendable () async -> String)? = nil, statusInterval: Duration = .seconds(10),
                isReloading: @escaping @Sendable () async -> Bool = { false }) {
        self.notifier = notifier
        self.alive = alive
        self.status = status
        self.statusInterval = statusInterval
        self.isReloading = isReloading
    }

    public func run() async throws {
        let (notifier, alive, status, interval) = (notifier, alive, status, statusInterval)
        let watchdog = Task { await notifier.runWatchdog(alive: alive) }
        let statusLines = Task {
            guard let status else { return }
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if !Task.isCancelled { notifier.status(await status()) }
            }
        }
        defer {
            watchdog.cancel()
            statusLines.cancel()
        }
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is going away without a graceful shutdown
        }
        if await !isReloading() { notifier.stopping(status: "stopping") }
    }
}
