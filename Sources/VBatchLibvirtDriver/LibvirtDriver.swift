import Foundation
import Logging
import Synchronization
import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// Runs each job in its own transient QEMU domain through libvirt's C API.
///
/// A job's life: its disks are prepared in its spool (job disk, output disk, a qcow2
/// overlay for disk images), the domain is created from a ``DomainSpec``, the walltime
/// timer starts. When libvirt reports the domain stopped — the guest powered off, the
/// walltime timer shut it down, a cancel destroyed it — the output disk is read into the
/// spool, the scratch disks are deleted, and one `.ended` event reports the outcome.
/// A periodic resync (and one after every reconnect) catches domains that vanished
/// without an event. A sampler reads every running domain's CPU time and resident memory
/// each `usageInterval` (and when a guest shuts down, or before the driver destroys a VM);
/// the last sample is the job's usage when it ends.
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

        public init(walltimeGrace: Duration = .seconds(30), resyncInterval: Duration = .seconds(30),
                    callTimeout: Duration = .seconds(30), catalogueDirectory: String = "/",
                    agentPath: String = "/usr/local/lib/vbatch/vbatch-guest", usageInterval: Duration = .seconds(1)) {
            self.walltimeGrace = walltimeGrace
            self.resyncInterval = resyncInterval
            self.callTimeout = callTimeout
            self.catalogueDirectory = catalogueDirectory
            self.agentPath = agentPath
            self.usageInterval = usageInterval
        }
    }

    public let events: AsyncStream<DriverEvent>
    /// Nodes this driver serves (whose VMs ``runningJobs()`` lists after a restart).
    public let nodes: [NodeConfig]
    let continuation: AsyncStream<DriverEvent>.Continuation
    let settings: Settings
    let logger: Logger
    let state = Mutex(State())

    /// Why the driver itself stopped a domain.
    enum StopReason: Sendable { case cancel, walltime }

    struct TrackedJob: Sendable {
        var spec: LaunchSpec
        var domain: DomainRef
        var uri: String
        var stopReason: StopReason?
        var walltimeTask: Task<Void, Never>?
        /// The pooled VM's spool (its console log) when the job runs in one.
        var poolSpool: String?
        /// The domain's CPU time when the job took it (a pooled VM's boot is not the job's).
        var cpuBaseline: UInt64 = 0
        /// The last samples of the domain's CPU time and largest resident memory.
        var cpuSample: UInt64?
        var maxRSSKiB: UInt64?

        /// What the job's VM used, as last sampled.
        var usage: JobUsage? {
            cpuSample.map { cpu in
                JobUsage(cpuSeconds: Double(cpu > cpuBaseline ? cpu - cpuBaseline : 0) / 1e9, maxRSSKiB: maxRSSKiB.map { Int($0) })
            }
        }

        var console: String { (poolSpool ?? spec.spoolDirectory) + "/console.log" }
        /// A pooled VM booted with its output disk already attached (one hot-plug less).
        var outputDisk: String { (poolSpool ?? spec.spoolDirectory) + "/out.img" }
    }

    /// A pooled VM booting or waiting for a job.
    struct PooledDomain: Sendable {
        var spec: PoolVMSpec
        var domain: DomainRef
        var ready = false
        var watcher: Task<Void, Never>?
        /// Its CPU time at the last sample: the baseline of the job that takes it.
        var cpuSample: UInt64 = 0
    }

    struct State {
        var jobs: [Int64: TrackedJob] = [:]
        var pools: [Int64: PooledDomain] = [:]
        var connections: [String: Task<LibvirtConnection, any Error>] = [:]
        var listeners: [String: Task<Void, Never>] = [:]
        var resync: Task<Void, Never>?
        var sampler: Task<Void, Never>?
        /// After ``shutdown()``: no connection is opened again.
        var closed = false
    }

    public init(nodes: [NodeConfig], settings: Settings = Settings(), logger: Logger) {
        (events, continuation) = AsyncStream.makeStream(of: DriverEvent.self)
        self.nodes = nodes
        self.settings = settings
        self.logger = logger
        LibvirtEventLoop.start()
    }

    deinit {
        state.withLock { s in
            s.resync?.cancel()
            s.sampler?.cancel()
            s.listeners.values.forEach { $0.cancel() }
            s.jobs.values.forEach { $0.walltimeTask?.cancel() }
            s.pools.values.forEach { $0.watcher?.cancel() }
        }
        continuation.finish()
    }

    // MARK: - Connections

    /// One connection per libvirt URI, opened on first use; its events feed this driver.
    func connection(_ uri: String) async throws -> LibvirtConnection {
        let task: Task<LibvirtConnection, any Error> = try state.withLock { s in
            if s.closed { throw DriverError("the libvirt driver is shut down") }
            if let existing = s.connections[uri] { return existing }
            let timeout = settings.callTimeout
            let task = Task { try await LibvirtConnection(uri: uri, callTimeout: timeout) }
            s.connections[uri] = task
            return task
        }
        do {
            let connection = try await task.value
            startListening(connection)
            return connection
        } catch {
            // Let the next call try again.
            state.withLock { s in if s.connections[uri] == task { s.connections[uri] = nil } }
            throw error
        }
    }

    private func startListening(_ connection: LibvirtConnection) {
        let started: Bool = state.withLock { s in
            guard s.listeners[connection.uri] == nil else { return false }
            s.listeners[connection.uri] = Task { [weak self] in
                for await event in connection.events {
                    guard let self else { return }
                    await self.handle(event, uri: connection.uri)
                }
            }
            if s.resync == nil {
                let interval = settings.resyncInterval
                s.resync = Task { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        await self?.resync()
                    }
                }
                let sampleInterval = settings.usageInterval
                s.sampler = Task { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: sampleInterval)
                        await self?.sampleUsage()
                    }
                }
            }
            return true
        }
        if started { logger.info("libvirt: connected to \(connection.uri)") }
    }

    private func handle(_ event: ConnectionEvent, uri: String) async {
        switch event {
        case .lifecycle(let domain, let kind, _):
            switch kind {
            case .stopped, .crashed:
                await domainStopped(domain.name)
            case .shutdown:
                // The guest powered off; its QEMU process may still answer: a last sample.
                await sampleUsage(uri: uri)
            default:
                break
            }
        case .disconnected(let reason):
            logger.warning("libvirt: lost \(uri): \(reason); reconnecting")
        case .reconnected:
            logger.info("libvirt: reconnected to \(uri); resyncing")
            await resync()
        }
    }

    // MARK: - HypervisorDriver

    public func start(_ spec: LaunchSpec) async throws {
        if let pooled = spec.pooledVM { return try await startInPool(spec, pooledVM: pooled) }
        let files = JobDomain.Files(spool: spec.spoolDirectory)
        do {
            let xml = try Self.prepare(spec, settings: settings)
            let connection = try await connection(spec.node.uri)
            let domain = try await connection.createTransient(xml: xml)
            let startedAt = WallClock.now()
            track(TrackedJob(spec: spec, domain: domain, uri: spec.node.uri), startedAt: startedAt)
            continuation.yield(.running(jobID: spec.jobID, time: startedAt))
        } catch {
            removeScratch(files)
            throw error
        }
    }

    public func adopt(_ spec: LaunchSpec, startedAt: Double) async {
        let name = JobDomain.name(jobID: spec.jobID)
        // Tracked first, so that even while libvirt cannot be reached the periodic resync
        // settles the job later instead of anyone guessing.
        track(TrackedJob(spec: spec, domain: DomainRef(name: name, uuid: ""), uri: spec.node.uri), startedAt: startedAt)
        do {
            let connection = try await connection(spec.node.uri)
            if let domain = try await findDomain(ofJob: spec.jobID, connection) {
                let poolSpool = JobDomain.poolID(fromName: domain.name).map { poolSpoolDirectory(id: $0, jobSpool: spec.spoolDirectory) }
                state.withLock { s in
                    s.jobs[spec.jobID]?.domain = domain
                    s.jobs[spec.jobID]?.poolSpool = poolSpool
                }
            } else {
                // It ended while the daemon was down: its output disk tells how.
                await finish(jobID: spec.jobID)
            }
        } catch {
            logger.warning("libvirt: cannot look up the VM of job \(spec.jobID) on \(spec.node.name) yet: \(error)")
        }
    }

    public func cancel(jobID: Int64) async {
        guard let job = state.withLock({ s -> TrackedJob? in
            guard var job = s.jobs[jobID] else { return nil }
            if job.stopReason == nil { job.stopReason = .cancel }
            s.jobs[jobID] = job
            return job
        }) else { return }
        await destroy(job)
    }

    public func runningJobs() async throws -> [AdoptableJob] {
        var found: [AdoptableJob] = []
        let uris = Set(nodes.map(\.uri))
        for uri in uris {
            let connection = try await connection(uri)
            for domain in try await connection.activeDomains() {
                let metadata = try await connection.metadata(domain, namespaceURI: JobDomain.metadataNamespace)
                let node = metadata.flatMap(Self.nodeName(fromMetadata:)) ?? ""
                if let nameID = JobDomain.jobID(fromName: domain.name) {
                    guard let id = metadata.flatMap(JobDomain.jobID(fromMetadata:)), id == nameID else { continue }
                    found.append(AdoptableJob(jobID: id, node: node))
                } else if JobDomain.poolID(fromName: domain.name) != nil,
                          let id = JobDomain.jobID(fromDomainXML: try await connection.xmlDescription(domain)) {
                    found.append(AdoptableJob(jobID: id, node: node))
                }
            }
        }
        return found
    }

    public func cleanUp(jobID: Int64, node: String) async {
        guard let config = nodes.first(where: { $0.name == node }) ?? nodes.first else { return }
        do {
            let connection = try await connection(config.uri)
            if let domain = try await findDomain(ofJob: jobID, connection) {
                try await connection.destroy(domain)
            }
        } catch {
            logger.error("libvirt: cleanup of job \(jobID) on \(node) failed: \(error)")
        }
    }

    public func shutdown() async {
        let (connections, tasks) = state.withLock { s -> ([Task<LibvirtConnection, any Error>], [Task<Void, Never>]) in
            var tasks = Array(s.listeners.values) + [s.resync, s.sampler].compactMap { $0 }
            tasks += s.jobs.values.compactMap(\.walltimeTask) + s.pools.values.compactMap(\.watcher)
            let connections = Array(s.connections.values)
            s = State()
            s.closed = true
            return (connections, tasks)
        }
        for task in tasks { task.cancel() }
        for connection in connections {
            if let open = try? await connection.value { await open.close() }
        }
        continuation.finish()
        logger.info("libvirt: driver stopped; VMs left running for the next vbatchd")
    }

    // MARK: - Internals

    /// Checks the image, writes a job's disks into its spool and returns its domain XML:
    /// everything `start` does before calling libvirt (public so benchmarks can time libvirt alone).
    public static func prepare(_ spec: LaunchSpec, settings: Settings = Settings()) throws -> String {
        let files = JobDomain.Files(spool: spec.spoolDirectory)
        try ImageCheck.verify(spec.environment, catalogueDirectory: settings.catalogueDirectory)
        try prepareDisks(spec, files: files)
        if spec.environment.agent == .cloudInit {
            guard let agent = FileManager.default.contents(atPath: settings.agentPath) else {
                throw DriverError("cannot read the guest agent for the cloud-init seed at \(settings.agentPath)")
            }
            try CloudInitDisk.write(to: files.cidata, jobID: spec.jobID, agent: [UInt8](agent))
        }
        return try DomainXML.render(JobDomain.spec(for: spec, files: files))
    }

    private static func prepareDisks(_ spec: LaunchSpec, files: JobDomain.Files) throws {
        try FileManager.default.createDirectory(atPath: files.spool, withIntermediateDirectories: true)
        try JobDisk.write(to: files.jobDisk, jobID: spec.jobID, payload: spec.payload, cores: spec.cpus.count,
                          memoryMB: spec.memoryMB, walltime: spec.walltime)
        try OutputDisk.create(at: files.outputDisk, sizeMB: spec.outputDiskMB)
        if let base = spec.environment.disk {
            try Overlay.create(at: files.overlay, base: base, baseFormat: spec.environment.format)
        }
    }

    func removeScratch(_ files: JobDomain.Files) {
        for path in files.scratch { unlink(path) }
    }

    func track(_ job: TrackedJob, startedAt: Double) {
        let remaining = max(0, startedAt + Double(job.spec.walltime) - WallClock.now())
        let grace = settings.walltimeGrace
        let id = job.spec.jobID
        var job = job
        job.walltimeTask = Task { [weak self] in
            try? await Task.sleep(for: .seconds(remaining))
            guard !Task.isCancelled, let self else { return }
            await self.enforceWalltime(jobID: id, grace: grace)
        }
        state.withLock { $0.jobs[id] = job }
    }

    /// ACPI shutdown at the limit; destroy after the grace period if the guest is still up.
    private func enforceWalltime(jobID: Int64, grace: Duration) async {
        guard let job = state.withLock({ s -> TrackedJob? in
            guard s.jobs[jobID] != nil else { return nil }
            if s.jobs[jobID]!.stopReason == nil { s.jobs[jobID]!.stopReason = .walltime }
            return s.jobs[jobID]
        }) else { return }
        logger.info("job \(jobID): walltime reached, ACPI shutdown")
        do {
            let connection = try await connection(job.uri)
            if let domain = try await resolve(job, connection) { try await connection.shutdown(domain) }
        } catch {
            logger.warning("job \(jobID): ACPI shutdown failed (\(error)); destroying")
        }
        try? await Task.sleep(for: grace)
        guard let still = state.withLock({ $0.jobs[jobID] }) else { return }
        logger.info("job \(jobID): still running after the grace period, destroying")
        await destroy(still)
    }

    private func destroy(_ job: TrackedJob) async {
        await sampleUsage(uri: job.uri)
        do {
            let connection = try await connection(job.uri)
            guard let domain = try await resolve(job, connection) else { return await finish(jobID: job.spec.jobID) }
            try await connection.destroy(domain)
        } catch let error as LibvirtError where error.isNoDomain {
            await finish(jobID: job.spec.jobID)
        } catch {
            logger.error("job \(job.spec.jobID): destroy failed: \(error)")
        }
    }

    /// The job's domain as libvirt knows it now (adopted jobs are tracked by name until found).
    private func resolve(_ job: TrackedJob, _ connection: LibvirtConnection) async throws -> DomainRef? {
        if !job.domain.uuid.isEmpty { return job.domain }
        let domain = try await findDomain(ofJob: job.spec.jobID, connection)
        if let domain { state.withLock { $0.jobs[job.spec.jobID]?.domain = domain } }
        return domain
    }

    /// The domain is gone: collect the output, delete scratch disks, report the outcome once.
    func finish(jobID: Int64) async {
        guard let job = state.withLock({ $0.jobs.removeValue(forKey: jobID) }) else { return }
        job.walltimeTask?.cancel()
        let files = JobDomain.Files(spool: job.spec.spoolDirectory)
        var collected: OutputDisk.Result?
        var collectError: String?
        do {
            collected = try OutputDisk.collect(from: job.outputDisk, into: files.spool)
        } catch {
            collectError = "\(error)"
        }
        removeScratch(files)
        if let poolSpool = job.poolSpool {
            // The pooled VM's console log belongs to this job now; the VM is discarded.
            rename(poolSpool + "/console.log", files.console)
            try? FileManager.default.removeItem(atPath: poolSpool)
        }
        let console = (try? String(contentsOfFile: files.console, encoding: .utf8)) ?? ""
        let payloadStarted = console.contains("vbatch-guest: job \(jobID) started")
        let outcome: JobOutcome
        switch job.stopReason {
        case .cancel?: outcome = .cancelled
        case .walltime?: outcome = .walltimeExceeded
        case nil:
            if let code = collected?.exitCode {
                outcome = .exited(code: code)
            } else if payloadStarted {
                outcome = .lost(reason: "the VM stopped before the payload finished" + (collectError.map { " (\($0))" } ?? ""))
            } else {
                let tail = console.split(separator: "\n").suffix(3).joined(separator: " | ")
                outcome = .startFailed(reason: "the VM stopped before the payload started" + (tail.isEmpty ? "" : ": \(tail)"))
            }
        }
        continuation.yield(.ended(jobID: jobID, outcome: outcome, time: WallClock.now(), usage: job.usage))
    }

    /// Reads CPU time and memory of the VMs on every URI that has jobs or pooled VMs.
    func sampleUsage() async {
        let uris = state.withLock { s in Set(s.jobs.values.map(\.uri)).union(s.pools.values.map(\.spec.node.uri)) }
        for uri in uris { await sampleUsage(uri: uri) }
    }

    /// One `virConnectGetAllDomainStats` call for all VMs on `uri`; a failure keeps the last samples.
    func sampleUsage(uri: String) async {
        guard let connection = try? await connection(uri), let usage = try? await connection.domainUsage() else { return }
        let byName = Dictionary(usage.map { ($0.domain.name, $0) }, uniquingKeysWith: { a, _ in a })
        state.withLock { s in
            for (id, job) in s.jobs where job.uri == uri {
                guard let sample = byName[job.domain.name] else { continue }
                if let cpu = sample.cpuTimeNanoseconds { s.jobs[id]!.cpuSample = max(cpu, job.cpuSample ?? 0) }
                if let rss = sample.rssKiB { s.jobs[id]!.maxRSSKiB = max(rss, job.maxRSSKiB ?? 0) }
            }
            for (id, pool) in s.pools where pool.spec.node.uri == uri {
                if let cpu = byName[pool.domain.name]?.cpuTimeNanoseconds { s.pools[id]!.cpuSample = cpu }
            }
        }
    }

    /// Compares tracked jobs with the domains libvirt runs; a tracked job without a domain ended unseen.
    func resync() async {
        let byURI = Dictionary(grouping: state.withLock { Array($0.jobs.values) }, by: \.uri)
        for (uri, jobs) in byURI {
            guard let connection = try? await connection(uri),
                  let active = try? await connection.activeDomains() else { continue }
            let names = Set(active.map(\.name))
            for job in jobs where !names.contains(job.domain.name) {
                logger.info("resync: domain of job \(job.spec.jobID) is gone")
                await finish(jobID: job.spec.jobID)
            }
        }
        for pool in state.withLock({ Array($0.pools.values) }) {
            guard let connection = try? await connection(pool.spec.node.uri),
                  let active = try? await connection.activeDomains(), !active.contains(pool.domain) else { continue }
            poolVMGone(pool.spec.id, reason: "its domain disappeared")
        }
    }

    static func nodeName(fromMetadata xml: String) -> String? {
        guard let range = xml.range(of: "node=\"") else { return nil }
        return String(xml[range.upperBound...].prefix { $0 != "\"" })
    }
}
