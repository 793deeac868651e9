import Foundation
import VBatchCore
import VBatchDrivers
import VBatchFaults
import VBatchLibvirt

/// A job's life on a node: its volumes made through the storage API, its transient domain,
/// the walltime timer, and at the end the output and console fetched back and every volume
/// of the job removed.
extension NodeAgent {
    /// Stages the image, makes the job's volumes, creates the domain; `.running` follows.
    func start(_ spec: LaunchSpec) async throws {
        let control = try upConnection()
        let id = spec.jobID
        let volumes = VMVolumes(owner: .job(id))
        track(TrackedJob(spec: spec, phase: .preparing, startedAt: WallClock.now()))
        // A verdict of an earlier run (requeued since) is not this run's.
        EndVerdict.discard(inSpool: spec.spoolDirectory)
        do {
            let files = try ImageCheck.nodeFiles(spec.environment, catalogueDirectory: settings.catalogueDirectory)
            jobs[id]?.images = Set(files.map(\.sha256))
            try await stage(files, image: spec.environment.name)
            try await uploadJobDisk(spec, spool: spec.spoolDirectory)
            try await createVMVolumes(volumes, image: spec.environment, files: files, outputDiskMB: spec.outputDiskMB)
            try await uploadSeed(spec, as: volumes.cidata)
            CrashPoint.disksPrepared.reach()
            let xml = try DomainXML.render(JobDomain.spec(for: spec, boot: JobDomain.BootFiles(files)))
            let domain = try await control.createTransient(xml: xml)
            CrashPoint.defined.reach()
            let startedAt = WallClock.now()
            guard var job = jobs[id] else {
                _ = try? await control.destroy(domain)  // not left running untracked on CPUs no longer its own
                throw DriverError("job \(id) was abandoned while its VM was created")
            }
            job.phase = .running
            job.domain = domain
            job.startedAt = startedAt
            track(job)
            emit(.running(jobID: id, node: node.name, time: startedAt))
        } catch {
            jobs[id]?.walltimeTask?.cancel()
            jobs[id] = nil
            await deleteVolumes(volumes)
            throw error
        }
    }

    /// Writes the job disk (the payload's ustar) in the job's spool, uploads it, deletes the
    /// local copy. Only the archive travels: the volume has the disk's padded size, sparse,
    /// and what the upload does not write reads as zeros.
    func uploadJobDisk(_ spec: LaunchSpec, spool: String) async throws {
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let image = try JobDisk.image(jobID: spec.jobID, payload: spec.payload, cores: spec.cpus.count, memoryMB: spec.memoryMB,
                                      walltime: spec.walltime,
                                      lease: JobDisk.lease(walltime: spec.walltime, grace: Int(settings.walltimeGrace.seconds.rounded(.up))))
        let used = ((image.lastIndex { $0 != 0 }.map { $0 + 1 } ?? 0) + 511) / 512 * 512
        let local = spool + "/job.img"
        guard FileManager.default.createFile(atPath: local, contents: Data(image[..<used]),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw DriverError("cannot write the job disk \(local)")
        }
        defer { unlink(local) }
        try await uploadVolume(local, as: VMVolumes(owner: .job(spec.jobID)).jobDisk, capacityBytes: UInt64(image.count))
    }

    /// For images without the guest agent: the cloud-init seed that delivers it, made in the
    /// job's spool and uploaded.
    func uploadSeed(_ spec: LaunchSpec, as name: String) async throws {
        guard spec.environment.agent == .cloudInit else { return }
        guard let agent = FileManager.default.contents(atPath: settings.agentPath) else {
            throw DriverError("cannot read the guest agent for the cloud-init seed at \(settings.agentPath)")
        }
        let local = spec.spoolDirectory + "/cidata.img"
        try CloudInitDisk.write(to: local, jobID: spec.jobID, agent: [UInt8](agent))
        defer { unlink(local) }
        try await uploadVolume(local, as: name)
    }

    /// A new volume in the job pool with the contents of a local file (and, if `capacityBytes`
    /// is larger, zeros up to that size).
    func uploadVolume(_ local: String, as name: String, capacityBytes: UInt64 = 0) async throws {
        let control = try upConnection()
        try await control.createVolume(inPool: NodeLayout.jobPool,
                                       xml: StorageXML.volume(name: name, capacityBytes: capacityBytes, format: "raw"))
        try await bulkConnection().upload(file: local, toVolume: name, inPool: NodeLayout.jobPool)
    }

