import Foundation
import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// Stopping a job's VM without ending it, on this node: pause and continue, save to a state
/// file in the job pool and restore (here, or on another node after its volumes moved through
/// the storage API), and live migration to another node's agent.
extension NodeAgent {
    /// Longest a save or a restore may take (they copy the VM's memory).
    static let moveTimeout: Duration = .seconds(600)

    // MARK: - Suspend, resume

    func suspend(jobID: Int64) async throws {
        let (job, domain) = try movable(jobID)
        guard job.suspendedAt == nil else { return }
        try await upConnection().suspend(domain)
        jobs[jobID]?.suspendedAt = WallClock.now()
        jobs[jobID]?.walltimeTask?.cancel()
        jobs[jobID]?.walltimeTask = nil
        logger.info("job \(jobID) suspended on \(node.name)")
    }

    func resume(jobID: Int64) async throws {
        let (job, domain) = try movable(jobID)
        guard let since = job.suspendedAt else { return }
        try await upConnection().resume(domain)
        guard var resumed = jobs[jobID] else { return }
        resumed.startedAt += WallClock.now() - since
        resumed.suspendedAt = nil
        track(resumed)
        logger.info("job \(jobID) resumed on \(node.name)")
    }

    /// A job whose VM runs here, in its own domain.
    private func movable(_ jobID: Int64) throws -> (TrackedJob, DomainRef) {
        guard let job = jobs[jobID], job.phase == .running, let domain = job.domain else {
            throw DriverError("job \(jobID) has no running VM on \(node.name)")
        }
        guard job.pool == nil else { throw DriverError("job \(jobID) runs in a pooled VM, which cannot be moved") }
        return (job, domain)
    }

    /// Walltime the job has used until now (or until it was suspended).
    private func walltimeUsed(_ job: TrackedJob) -> Double {
        max(0, (job.suspendedAt ?? WallClock.now()) - job.startedAt)
    }

    // MARK: - Save

    /// Saves the VM to `job-ID.save` in the job pool; the job is then saved here, not run.
    func save(jobID: Int64) async throws -> VMPiece {
        let (job, domain) = try movable(jobID)
        let control = try upConnection()
        await sampleUsage()
        let volumes = VMVolumes(owner: .job(jobID))
        _ = try? await control.deleteVolume(named: volumes.saveFile, inPool: NodeLayout.jobPool)
        try await control.createVolume(inPool: NodeLayout.jobPool,
                                       xml: StorageXML.volume(name: volumes.saveFile, capacityBytes: 0, format: "raw"))
        jobs[jobID]?.phase = .moving
        let used = walltimeUsed(job)
        do {
            try await bulkConnection().save(domain, to: VMVolumes.path(volumes.saveFile), timeout: Self.moveTimeout)
        } catch {
            _ = try? await control.deleteVolume(named: volumes.saveFile, inPool: NodeLayout.jobPool)
            if let error = error as? LibvirtError, error.isNoDomain {
                jobs[jobID]?.phase = .running
                await finish(jobID: jobID)
            } else if jobs[jobID]?.phase == .moving {
                jobs[jobID]?.phase = .running
            }
            throw error
        }
        let usage = jobs[jobID]?.usage
        jobs[jobID]?.walltimeTask?.cancel()
        jobs[jobID] = nil
        saved.insert(jobID)
        logger.info("job \(jobID) saved on \(node.name) after \(Int(used)) s of walltime")
        return VMPiece(usage: usage, walltimeUsed: used)
    }

    /// Whether a complete state file of the job is here (its save finished).
    func hasCompleteSave(jobID: Int64) async -> Bool {
        let name = VMVolumes(owner: .job(jobID)).saveFile
        let local = NSTemporaryDirectory() + "vbatch-save-\(node.name)-\(jobID)-\(UUID().uuidString)"
        defer { unlink(local) }
        do {
            try await bulkConnection().download(volume: name, inPool: NodeLayout.jobPool, to: local,
                                                maxBytes: UInt64(SaveFileMagic.complete.count))
        } catch {
            return false
        }
        let head = FileManager.default.contents(atPath: local).map { [UInt8]($0) } ?? []
        return head == SaveFileMagic.complete
    }

    // MARK: - Restore

