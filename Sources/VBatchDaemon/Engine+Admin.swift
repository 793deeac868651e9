import VBatchAPI
import VBatchCore
import VBatchDrivers
import VBatchStore

/// Operators' run-time control of nodes and queues: drain a node, stop or disable a queue.
///
/// Each change is stored before it takes effect and applied again when the daemon starts,
/// on top of the configuration files, until an operator changes it back.
extension Engine {
    /// Longest reason an operator may give.
    static let maxAdminReason = 500

    /// Drains a node (`enabled: false`: no new job starts there, and its running jobs finish,
    /// or are saved, migrated or requeued, as `mode` says) or puts it back, which also clears a
    /// fence and a node the daemon took out after start failures.
    public func setNode(_ name: String, _ request: NodeStateRequest, caller: Caller) throws -> NodeInfo {
        guard caller.isOperator else { throw EngineError.forbidden("only operators may drain or resume nodes") }
        guard let index = scheduler.node(named: name) else { throw EngineError.notFound("node \(name) does not exist") }
        let reason = try Self.adminReason(request.reason)
        let now = WallClock.now()
        if request.enabled, nodeStatus[index].fenced != nil {
            try save(AdminSetting(kind: .node, name: name, flag: .fenced, value: false, reason: reason, changedBy: caller.user, time: now))
        }
        if request.enabled, request.mode != nil {
            throw EngineError.badRequest("a drain mode applies to draining a node, not to resuming it")
        }
        let mode = request.enabled ? nil : (request.mode ?? .finish)
        try save(AdminSetting(kind: .node, name: name, flag: .enabled, value: request.enabled, reason: reason,
                              changedBy: caller.user, time: now, mode: mode?.rawValue))
        logger.notice("node \(name) \(request.enabled ? "resumed" : "drained (\(mode!.rawValue))") by \(caller.user)")
        if mode != .finish, !request.enabled { Task { await self.emptyNode(index) } }
        return nodes()[index]
    }

    /// Fences a node: an operator declares its VMs gone (the host is powered off, or will
    /// be). Its jobs are requeued (or failed, per queue) at once, counted once; the node takes
    /// no job until resumed, and its VMs, should it come back, are destroyed and their output
    /// discarded. Recorded, and kept across restarts.
    public func fence(_ name: String, _ request: NodeFenceRequest, caller: Caller) async throws -> NodeInfo {
        guard caller.isOperator else { throw EngineError.forbidden("only operators may fence nodes") }
        guard let index = scheduler.node(named: name) else { throw EngineError.notFound("node \(name) does not exist") }
        let reason = try Self.adminReason(request.reason)
        guard !reason.isEmpty else { throw EngineError.badRequest("say why the node is fenced (--reason)") }
        try save(AdminSetting(kind: .node, name: name, flag: .fenced, value: true, reason: reason, changedBy: caller.user,
                              time: WallClock.now()))
        logger.notice("node \(name) fenced by \(caller.user): \(reason)")
        await loseNode(index, reason: "node \(name) fenced by \(caller.user): \(reason)")
        return nodes()[index]
    }

    /// Enables or disables a queue (new submissions) and starts or stops it (its waiting
    /// jobs); a routing queue only has `enabled`.
    public func setQueue(_ name: String, _ request: QueueStateRequest, caller: Caller) throws -> QueueInfo {
        guard caller.isOperator else { throw EngineError.forbidden("only operators may change queues") }
        guard let queue = router.configuration.queue(named: name) else { throw EngineError.notFound("queue \(name) does not exist") }
        if request.started != nil, case .routing = queue {
            throw EngineError.badRequest("queue \(name) is a routing queue: it runs no jobs to start or stop (enable or disable it)")
        }
        guard request.enabled != nil || request.started != nil else {
            throw EngineError.badRequest("say what to change: enabled, started or both")
        }
        let reason = try Self.adminReason(request.reason)
        let now = WallClock.now()
        for (flag, value) in [(AdminSetting.Flag.enabled, request.enabled), (.started, request.started)] {
            guard let value else { continue }
            try save(AdminSetting(kind: .queue, name: name, flag: flag, value: value, reason: reason,
                                  changedBy: caller.user, time: now))
        }
        logger.notice("queue \(name) changed by \(caller.user): enabled \(request.enabled.map(String.init) ?? "-"), started \(request.started.map(String.init) ?? "-")")
        return queues().first { $0.name == name }!
    }