    /// The output disk (sparse), the console log and, for disk images, the qcow2 overlay on
    /// the cached base, all created by libvirt on the node.
    func createVMVolumes(_ volumes: VMVolumes, image: ImageConfig, files: [NodeFile], outputDiskMB: Int) async throws {
        let control = try upConnection()
        let pool = NodeLayout.jobPool
        try await control.createVolume(inPool: pool, xml: StorageXML.volume(name: volumes.outputDisk,
                                                                            capacityBytes: UInt64(outputDiskMB) << 20, format: "raw"))
        try await control.createVolume(inPool: pool, xml: StorageXML.volume(name: volumes.console, capacityBytes: 0, format: "raw"))
        if let base = files.first(where: { $0.role == .disk }) {
            try await control.createVolume(inPool: pool, xml: StorageXML.volume(
                name: volumes.overlay, capacityBytes: base.virtualSizeBytes, format: "qcow2",
                backing: (NodeLayout.imagePath(sha256: base.sha256), base.format)))
        }
    }

    // MARK: - Walltime, cancel, abandon

    /// ACPI shutdown at the walltime, destroy after the grace period.
    func walltimeTimer(_ job: TrackedJob) -> Task<Void, Never> {
        let remaining = max(0, job.startedAt + Double(job.spec.walltime) - WallClock.now())
        let id = job.spec.jobID
        return Task { [weak self] in
            try? await Task.sleep(for: .seconds(remaining))
            guard !Task.isCancelled, let self else { return }
            await self.enforceWalltime(jobID: id)
        }
    }

    private func enforceWalltime(jobID: Int64) async {
        guard let job = jobs[jobID], job.phase == .running else { return }
        if job.stopReason == nil { jobs[jobID]?.stopReason = .walltime }
        logger.info("job \(jobID): walltime reached, ACPI shutdown")
        do {
            if let domain = job.domain { try await connected().shutdown(domain) }
        } catch {
            logger.warning("job \(jobID): ACPI shutdown failed (\(error)); destroying after the grace period")
        }
        try? await Task.sleep(for: settings.walltimeGrace)
        guard jobs[jobID]?.phase == .running else { return }
        logger.info("job \(jobID): still running after the grace period, destroying")
        await destroy(jobID: jobID)
    }

    func cancel(jobID: Int64) async {
        guard let job = jobs[jobID] else { return }
        if job.stopReason == nil { jobs[jobID]?.stopReason = .cancel }
        if job.phase == .running { await destroy(jobID: jobID) }
    }

    /// Forgets the job; if the node answers, its VM and volumes go now, else at the next resync.
    func abandon(jobID: Int64) async {
        guard let job = jobs.removeValue(forKey: jobID) else { return }
        job.walltimeTask?.cancel()
        guard link == .up, let control else { return }
        if let domain = job.domain {
            _ = try? await control.destroy(domain)
        }
        await deleteVolumes(job.volumes)
        if job.pool != nil { await deleteVolumes(VMVolumes(owner: .job(jobID))) }
    }

    /// Forgets every job and pooled VM here (the node was fenced); they go at the next resync.
    func forgetAll() async {
        for id in Array(jobs.keys) { await abandon(jobID: id) }
        for (id, pool) in pools {
            pool.watcher?.cancel()
            pools[id] = nil
            if link == .up, let domain = pool.domain { _ = try? await control?.destroy(domain) }
        }
    }

    /// Destroys the job's VM; its `stopped` event (or the next resync) ends the job.
    func destroy(jobID: Int64) async {
        await sampleUsage()
        guard let job = jobs[jobID], let domain = job.domain else { return }
        do {
            try await connected().destroy(domain)
        } catch let error as LibvirtError where error.isNoDomain {
            await finish(jobID: jobID)
        } catch {
            logger.error("job \(jobID): destroy on \(node.name) failed: \(error)")
        }
    }

    // MARK: - The end

    /// A domain stopped: a job's (its end) or an idle pooled VM's (the pool lost it).
    func domainStopped(_ domain: DomainRef) async {
        let name = domain.name
        if let id = JobDomain.jobID(fromName: name) {
            guard let job = jobs[id], job.pool == nil else { return }
            // Another VM of the same name (one started late and destroyed) is not this job's.
            if let tracked = job.domain, tracked.uuid != domain.uuid { return }
            if job.phase == .running { await finish(jobID: id) }
            // Stopped while a resync was deciding about this adopted VM (a save finishing just
            // then): look again soon rather than at the next period.
            if job.phase == .adopted { resyncSoon() }
            return
        }
        guard let poolID = JobDomain.poolID(fromName: name) else { return }
        if let (id, job) = jobs.first(where: { $0.value.pool == poolID }) {
            if job.phase == .running { await finish(jobID: id) }
        } else if pools[poolID] != nil {
            poolVMGone(poolID, reason: "its VM stopped before a job took it")
        }
    }