    /// The saved job's volumes here (state file and disks), to move them to another node.
    func savedVolumes(jobID: Int64) async throws -> [VolumeInfo] {
        guard saved.contains(jobID) else { throw DriverError("job \(jobID) has no saved VM on \(node.name)") }
        let prefix = VMVolumes(owner: .job(jobID)).prefix + "."
        return try await upConnection().volumes(inPool: NodeLayout.jobPool).filter { $0.name.hasPrefix(prefix) }
    }

    /// Copies one volume of the job pool here into a local file (sparse).
    func download(volume: String, to local: String) async throws {
        try await bulkConnection().download(volume: volume, inPool: NodeLayout.jobPool, to: local)
    }

    /// Takes a saved job's state file and disks from `source` through the daemon's spool: each
    /// volume is downloaded there, uploaded here and the local copy deleted.
    func receive(jobID: Int64, from source: NodeAgent, spool: String) async throws {
        _ = try upConnection()
        let volumes = try await source.savedVolumes(jobID: jobID)
        let save = VMVolumes(owner: .job(jobID)).saveFile
        guard volumes.contains(where: { $0.name == save }) else {
            throw DriverError("job \(jobID) has no state file on \(source.node.name)")
        }
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        receiving.insert(jobID)
        defer { receiving.remove(jobID) }
        do {
            for volume in volumes {
                let local = spool + "/move-" + volume.name
                defer { unlink(local) }
                try await source.download(volume: volume.name, to: local)
                var st = stat()
                let size = stat(local, &st) == 0 ? UInt64(st.st_size) : 0
                _ = try? await upConnection().deleteVolume(named: volume.name, inPool: NodeLayout.jobPool)
                try await uploadVolume(local, as: volume.name, capacityBytes: max(volume.capacityBytes, size))
            }
        } catch {
            await deleteVolumes(VMVolumes(owner: .job(jobID)))
            throw error
        }
        saved.insert(jobID)
    }

    /// Starts the job's VM from its state file here, pinned to `spec.cpus`; the state file goes
    /// once the VM runs. If the restore fails, the saved copy stays for another try.
    func restore(_ spec: LaunchSpec) async throws {
        let control = try upConnection()
        let id = spec.jobID
        guard saved.contains(id) else { throw DriverError("job \(id) has no saved VM on \(node.name)") }
        let volumes = VMVolumes(owner: .job(id))
        let path = VMVolumes.path(volumes.saveFile)
        track(TrackedJob(spec: spec, phase: .preparing, startedAt: WallClock.now() - spec.walltimeUsed))
        do {
            let files = try ImageCheck.nodeFiles(spec.environment, catalogueDirectory: settings.catalogueDirectory)
            jobs[id]?.images = Set(files.map(\.sha256))
            try await stage(files, image: spec.environment.name)
            let xml = try JobDomain.retarget(xml: try await control.savedDomainXML(path: path), cpus: spec.cpus,
                                             node: node.name)
            let domain = try await bulkConnection().restore(from: path, xml: xml, name: JobDomain.name(jobID: id),
                                                            timeout: Self.moveTimeout)
            guard var job = jobs[id] else {
                _ = try? await control.destroy(domain)  // not left running untracked on CPUs no longer its own
                throw DriverError("job \(id) was abandoned while its VM was restored")
            }
            job.phase = .running
            job.domain = domain
            job.startedAt = WallClock.now() - spec.walltimeUsed
            track(job)
            saved.remove(id)
            _ = try? await control.deleteVolume(named: volumes.saveFile, inPool: NodeLayout.jobPool)
            logger.info("job \(id) restored on \(node.name) with \(Int(spec.walltimeUsed)) s of walltime used")
            emit(.running(jobID: id, node: node.name, time: WallClock.now()))
        } catch {
            jobs[id]?.walltimeTask?.cancel()
            jobs[id] = nil
            throw error
        }
    }

    /// Forgets a saved job here and removes its state file, and its disks unless its VM runs
    /// here again (restored on this node).
    func discardSaved(jobID: Int64) async {
        saved.remove(jobID)
        guard link == .up, let control else { return }
        if jobs[jobID] == nil {
            await deleteVolumes(VMVolumes(owner: .job(jobID)))
        } else {
            _ = try? await control.deleteVolume(named: VMVolumes(owner: .job(jobID)).saveFile, inPool: NodeLayout.jobPool)
        }
    }