    /// Applies the stored settings at start; settings of nodes or queues no longer
    /// configured are reported and skipped.
    func applyAdminSettings() throws {
        for setting in try store.adminSettings() where !apply(setting) {
            logger.warning("ignoring the run-time setting of \(setting.kind.rawValue) \(setting.name): no longer configured")
        }
    }

    /// Stores a setting, then applies it.
    func save(_ setting: AdminSetting) throws {
        do {
            try store.save(setting)
        } catch {
            throw refusal(error, "change")
        }
        _ = apply(setting)
        requestCycle()
    }

    /// Puts a setting into effect; false if its node or queue is not configured.
    private func apply(_ setting: AdminSetting) -> Bool {
        let why = setting.reason.isEmpty ? "" : ": \(setting.reason)"
        switch setting.kind {
        case .node:
            guard let node = scheduler.node(named: setting.name) else { return false }
            switch setting.flag {
            case .fenced:
                nodeStatus[node].fenced = setting.value ? "fenced by \(setting.changedBy)\(why)" : nil
            default:
                nodeStatus[node].drained = setting.value ? nil : "drained by \(setting.changedBy)\(why)"
                nodeStatus[node].drainMode = setting.value ? nil : setting.mode.flatMap(DrainMode.init(rawValue:)) ?? .finish
                nodeStatus[node].failedOut = nil
                nodeStatus[node].consecutiveStartFailures = 0
            }
            refreshNode(node)
        case .queue:
            guard router.configuration.queue(named: setting.name) != nil else { return false }
            var configuration = router.configuration
            configuration.queues = configuration.queues.map { queue in
                guard queue.name == setting.name else { return queue }
                return queue.with(setting.flag, setting.value)
            }
            router = QueueRouter(configuration: configuration)
            if setting.flag == .started, let index = scheduler.queue(named: setting.name) {
                scheduler.setQueueStarted(index, setting.value)
            }
            let queue = configuration.queue(named: setting.name)!
            let started = if case .execution(let e) = queue { e.started } else { true }
            queueNotes[setting.name] = queue.enabled && started
                ? nil
                : "\(Self.verb(setting)) by \(setting.changedBy)\(why)"
        }
        return true
    }

    private static func verb(_ setting: AdminSetting) -> String {
        switch (setting.flag, setting.value) {
        case (.enabled, true): "enabled"
        case (.enabled, false): "disabled"
        case (.started, true): "started"
        case (.started, false): "stopped"
        case (.fenced, true): "fenced"
        case (.fenced, false): "unfenced"
        }
    }

    /// An operator's reason: one line, bounded.
    private static func adminReason(_ reason: String?) throws -> String {
        let reason = reason ?? ""
        guard reason.utf8.count <= maxAdminReason else {
            throw EngineError.badRequest("reason is longer than \(maxAdminReason) bytes")
        }
        guard !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw EngineError.badRequest("reason must be one line without control characters")
        }
        return reason
    }
}

extension QueueConfig {
    /// This queue with `enabled` or (for an execution queue) `started` set.
    fileprivate func with(_ flag: AdminSetting.Flag, _ value: Bool) -> QueueConfig {
        switch (self, flag) {
        case (.routing(var q), .enabled):
            q.enabled = value
            return .routing(q)
        case (.execution(var q), .enabled):
            q.enabled = value
            return .execution(q)
        case (.execution(var q), .started):
            q.started = value
            return .execution(q)
        case (.routing, .started), (_, .fenced):
            return self
        }
    }
}
