import Foundation
import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// Pooled VMs: booted ahead of any job, they wait (agent "ready") until a job's output and
/// job disks are hot-plugged, run that one job, power off and are discarded.
extension LibvirtDriver {
    public func bootPoolVM(_ spec: PoolVMSpec) async throws {
        let files = JobDomain.Files(spool: spec.spoolDirectory)
        do {
            // Pooled VMs get the agent from their image: a cloud-init seed is per job.
            guard spec.environment.agent == .installed else {
                throw DriverError("pools need images that carry the guest agent (\(spec.environment.name) gets it from cloud-init)")
            }
            try ImageCheck.verify(spec.environment, catalogueDirectory: settings.catalogueDirectory)
            try FileManager.default.createDirectory(atPath: spec.spoolDirectory, withIntermediateDirectories: true)
            if let base = spec.environment.disk {
                try Overlay.create(at: files.overlay, base: base, baseFormat: spec.environment.format)
            }
            try OutputDisk.create(at: files.outputDisk, sizeMB: spec.outputDiskMB)
            let xml = try DomainXML.render(JobDomain.poolSpec(for: spec, files: files))
            let connection = try await connection(spec.node.uri)
            let domain = try await connection.createTransient(xml: xml)
            state.withLock { $0.pools[spec.id] = PooledDomain(spec: spec, domain: domain) }
            let watcher = Task { [weak self] () async -> Void in await self?.waitUntilReady(spec, console: files.console) }
            state.withLock { $0.pools[spec.id]?.watcher = watcher }
        } catch {
            try? FileManager.default.removeItem(atPath: spec.spoolDirectory)
            throw error
        }
    }

    public func discardIdlePoolVMs() async {
        for uri in Set(nodes.map(\.uri)) {
            guard let connection = try? await connection(uri), let domains = try? await connection.activeDomains() else { continue }
            for domain in domains where JobDomain.poolID(fromName: domain.name) != nil {
                guard let xml = try? await connection.xmlDescription(domain), JobDomain.jobID(fromDomainXML: xml) == nil else { continue }
                logger.info("libvirt: discarding idle pooled VM \(domain.name) left by an earlier vbatchd")
                try? await connection.destroy(domain)
            }
        }
    }

    /// Hot-plugs the job disk into an idle pooled VM (its output disk is there since boot).
    func startInPool(_ spec: LaunchSpec, pooledVM id: Int64) async throws {
        guard let pool = state.withLock({ $0.pools.removeValue(forKey: id) }), pool.ready else {
            throw DriverError("pooled VM \(id) is not waiting for a job")
        }
        pool.watcher?.cancel()
        let files = JobDomain.Files(spool: spec.spoolDirectory)
        let connection = try await connection(spec.node.uri)
        do {
            try FileManager.default.createDirectory(atPath: files.spool, withIntermediateDirectories: true)
            try JobDisk.write(to: files.jobDisk, jobID: spec.jobID, payload: spec.payload, cores: spec.cpus.count,
                              memoryMB: spec.memoryMB, walltime: spec.walltime)
            // Tracked before the disks go in, so the VM's power-off after the job is this job's end.
            var job = TrackedJob(spec: spec, domain: pool.domain, uri: spec.node.uri)
            job.poolSpool = pool.spec.spoolDirectory
            job.cpuBaseline = pool.cpuSample
            let startedAt = WallClock.now()
            track(job, startedAt: startedAt)
            try await connection.attachDevice(pool.domain, xml: try DomainXML.diskXML(JobDomain.jobDisk(image: spec.environment, files: files)))
            continuation.yield(.running(jobID: spec.jobID, time: startedAt))
        } catch {
            _ = state.withLock { $0.jobs.removeValue(forKey: spec.jobID) }?.walltimeTask?.cancel()
            try? await connection.destroy(pool.domain)
            removeScratch(files)
            try? FileManager.default.removeItem(atPath: pool.spec.spoolDirectory)
            throw error
        }
    }

    /// Where a pooled VM keeps its files: `pool-ID` beside the jobs' spool directories.
    func poolSpoolDirectory(id: Int64, jobSpool: String) -> String {
        (jobSpool as NSString).deletingLastPathComponent + "/pool-\(id)"
    }

    /// Reports the pooled VM ready once its agent prints `vbatch-guest: ready`.
    private func waitUntilReady(_ spec: PoolVMSpec, console: String) async {
        let marker = Array("vbatch-guest: ready".utf8)
        let deadline = WallClock.now() + 300
        while !Task.isCancelled, WallClock.now() < deadline {
            if let data = FileManager.default.contents(atPath: console), Array(data).firstRange(of: marker) != nil {
                let known = state.withLock { s -> Bool in
                    guard s.pools[spec.id] != nil else { return false }
                    s.pools[spec.id]!.ready = true
                    return true
                }
                if known { continuation.yield(.poolVMReady(id: spec.id, time: WallClock.now())) }
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard !Task.isCancelled, let pool = state.withLock({ $0.pools[spec.id] }) else { return }
        logger.error("pooled VM \(spec.id) on \(spec.node.name) never became ready; destroying it")
        try? await connection(spec.node.uri).destroy(pool.domain)
    }

    /// A domain stopped: a job's (its end) or an idle pooled VM's (the pool lost it).
    func domainStopped(_ name: String) async {
        if let id = JobDomain.jobID(fromName: name) { return await finish(jobID: id) }
        guard JobDomain.poolID(fromName: name) != nil else { return }
        if let job = state.withLock({ $0.jobs.values.first { $0.domain.name == name } }) {
            return await finish(jobID: job.spec.jobID)
        }
        if let id = JobDomain.poolID(fromName: name) { poolVMGone(id, reason: "its VM stopped before a job took it") }
    }

    func poolVMGone(_ id: Int64, reason: String) {
        guard let pool = state.withLock({ $0.pools.removeValue(forKey: id) }) else { return }
        pool.watcher?.cancel()
        let tail = ((try? String(contentsOfFile: pool.spec.spoolDirectory + "/console.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").suffix(2).joined(separator: " | ")
        try? FileManager.default.removeItem(atPath: pool.spec.spoolDirectory)
        continuation.yield(.poolVMGone(id: id, reason: reason + (tail.isEmpty || pool.ready ? "" : ": \(tail)"), time: WallClock.now()))
    }

    /// The domain running a job: its own (`vbatch-job-ID`) or a pooled one holding its job disk.
    func findDomain(ofJob jobID: Int64, _ connection: LibvirtConnection) async throws -> DomainRef? {
        let domains = try await connection.activeDomains()
        if let own = domains.first(where: { $0.name == JobDomain.name(jobID: jobID) }) { return own }
        for domain in domains where JobDomain.poolID(fromName: domain.name) != nil {
            if JobDomain.jobID(fromDomainXML: try await connection.xmlDescription(domain)) == jobID { return domain }
        }
        return nil
    }
}

struct DriverError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