    // MARK: - Live migration

    /// Gets this node ready to take the job's VM live: images staged, the job disk (and seed)
    /// uploaded, output disk, console and overlay created with the source's sizes. Returns the
    /// connection the migration goes to.
    func prepareMigrant(_ spec: LaunchSpec) async throws -> LibvirtConnection {
        let control = try upConnection()
        let id = spec.jobID
        let volumes = VMVolumes(owner: .job(id))
        receiving.insert(id)
        do {
            let files = try ImageCheck.nodeFiles(spec.environment, catalogueDirectory: settings.catalogueDirectory)
            try await stage(files, image: spec.environment.name)
            await deleteVolumes(volumes)
            try await uploadJobDisk(spec, spool: spec.spoolDirectory)
            try await createVMVolumes(volumes, image: spec.environment, files: files, outputDiskMB: spec.outputDiskMB)
            try await uploadSeed(spec, as: volumes.cidata)
            return control
        } catch {
            receiving.remove(id)
            await deleteVolumes(volumes)
            throw error
        }
    }

    /// The migration to this node failed: the volumes made for it go.
    func migrationFailed(jobID: Int64) async {
        receiving.remove(jobID)
        if jobs[jobID] == nil { await deleteVolumes(VMVolumes(owner: .job(jobID))) }
    }

    /// The job's VM arrived here by migration: watched and timed from now on.
    func adoptMigrant(_ spec: LaunchSpec, domain: DomainRef, startedAt: Double) {
        receiving.remove(spec.jobID)
        var job = TrackedJob(spec: spec, phase: .running, startedAt: startedAt)
        job.domain = domain
        job.images = Set(((try? ImageCheck.nodeFiles(spec.environment, catalogueDirectory: settings.catalogueDirectory)) ?? []).map(\.sha256))
        track(job)
        logger.info("job \(spec.jobID) arrived on \(node.name) by live migration")
    }

    /// Moves the job's VM live to `target` (which has made its volumes); gives up after `bound`
    /// by aborting the migration, leaving the VM running here.
    func migrate(jobID: Int64, to target: NodeAgent, spec: LaunchSpec, bound: Duration) async throws -> VMPiece {
        let (job, domain) = try movable(jobID)
        guard job.suspendedAt == nil else { throw DriverError("job \(jobID) is suspended; resume it before migrating") }
        let control = try upConnection()
        let destination = try await target.prepareMigrant(spec)
        await sampleUsage()
        let xml: String
        do {
            xml = try JobDomain.retarget(xml: try await control.xmlDescription(domain, migratable: true), cpus: spec.cpus,
                                         node: target.node.name)
        } catch {
            await target.migrationFailed(jobID: jobID)
            throw error
        }
        jobs[jobID]?.phase = .moving
        let watchdog = Task { [weak self] in
            try? await Task.sleep(for: bound)
            guard !Task.isCancelled, let self else { return }
            await self.abortMigration(jobID: jobID, domain: domain, bound: bound)
        }
        let moved: DomainRef
        do {
            moved = try await bulkConnection().migrate(domain, to: destination, xml: xml, copyStorage: true,
                                                       timeout: bound + .seconds(120))
            watchdog.cancel()
        } catch {
            watchdog.cancel()
            await target.migrationFailed(jobID: jobID)
            if jobs[jobID]?.phase == .moving { jobs[jobID]?.phase = .running }
            if let state = try? await control.state(domain) {
                if state == .paused { try? await control.resume(domain) }
            } else {
                await finish(jobID: jobID)
            }
            throw error
        }
        let piece = VMPiece(usage: jobs[jobID]?.usage, walltimeUsed: walltimeUsed(job))
        let startedAt = jobs[jobID]?.startedAt ?? job.startedAt
        jobs[jobID]?.walltimeTask?.cancel()
        await target.adoptMigrant(spec, domain: moved, startedAt: startedAt)
        // Still tracked here (moving) until its volumes are gone, so no resync sweeps them first.
        await fetchConsole(VMVolumes(owner: .job(jobID)).console, to: job.spec.spoolDirectory + "/console-\(node.name).log")
        await deleteVolumes(VMVolumes(owner: .job(jobID)))
        jobs[jobID] = nil
        logger.info("job \(jobID) migrated live from \(node.name) to \(target.node.name)")
        return piece
    }