    /// The job's VM is gone: fetch the output disk and console, remove the volumes, report once.
    /// If the node drops while the output is fetched, the job stays and the next resync retries.
    func finish(jobID: Int64) async {
        guard var job = jobs[jobID], job.phase == .running || job.phase == .adopted else { return }
        // A save under way when the daemon stopped may have finished since: the VM is saved, not ended.
        if job.move == .saving, await hasCompleteSave(jobID: jobID), jobs[jobID]?.phase == job.phase {
            jobs[jobID]?.walltimeTask?.cancel()
            jobs[jobID] = nil
            saved.insert(jobID)
            logger.info("job \(jobID): the save under way when vbatchd stopped completed on \(node.name)")
            emit(.saved(jobID: jobID, node: node.name, time: WallClock.now()))
            return
        }
        job.phase = .collecting
        job.walltimeTask?.cancel()
        jobs[jobID] = job
        let spool = job.spec.spoolDirectory
        let volumes = job.volumes
        let verdictFile = spool + "/" + EndVerdict.fileName
        var collected: OutputDisk.Result?
        var collectError: String?
        // The daemon's side could not take the output (a full spool): the payload's run is
        // over, so the job fails with that reason rather than running again.
        var spoolError: String?
        do {
            do {
                try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
            } catch {
                throw SpoolWriteError("cannot create \(spool): \(error.localizedDescription)")
            }
            let local = spool + "/out.img"
            defer { unlink(local) }
            try await bulkConnection().download(volume: volumes.outputDisk, inPool: NodeLayout.jobPool, to: local)
            collected = try OutputDisk.collect(from: local, into: spool)
            CrashPoint.collecting.reach()
        } catch let error as LibvirtError where error.isConnectionError || error.isTimeout {
            logger.warning("job \(jobID): cannot fetch its output from \(node.name) now (\(error)); the next resync tries again")
            jobs[jobID]?.phase = .running
            return
        } catch let error as LibvirtError where error.isNoVolume {
            // An earlier vbatchd collected this run and removed its volumes, then stopped before
            // the end was recorded: that collection's verdict stands (the job must not run again).
            if let outcome = EndVerdict.read(verdictFile) {
                jobs[jobID] = nil
                logger.info("job \(jobID): its end was collected before vbatchd restarted")
                emit(.ended(jobID: jobID, node: node.name, outcome: outcome, time: WallClock.now(), usage: job.usage))
                return
            }
            collectError = "\(error)"
        } catch let error as SpoolWriteError {
            spoolError = "\(error)"
        } catch let error as LocalFileError {
            spoolError = "\(error)"
        } catch {
            collectError = "\(error)"
        }
        await fetchConsole(volumes.console, to: spool + "/console.log")
        let console = (try? String(contentsOfFile: spool + "/console.log", encoding: .utf8)) ?? ""
        let outcome: JobOutcome
        switch job.stopReason {
        case .cancel?: outcome = .cancelled
        case .walltime?: outcome = .walltimeExceeded
        case nil:
            if let spoolError {
                outcome = .outputNotStored(exitCode: nil, reason: spoolError)
            } else if let code = collected?.exitCode {
                outcome = .exited(code: code)
            } else if console.contains("vbatch-guest: job \(jobID) started") {
                outcome = .lost(reason: "the VM stopped before the payload finished" + (collectError.map { " (\($0))" } ?? ""))
            } else {
                let tail = console.split(separator: "\n").suffix(3).joined(separator: " | ")
                outcome = .startFailed(reason: "the VM stopped before the payload started" + (tail.isEmpty ? "" : ": \(tail)"))
            }
        }
        // Written before the volumes go: a restart between here and the recorded end reads it back.
        EndVerdict.write(outcome, to: verdictFile)
        await deleteVolumes(volumes)
        if job.pool != nil { await deleteVolumes(VMVolumes(owner: .job(jobID))) }
        jobs[jobID] = nil
        emit(.ended(jobID: jobID, node: node.name, outcome: outcome, time: WallClock.now(), usage: job.usage))
    }

    /// The last `consoleTailBytes` of a console volume into a local file (best effort).
    func fetchConsole(_ volume: String, to local: String, wholeFile: Bool = false) async {
        do {
            let bulk = try await bulkConnection()
            var offset: UInt64 = 0
            if !wholeFile, let info = try await bulk.volume(named: volume, inPool: NodeLayout.jobPool),
               info.physicalBytes > Self.consoleTailBytes {
                offset = info.physicalBytes - Self.consoleTailBytes
            }
            try await bulk.download(volume: volume, inPool: NodeLayout.jobPool, to: local, offset: offset)
        } catch {
            logger.warning("cannot fetch \(volume) from \(node.name): \(error)")
        }
    }

    /// How much of a console log comes back with a job: its end, where failures show.
    static let consoleTailBytes: UInt64 = 1 << 20
}
