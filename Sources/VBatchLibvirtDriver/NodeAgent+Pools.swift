import Foundation
import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// Pooled VMs: booted ahead of any job from volumes on the node, they wait (agent "ready" on
/// the console) until a job's disk is uploaded and hot-plugged, run that one job, power off
/// and are discarded.
extension NodeAgent {
    func bootPoolVM(_ spec: PoolVMSpec) async throws {
        let control = try upConnection()
        // Pooled VMs get the agent from their image: a cloud-init seed is per job.
        guard spec.environment.agent == .installed else {
            throw DriverError("pools need images that carry the guest agent (\(spec.environment.name) gets it from cloud-init)")
        }
        let volumes = VMVolumes(owner: .pool(spec.id))
        pools[spec.id] = PooledDomain(spec: spec)
        do {
            let files = try ImageCheck.nodeFiles(spec.environment, catalogueDirectory: settings.catalogueDirectory)
            pools[spec.id]?.images = Set(files.map(\.sha256))
            try await stage(files, image: spec.environment.name)
            try await createVMVolumes(volumes, image: spec.environment, files: files, outputDiskMB: spec.outputDiskMB)
            let xml = try DomainXML.render(JobDomain.poolSpec(for: spec, boot: JobDomain.BootFiles(files)))
            let domain = try await control.createTransient(xml: xml)
            guard pools[spec.id] != nil else { throw DriverError("pooled VM \(spec.id) was discarded while it booted") }
            pools[spec.id]?.domain = domain
            pools[spec.id]?.watcher = Task { [weak self] in await self?.waitUntilReady(spec) }
        } catch {
            pools[spec.id] = nil
            await deleteVolumes(volumes)
            throw error
        }
    }

    /// Uploads the job disk and hot-plugs it into an idle pooled VM (its output disk is there since boot).
    func startInPool(_ spec: LaunchSpec, pooledVM id: Int64) async throws {
        _ = try upConnection()
        guard let pool = pools.removeValue(forKey: id), pool.ready, let domain = pool.domain else {
            throw DriverError("pooled VM \(id) is not waiting for a job")
        }
        pool.watcher?.cancel()
        var job = TrackedJob(spec: spec, phase: .preparing, startedAt: WallClock.now(), domain: domain, pool: id)
        job.images = pool.images
        job.cpuBaseline = pool.cpuSample
        track(job)
        EndVerdict.discard(inSpool: spec.spoolDirectory)
        do {
            try await uploadJobDisk(spec, spool: spec.spoolDirectory)
            guard var job = jobs[spec.jobID] else { throw DriverError("job \(spec.jobID) was abandoned while it started") }
            // Running before the disk goes in, so the VM's power-off after the job is this job's end.
            job.phase = .running
            job.startedAt = WallClock.now()
            track(job)
            try await connected().attachDevice(domain, xml: try DomainXML.diskXML(JobDomain.jobDisk(image: spec.environment,
                                                                                                    jobID: spec.jobID)))
            emit(.running(jobID: spec.jobID, node: node.name, time: job.startedAt))
        } catch {
            jobs.removeValue(forKey: spec.jobID)?.walltimeTask?.cancel()
            _ = try? await control?.destroy(domain)
            await deleteVolumes(VMVolumes(owner: .pool(id)))
            await deleteVolumes(VMVolumes(owner: .job(spec.jobID)))
            throw error
        }
    }

    /// Reports the pooled VM ready once its agent prints `vbatch-guest: ready` on the console,
    /// which is read back through the storage API (the node's files are not the daemon's).
    private func waitUntilReady(_ spec: PoolVMSpec) async {
        let marker = Array("vbatch-guest: ready".utf8)
        let console = VMVolumes(owner: .pool(spec.id)).console
        let local = spec.spoolDirectory + "/console.log"
        try? FileManager.default.createDirectory(atPath: spec.spoolDirectory, withIntermediateDirectories: true)
        let deadline = WallClock.now() + 300
        while !Task.isCancelled, WallClock.now() < deadline, pools[spec.id] != nil {
            await fetchConsole(console, to: local, wholeFile: true)
            if let data = FileManager.default.contents(atPath: local), Array(data).firstRange(of: marker) != nil {
                guard pools[spec.id] != nil else { return }
                pools[spec.id]?.ready = true
                emit(.poolVMReady(id: spec.id, time: WallClock.now()))
                return
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        guard !Task.isCancelled, let domain = pools[spec.id]?.domain else { return }
        logger.error("pooled VM \(spec.id) on \(node.name) never became ready; destroying it")
        _ = try? await control?.destroy(domain)
    }

    func poolVMGone(_ id: Int64, reason: String) {
        guard let pool = pools.removeValue(forKey: id) else { return }
        pool.watcher?.cancel()
        let tail = ((try? String(contentsOfFile: pool.spec.spoolDirectory + "/console.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").suffix(2).joined(separator: " | ")
        try? FileManager.default.removeItem(atPath: pool.spec.spoolDirectory)
        Task { await self.deleteVolumes(VMVolumes(owner: .pool(id))) }
        emit(.poolVMGone(id: id, reason: reason + (tail.isEmpty || pool.ready ? "" : ": \(tail)"), time: WallClock.now()))
    }
}