    private func abortMigration(jobID: Int64, domain: DomainRef, bound: Duration) async {
        guard jobs[jobID]?.phase == .moving else { return }
        logger.warning("job \(jobID): live migration from \(node.name) did not finish within \(bound); aborting it")
        do { try await upConnection().abortJob(domain) } catch {
            logger.error("job \(jobID): cannot abort its migration: \(error)")
        }
    }

    // MARK: - After a restart

    /// Settles the adopted jobs whose VM was moving when the daemon stopped, so that exactly one
    /// copy of each VM is left; `found` are their domains found here. Returns the jobs that
    /// stay tracked here (running, or waiting for a migration's other end to answer).
    func settleInterruptedMoves(found domains: [Int64: DomainRef]) async -> Set<Int64> {
        var kept = Set<Int64>()
        for (id, job) in jobs where job.phase == .adopted {
            guard let move = job.move else { continue }
            let domain = domains[id]
            switch move {
            case .saving:
                // Still here: its save failed, or libvirt is still writing it (``finish(jobID:)``
                // tells when it stops). Gone: the resync ends it, which finds a complete save.
                guard let domain else { continue }
                kept.insert(id)
                found(id, domain: domain, pool: nil)
            case .restoring:
                if let domain {
                    kept.insert(id)
                    found(id, domain: domain, pool: nil)
                } else {
                    // The restore did not happen: the saved copy (here or on its node) stays.
                    jobs[id]?.walltimeTask?.cancel()
                    jobs[id] = nil
                    emit(.ended(jobID: id, node: node.name,
                                outcome: .startFailed(reason: "its restore on \(node.name) was cut short by a vbatchd restart"),
                                time: WallClock.now()))
                }
            case .migrating(let target, let cpus):
                // This runs inside the resync that brings the node up: the connection is there,
                // the node not yet `up`.
                let control = try? connected()
                let here: DomainState? = if let domain, let control { try? await control.state(domain) } else { nil }
                let other = peer(target)
                if let domain, here == .running {
                    // The migration did not complete: the VM runs on here, the copy there goes.
                    await other?.dropMigrant(jobID: id)
                    kept.insert(id)
                    found(id, domain: domain, pool: nil)
                    continue
                }
                var spec = job.spec
                spec.cpus = cpus
                if let other { spec.node = other.node }
                switch await other?.claimMigrant(spec, startedAt: job.startedAt) {
                case true?:
                    // It completed: the copy there runs, this paused one (if any) goes.
                    if let domain, let control { _ = try? await control.destroy(domain) }
                    jobs[id]?.walltimeTask?.cancel()
                    jobs[id] = nil
                    await deleteVolumes(VMVolumes(owner: .job(id)))
                    emit(.migrated(jobID: id, node: target, time: WallClock.now()))
                case false?:
                    if let domain, let control {
                        try? await control.resume(domain)
                        await other?.dropMigrant(jobID: id)
                        kept.insert(id)
                        found(id, domain: domain, pool: nil)
                    }
                case nil:
                    // The other end cannot tell yet: decide at the next resync, soon.
                    kept.insert(id)
                    resyncSoon()
                }
            }
        }
        return kept
    }

    /// After a restart: takes the job's VM that migrated here if it runs here. Nil while this
    /// node cannot be asked.
    func claimMigrant(_ spec: LaunchSpec, startedAt: Double) async -> Bool? {
        guard link == .up, let control, let domains = try? await control.activeDomains() else { return nil }
        incoming.remove(spec.jobID)
        guard let domain = domains.first(where: { $0.name == JobDomain.name(jobID: spec.jobID) }),
              (try? await control.state(domain)) == .running else { return false }
        adoptMigrant(spec, domain: domain, startedAt: startedAt)
        return true
    }

    /// After a restart: the job's VM stays on the migration's source; a copy here goes (now, or
    /// as a stray at this node's next resync).
    func dropMigrant(jobID: Int64) async {
        incoming.remove(jobID)
        guard jobs[jobID] == nil, link == .up, let control,
              let domain = try? await control.activeDomains().first(where: { $0.name == JobDomain.name(jobID: jobID) })
        else { return }
        _ = try? await control.destroy(domain)
        await deleteVolumes(VMVolumes(owner: .job(jobID)))
    }
}
