import Foundation
import Logging
import Synchronization
import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// Runs each job in its own transient QEMU domain on a libvirt worker node.
///
/// Each node has a ``NodeAgent`` (an actor) that owns its connections, its jobs and pooled
/// VMs and its image cache; this type only routes calls to them and merges their events.
/// Every byte a VM needs or leaves moves through libvirt's storage API on the node (images
/// cached by content, per-job volumes uploaded or created there, output and console fetched
/// back), so a node shares no filesystem with the daemon. A node that does not answer is
/// reported `unreachable` and costs the others nothing: its calls time out in its own lane,
/// and a node whose port does not even accept connections is probed without a thread.
public final class LibvirtDriver: HypervisorDriver {
    public struct Settings: Sendable {
        /// Time between the ACPI shutdown at the walltime limit and the destroy.
        public var walltimeGrace: Duration
        /// Safety-net comparison of what libvirt runs with what the driver tracks.
        public var resyncInterval: Duration
        /// Longest any single libvirt call may take before it counts as failed.
        public var callTimeout: Duration
        /// The image catalogue: disks (and their backing files) must lie inside it.
        public var catalogueDirectory: String
        /// The guest agent, delivered on a cloud-init seed to images without it.
        public var agentPath: String
        /// Time between two reads of the VMs' CPU time and memory, for accounting.
        public var usageInterval: Duration
        /// How long a node's port may take to accept a TCP connection before it counts as unreachable.
        public var probeTimeout: Duration
        /// Longest wait between two attempts to reach an unreachable node.
        public var reconnectCap: Duration
        /// Told of every libvirt call with the node it went to (for metrics and diagnostics).
        public var observeCall: (@Sendable (_ node: String, _ operation: String, _ duration: Duration, _ succeeded: Bool) -> Void)?

        public init(walltimeGrace: Duration = .seconds(30), resyncInterval: Duration = .seconds(30),
                    callTimeout: Duration = .seconds(30), catalogueDirectory: String = "/",
                    agentPath: String = "/usr/local/lib/vbatch/vbatch-guest", usageInterval: Duration = .seconds(1),
                    probeTimeout: Duration = .seconds(5), reconnectCap: Duration = .seconds(30)) {
            self.walltimeGrace = walltimeGrace
            self.resyncInterval = resyncInterval
            self.callTimeout = callTimeout
            self.catalogueDirectory = catalogueDirectory
            self.agentPath = agentPath
            self.usageInterval = usageInterval
            self.probeTimeout = probeTimeout
            self.reconnectCap = reconnectCap
        }
    }

