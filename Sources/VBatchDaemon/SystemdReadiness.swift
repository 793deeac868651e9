import VBatchService

/// vbatchd under systemd (`Type=notify`): what its status line says and what proves it alive.
/// `Daemon.run` sends `READY=1` once the socket is bound (the engine re-adopted the running
/// VMs before), the ``Reloader`` sends `RELOADING=1`, and this service the rest.
extension SystemdService {
    /// `STATUS=` every 10 s; `WATCHDOG=1` only while the engine actor answers; `STOPPING=1`
    /// on shutdown unless a reload was accepted.
    static func daemon(notifier: SystemdNotifier, engine: Engine, reloader: Reloader) -> SystemdService {
        SystemdService(notifier: notifier,
                       alive: { await engine.isResponsive },
                       status: { await engine.statusLine },
                       isReloading: { await reloader.accepted != nil })
    }
}

extension Engine {
    /// `serving 3 nodes (2 up), 5 jobs running, 12 waiting`.
    var statusLine: String {
        let up = nodeStatus.filter { $0.linkName == "up" }.count
        let nodes = configuration.nodes.count
        return "serving \(nodes) node\(nodes == 1 ? "" : "s") (\(up) up), \(runningCount) job\(runningCount == 1 ? "" : "s") running, "
            + "\(pendingCount) waiting"
    }

    /// True once the actor runs this: a wedged engine never answers, and the watchdog stops.
    var isResponsive: Bool { true }
}
