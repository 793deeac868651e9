import Foundation
import Logging
import Synchronization
import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// Everything the libvirt driver does on one worker node, owned by one actor: the node's
/// connections and state (connecting, up, unreachable), the jobs and pooled VMs on it with
/// their walltime timers, its image cache, and the resync that settles them with what libvirt
/// really runs. A node that hangs or vanishes stalls its own agent only.
///
/// The node is `up` only after a resync: every VM found there is either a job this agent runs
/// (watched again) or destroyed with its volumes; every job whose VM is gone has ended with
/// the output it left.
actor NodeAgent {
    enum Link: Sendable, Equatable {
        case connecting
        case up
        case unreachable(String)
    }

    /// Why the driver itself stopped a domain.
    enum StopReason: Sendable { case cancel, walltime }

    struct TrackedJob: Sendable {
        enum Phase: Sendable {
            /// Disks being prepared and the domain created: no resync touches it.
            case preparing
            /// Its VM runs (or ran: the next resync or stop event ends it).
            case running
            /// Handed back after a daemon restart; the next resync finds its VM or ends it.
            case adopted
            /// Its VM is gone and its output is being collected.
            case collecting
            /// Its VM is being saved or migrated away: a stop is not its end.
            case moving
        }

        var spec: LaunchSpec
        var phase: Phase
        var startedAt: Double
        var domain: DomainRef?
        /// The pooled VM it runs in, if any (its domain and volumes are the pool's).
        var pool: Int64?
        /// sha256 of the image files its VM uses: never evicted while it runs.
        var images: Set<String> = []
        var stopReason: StopReason?
        var walltimeTask: Task<Void, Never>?
        /// When its vCPUs were paused, while suspended: its walltime does not count meanwhile.
        var suspendedAt: Double?
        /// The move that was under way when the daemon last stopped (adopted jobs only).
        var move: VMMove?
        /// The domain's CPU time when the job took it (a pooled VM's boot is not the job's).
        var cpuBaseline: UInt64 = 0
        var cpuSample: UInt64?
        /// When ``cpuSample`` was taken.
        var sampledAt: Double?
        var maxRSSKiB: UInt64?

        var volumes: VMVolumes { VMVolumes(owner: pool.map { .pool($0) } ?? .job(spec.jobID)) }

        /// Whether `cpu` can be this VM's: no more than its vCPUs could have run since the last
        /// sample (or since the job took the VM), with a second to spare. While a VM's QEMU
        /// process exits, libvirt can report another process's time for it (seen: libvirtd's
        /// own, the same for two VMs ending together), which must not be charged to the job.
        func isPlausible(cpu: UInt64, at now: Double) -> Bool {
            let base = cpuSample ?? cpuBaseline
            guard cpu > base else { return true }
            let seconds = max(0, now - (sampledAt ?? startedAt)) + 1
            return Double(cpu - base) <= seconds * Double(max(spec.cpus.count, 1)) * 1e9
        }

        /// What the job's VM used, as last sampled.
        var usage: JobUsage? {
            cpuSample.map { cpu in
                JobUsage(cpuSeconds: Double(cpu > cpuBaseline ? cpu - cpuBaseline : 0) / 1e9, maxRSSKiB: maxRSSKiB.map { Int($0) })
            }
        }
    }

    /// A pooled VM booting or waiting for a job.
    struct PooledDomain: Sendable {
        var spec: PoolVMSpec
        var domain: DomainRef?
        var ready = false
        var images: Set<String> = []
        var watcher: Task<Void, Never>?
        /// Its CPU time at the last sample: the baseline of the job that takes it.
        var cpuSample: UInt64 = 0
    }

    let node: NodeConfig
    let settings: LibvirtDriver.Settings
    let logger: Logger
    /// Where events go (the driver's stream).
    let emit: @Sendable (DriverEvent) -> Void
    /// Checked before every (re)connection: a TCP probe for remote nodes.
    let precheck: (@Sendable () async -> String?)?

    private(set) var link: Link = .connecting
    var control: LibvirtConnection?
    private var bulkOpening: Task<LibvirtConnection, any Error>?
    var jobs: [Int64: TrackedJob] = [:]
    /// Jobs whose VM is saved here: their state files and disks stay until restored or discarded.
    var saved: Set<Int64> = []
    /// Jobs whose volumes are being made here for a restore or an incoming migration.
    var receiving: Set<Int64> = []
    /// After a restart: jobs that were migrating here; their domain here is left for the
    /// source's agent to keep or destroy (``settleInterruptedMoves(found:)``).
    var incoming: Set<Int64> = []
    /// The agent of another node (a migration's other end), set by the driver.
    var peer: @Sendable (String) -> NodeAgent? = { _ in nil }
    var pools: [Int64: PooledDomain] = [:]
    var cache: ImageCache
    var uploads: [String: Task<Void, any Error>] = [:]
    private var tasks: [Task<Void, Never>] = []
    private var closed = false
    /// The cache as last published, readable without awaiting the actor (`vbatch nodes`).
    nonisolated let cacheSnapshot: Mutex<NodeCacheSummary>
    /// Uploads under way, updated from the transfers themselves.
    nonisolated let transfers = TransferProgress()

    init(node: NodeConfig, settings: LibvirtDriver.Settings, logger: Logger, emit: @escaping @Sendable (DriverEvent) -> Void) {
        self.node = node
        self.settings = settings
        self.logger = logger
        self.emit = emit
        let cache = ImageCache(capBytes: UInt64(node.imageCacheMB) << 20)
        self.cache = cache
        cacheSnapshot = Mutex(cache.summary)
        if let address = NodeAddress(uri: node.uri) {
            let timeout = settings.probeTimeout
            precheck = { await address.probe(timeout: timeout) }
        } else {
            precheck = nil
        }
        if let observe = settings.observeCall {
            let name = node.name
            callObserver = { operation, duration, succeeded in observe(name, operation, duration, succeeded) }
        } else {
            callObserver = nil
        }
    }

    /// The site's call observer with this node's name bound in.
    private let callObserver: LibvirtConnection.CallObserver?

    // MARK: - Life

    /// Takes charge of the jobs that had VMs here and starts connecting in the background.
    func begin(adopting: [AdoptedJob], saved: [Int64], peer: @escaping @Sendable (String) -> NodeAgent?) {
        self.peer = peer
        for job in adopting {
            var tracked = TrackedJob(spec: job.spec, phase: .adopted, startedAt: job.startedAt)
            if job.suspended { tracked.suspendedAt = WallClock.now() }
            tracked.move = job.move
            track(tracked)
        }
        self.saved.formUnion(saved)
        tasks.append(Task { await self.connect() })
        let resyncInterval = settings.resyncInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: resyncInterval)
                await self?.periodicResync()
            }
        })
        let sampleInterval = settings.usageInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: sampleInterval)
                await self?.sampleUsage()
            }
        })
    }

    /// After a restart: a job was migrating here; its domain here waits for the source's verdict.
    func expect(jobID: Int64) { incoming.insert(jobID) }

    /// Stops timers and lets go of the connections; VMs keep running for the next daemon.
    func shutdown() async {
        closed = true
        for task in tasks { task.cancel() }
        for job in jobs.values { job.walltimeTask?.cancel() }
        for pool in pools.values { pool.watcher?.cancel() }
        for upload in uploads.values { upload.cancel() }
        tasks = []
        let bulk = bulkOpening
        bulkOpening = nil
        if let control { await control.close() }
        control = nil
        if let bulk = try? await bulk?.value { await bulk.close() }
    }

    /// Opens the control connection, retrying with backoff (1 s doubling to `reconnectCap`)
    /// while the node cannot be reached; then settles it.
    private func connect() async {
        var delay: Duration = .seconds(1)
        while !closed && !Task.isCancelled {
            do {
                let connection = try await LibvirtConnection(uri: node.uri, callTimeout: settings.callTimeout, precheck: precheck,
                                                             observer: callObserver)
                guard !closed else { return await connection.close() }
                control = connection
                tasks.append(Task { [weak self] in
                    for await event in connection.events {
                        await self?.handle(event)
                    }
                })
                logger.info("libvirt: connected to \(node.name) (\(node.uri))")
                await settle()
                return
            } catch {
                markUnreachable(Self.reason(error))
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, settings.reconnectCap)
            }
        }
    }

    private func handle(_ event: ConnectionEvent) async {
        switch event {
        case .lifecycle(let domain, let kind, _):
            switch kind {
            case .stopped, .crashed:
                await domainStopped(domain)
            case .shutdown:
                // The guest powered off and QEMU is exiting: no sample now (libvirt's figures for
                // an exiting QEMU are not the VM's); the last periodic one stands.
                break
            default:
                break
            }
        case .disconnected(let reason):
            markUnreachable(reason)
        case .reconnected:
            logger.info("libvirt: reconnected to \(node.name); resyncing")
            await settle()
        }
    }

    /// Makes sure the pools exist and resyncs; the node is up after that, unreachable if it failed.
    private func settle() async {
        guard let control, !closed else { return }
        do {
            try await control.ensureDirectoryPool(name: NodeLayout.imagePool, path: NodeLayout.imagePath)
            try await control.ensureDirectoryPool(name: NodeLayout.jobPool, path: NodeLayout.jobPath)
            try await listImages()
            try await resync()
        } catch {
            markUnreachable("resync failed: \(Self.reason(error))")
            // A connection that stays open but fails here (a pool at the wrong path) is tried again.
            tasks.append(Task { [weak self, delay = settings.reconnectCap] in
                try? await Task.sleep(for: delay)
                await self?.settleIfNotUp()
            })
            return
        }
        guard link != .up else { return }
        link = .up
        logger.info("node \(node.name) is up: \(jobs.count) jobs, \(pools.count) pooled VMs")
        emit(.nodeUp(node: node.name, time: WallClock.now()))
    }

    private func settleIfNotUp() async {
        if link != .up, control?.isConnected == true { await settle() }
    }

    func markUnreachable(_ reason: String) {
        if case .unreachable = link { return }
        link = .unreachable(reason)
        logger.warning("node \(node.name) unreachable: \(reason)")
        emit(.nodeUnreachable(node: node.name, reason: reason, time: WallClock.now()))
    }

    /// The control connection, if the node is up.
    func upConnection() throws -> LibvirtConnection {
        switch link {
        case .up:
            if let control { return control }
            throw DriverError("node \(node.name) is not connected")
        case .connecting:
            throw DriverError("node \(node.name) is still being connected")
        case .unreachable(let reason):
            throw DriverError("node \(node.name) is unreachable: \(reason)")
        }
    }

    /// The connection for volume transfers, opened on first use.
    func bulkConnection() async throws -> LibvirtConnection {
        if let opening = bulkOpening {
            if let open = try? await opening.value { return open }
            if bulkOpening == opening { bulkOpening = nil }
        }
        let (uri, timeout, precheck, observer) = (node.uri, settings.callTimeout, precheck, callObserver)
        let opening = Task {
            try await LibvirtConnection(uri: uri, callTimeout: timeout, purpose: .bulk, precheck: precheck, observer: observer)
        }
        bulkOpening = opening
        return try await opening.value
    }

    /// libvirt's message, with what to check for the TLS failures a site meets when setting up nodes.
    static func reason(_ error: any Error) -> String {
        guard let error = error as? LibvirtError else { return "\(error)" }
        let message = error.message.isEmpty ? "\(error)" : error.message
        if message.contains("TLS confirmation") || message.contains("TLS handshake") {
            return message + " (the node refused this daemon: does it trust the daemon's certificate? "
                + "its CA must be the node's ca_file and its subject in tls_allowed_dn_list)"
        }
        if message.contains("known issuer") || message.contains("verify peer's certificate") || message.contains("failed validation") {
            return message + " (the node's certificate is not signed by the site CA, tls_ca, or names another address)"
        }
        return message
    }

    // MARK: - Tracking

    func track(_ job: TrackedJob) {
        var job = job
        if job.phase != .preparing, job.suspendedAt == nil { job.walltimeTask = walltimeTimer(job) }
        jobs[job.spec.jobID] = job
    }

    // MARK: - Resync

    private func periodicResync() async {
        guard link == .up, !closed else { return }
        do { try await resync() } catch { logger.warning("resync of \(node.name) failed: \(error)") }
    }

    /// A resync soon, not at the next period: something waits on it (a move to settle).
    func resyncSoon(after delay: Duration = .seconds(2)) {
        tasks.append(Task { [weak self] in
            try? await Task.sleep(for: delay)
            await self?.periodicResync()
        })
    }

    /// Compares what libvirt runs with what this agent tracks: adopted VMs found are watched
    /// again, tracked VMs that are gone end, VMs and volumes of jobs not tracked are removed,
    /// and a VM past its walltime and grace (its timer fired while the node was away) is destroyed.
    func resync() async throws {
        let control = try connected()
        let active = try await control.activeDomains()
        let now = WallClock.now()
        var seen = Set<Int64>()
        var moving: [Int64: DomainRef] = [:]
        for domain in active {
            if let id = JobDomain.jobID(fromName: domain.name) {
                if let job = jobs[id], job.phase == .adopted, job.move != nil {
                    moving[id] = domain
                } else if incoming.contains(id) || receiving.contains(id) {
                    // Arriving by migration (or, after a restart, waiting for its source's verdict).
                    continue
                } else if let job = jobs[id], job.pool == nil {
                    if job.phase != .preparing { seen.insert(id) }
                    found(id, domain: domain, pool: nil)
                } else if try await isOurs(domain, control, jobID: id) {
                    await removeStray(domain, owners: [.job(id)], control)
                }
            } else if let poolID = JobDomain.poolID(fromName: domain.name) {
                if pools[poolID] != nil { continue }
                if let (id, _) = jobs.first(where: { $0.value.pool == poolID }) {
                    seen.insert(id)
                    found(id, domain: domain, pool: poolID)
                } else if try await isOurs(domain, control) {
                    let holder = JobDomain.jobID(fromDomainXML: try await control.xmlDescription(domain))
                    if let holder, jobs[holder]?.phase == .adopted {
                        seen.insert(holder)
                        found(holder, domain: domain, pool: poolID)
                    } else {
                        await removeStray(domain, owners: [.pool(poolID)] + (holder.map { [.job($0)] } ?? []), control)
                    }
                }
            }
        }
        seen.formUnion(await settleInterruptedMoves(found: moving))
        for (id, job) in jobs where (job.phase == .running || job.phase == .adopted) && !seen.contains(id) {
            logger.info("resync: the VM of job \(id) on \(node.name) is gone")
            await finish(jobID: id)
        }
        for (id, job) in jobs where job.phase == .running && seen.contains(id) && job.suspendedAt == nil
            && now > job.startedAt + Double(job.spec.walltime) + settings.walltimeGrace.seconds + 5 {
            logger.info("resync: job \(id) on \(node.name) is past its walltime and grace; destroying")
            if jobs[id]?.stopReason == nil { jobs[id]?.stopReason = .walltime }
            await destroy(jobID: id)
        }
        let names = Set(active.map(\.name))
        for (id, pool) in pools {
            if let domain = pool.domain, !names.contains(domain.name) { poolVMGone(id, reason: "its domain disappeared") }
        }
        try await sweepVolumes(control)
    }

    /// A tracked job's VM is there: remember its domain; an adopted job is watched again.
    func found(_ id: Int64, domain: DomainRef, pool: Int64?) {
        guard var job = jobs[id] else { return }
        job.domain = domain
        job.pool = pool ?? job.pool
        let reattached = job.phase == .adopted
        if reattached { job.phase = .running }
        jobs[id] = job
        if reattached {
            logger.info("re-adopted job \(id) on \(node.name)")
            emit(.reattached(jobID: id, node: node.name, time: WallClock.now()))
        }
    }

    /// Whether a vbatch domain was created for this node, and for job `jobID` when given: its
    /// metadata says so (a domain merely named like ours is left alone).
    private func isOurs(_ domain: DomainRef, _ control: LibvirtConnection, jobID: Int64? = nil) async throws -> Bool {
        guard let metadata = try await control.metadata(domain, namespaceURI: JobDomain.metadataNamespace) else { return false }
        return JobDomain.nodeName(fromMetadata: metadata) == node.name
            && (jobID == nil || JobDomain.jobID(fromMetadata: metadata) == jobID)
    }

    /// A VM of a job this node no longer runs (requeued elsewhere, cancelled while away): destroyed, its output discarded.
    private func removeStray(_ domain: DomainRef, owners: [VMVolumes.Owner], _ control: LibvirtConnection) async {
        logger.notice("destroying \(domain.name) on \(node.name): its job is not running here (any more); output discarded")
        do { try await control.destroy(domain) } catch let error as LibvirtError where error.isNoDomain {} catch {
            logger.error("destroy of \(domain.name) on \(node.name) failed: \(error)")
        }
        for owner in owners { await deleteVolumes(VMVolumes(owner: owner)) }
    }

    /// Deletes job-pool volumes whose VM this agent does not track.
    private func sweepVolumes(_ control: LibvirtConnection) async throws {
        let volumes = try await control.volumes(inPool: NodeLayout.jobPool)
        var owners = Set<VMVolumes.Owner>(jobs.keys.map { .job($0) })
        owners.formUnion(saved.union(receiving).union(incoming).map { .job($0) })
        owners.formUnion(pools.keys.map { .pool($0) })
        owners.formUnion(jobs.values.compactMap { $0.pool.map { .pool($0) } })
        for volume in volumes {
            guard let owner = VMVolumes.owner(ofVolume: volume.name), !owners.contains(owner) else { continue }
            logger.info("removing volume \(volume.name) on \(node.name): no VM of this daemon uses it")
            _ = try? await control.deleteVolume(named: volume.name, inPool: NodeLayout.jobPool)
        }
    }

    func connected() throws -> LibvirtConnection {
        guard let control, control.isConnected else { throw DriverError("node \(node.name) is not connected") }
        return control
    }

    /// Deletes every volume a VM may have had (best effort: missing ones are fine).
    func deleteVolumes(_ volumes: VMVolumes) async {
        guard let control else { return }
        for name in volumes.all {
            do { try await control.deleteVolume(named: name, inPool: NodeLayout.jobPool) } catch {
                logger.warning("cannot delete volume \(name) on \(node.name): \(error)")
            }
        }
    }

    // MARK: - Usage

    /// One `virConnectGetAllDomainStats` call for all VMs here; a failure keeps the last samples.
    func sampleUsage() async {
        guard link == .up, !jobs.isEmpty || !pools.isEmpty, let control,
              let usage = try? await control.domainUsage() else { return }
        let byName = Dictionary(usage.map { ($0.domain.name, $0) }, uniquingKeysWith: { a, _ in a })
        let now = WallClock.now()
        for (id, job) in jobs {
            guard let name = job.domain?.name, let sample = byName[name] else { continue }
            if let cpu = sample.cpuTimeNanoseconds {
                if job.isPlausible(cpu: cpu, at: now) {
                    jobs[id]?.cpuSample = max(cpu, job.cpuSample ?? 0)
                    jobs[id]?.sampledAt = now
                } else {
                    logger.notice("job \(id): libvirt reported \(Double(cpu) / 1e9) s of CPU for \(name), more than its vCPUs could have used; sample ignored")
                }
            }
            if let rss = sample.rssKiB { jobs[id]?.maxRSSKiB = max(rss, job.maxRSSKiB ?? 0) }
        }
        for (id, pool) in pools {
            if let name = pool.domain?.name, let cpu = byName[name]?.cpuTimeNanoseconds { pools[id]?.cpuSample = cpu }
        }
    }
}

struct DriverError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