    public let events: AsyncStream<DriverEvent>
    let continuation: AsyncStream<DriverEvent>.Continuation
    let settings: Settings
    let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var agents: [String: NodeAgent] = [:]
        /// The node of each job the driver runs, for cancel and abandon.
        var jobNodes: [Int64: String] = [:]
    }

    public init(settings: Settings = Settings(), logger: Logger) {
        (events, continuation) = AsyncStream.makeStream(of: DriverEvent.self)
        self.settings = settings
        self.logger = logger
        LibvirtEventLoop.start()
    }

    deinit { continuation.finish() }

    public func begin(nodes: [NodeConfig], adopting: [AdoptedJob], saved: [SavedJob]) async {
        let continuation = continuation
        let agents = state.withLock { s in
            for node in nodes where s.agents[node.name] == nil {
                s.agents[node.name] = NodeAgent(node: node, settings: settings, logger: logger) { [weak self] event in
                    self?.state.withLock { s in
                        switch event {
                        case .ended(let id, _, _, _, _), .saved(let id, _, _): s.jobNodes[id] = nil
                        case .migrated(let id, let node, _): s.jobNodes[id] = node
                        default: break
                        }
                    }
                    continuation.yield(event)
                }
            }
            for job in adopting { s.jobNodes[job.spec.jobID] = job.spec.node.name }
            return s.agents
        }
        let peers: @Sendable (String) -> NodeAgent? = { [weak self] name in self?.state.withLock { $0.agents[name] } }
        let byNode = Dictionary(grouping: adopting, by: \.spec.node.name)
        let savedByNode = Dictionary(grouping: saved, by: \.node)
        for job in adopting {
            if case .migrating(let target, _)? = job.move { await agents[target]?.expect(jobID: job.spec.jobID) }
        }
        for (name, agent) in agents {
            await agent.begin(adopting: byNode[name] ?? [], saved: (savedByNode[name] ?? []).map(\.jobID), peer: peers)
        }
    }

    // MARK: - Moves

    public func suspend(jobID: Int64) async throws {
        try await agent(runningJob: jobID).suspend(jobID: jobID)
    }

    public func resume(jobID: Int64) async throws {
        try await agent(runningJob: jobID).resume(jobID: jobID)
    }

    public func save(jobID: Int64) async throws -> VMPiece {
        let piece = try await agent(runningJob: jobID).save(jobID: jobID)
        state.withLock { _ = $0.jobNodes.removeValue(forKey: jobID) }
        return piece
    }

    public func restore(_ spec: LaunchSpec, from node: String) async throws {
        let target = try agent(spec.node.name)
        let source = try agent(node)
        state.withLock { $0.jobNodes[spec.jobID] = spec.node.name }
        do {
            if node != spec.node.name { try await target.receive(jobID: spec.jobID, from: source, spool: spec.spoolDirectory) }
            try await target.restore(spec)
        } catch {
            state.withLock { _ = $0.jobNodes.removeValue(forKey: spec.jobID) }
            throw error
        }
        if node != spec.node.name { await source.discardSaved(jobID: spec.jobID) }
    }

    public func migrate(jobID: Int64, to spec: LaunchSpec, bound: Duration) async throws -> VMPiece {
        let source = try agent(runningJob: jobID)
        let target = try agent(spec.node.name)
        guard source !== target else { throw DriverError("job \(jobID) already runs on \(spec.node.name)") }
        let piece = try await source.migrate(jobID: jobID, to: target, spec: spec, bound: bound)
        state.withLock { $0.jobNodes[jobID] = spec.node.name }
        return piece
    }

    public func discard(savedJob jobID: Int64, node: String) async {
        await (try? agent(node))?.discardSaved(jobID: jobID)
    }

    private func agent(runningJob jobID: Int64) throws -> NodeAgent {
        guard let agent = agent(ofJob: jobID) else { throw DriverError("job \(jobID) has no VM this driver runs") }
        return agent
    }

    public func start(_ spec: LaunchSpec) async throws {
        let agent = try agent(spec.node.name)
        state.withLock { $0.jobNodes[spec.jobID] = spec.node.name }
        do {
            if let pooled = spec.pooledVM {
                try await agent.startInPool(spec, pooledVM: pooled)
            } else {
                try await agent.start(spec)
            }
        } catch {
            state.withLock { _ = $0.jobNodes.removeValue(forKey: spec.jobID) }
            throw error
        }
    }

    public func cancel(jobID: Int64) async {
        guard let agent = agent(ofJob: jobID) else { return }
        await agent.cancel(jobID: jobID)
    }

    public func abandon(jobID: Int64) async {
        guard let agent = agent(ofJob: jobID) else { return }
        state.withLock { _ = $0.jobNodes.removeValue(forKey: jobID) }
        await agent.abandon(jobID: jobID)
    }

    public func forget(node: String) async {
        guard let agent = try? agent(node) else { return }
        state.withLock { s in s.jobNodes = s.jobNodes.filter { $0.value != node } }
        await agent.forgetAll()
    }

    public func bootPoolVM(_ spec: PoolVMSpec) async throws {
        try await agent(spec.node.name).bootPoolVM(spec)
    }

    public func cacheSummary(node: String) -> NodeCacheSummary? {
        state.withLock { $0.agents[node] }?.cacheSummary
    }

    public func stage(_ image: ImageConfig, node: String) async throws -> UInt64 {
        try await agent(node).push(image)
    }

    public func shutdown() async {
        let agents = state.withLock { Array($0.agents.values) }
        await withTaskGroup(of: Void.self) { group in
            for agent in agents { group.addTask { await agent.shutdown() } }
        }
        continuation.finish()
        logger.info("libvirt: driver stopped; VMs left running for the next vbatchd")
    }

    private func agent(_ node: String) throws -> NodeAgent {
        guard let agent = state.withLock({ $0.agents[node] }) else { throw DriverError("node \(node) is not managed by this driver") }
        return agent
    }

    private func agent(ofJob jobID: Int64) -> NodeAgent? {
        state.withLock { s in s.jobNodes[jobID].flatMap { s.agents[$0] } }
    }
}
