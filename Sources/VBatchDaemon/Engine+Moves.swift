import VBatchAPI
import VBatchCore
import VBatchDrivers
import VBatchStore

/// Jobs that stop without ending: suspend and resume (slots kept), save and restore (slots
/// freed, the VM resumes later, here or on another node), live migration, and the two users
/// of those moves, preemption and node drains.
///
/// Every move is recorded (`job.move`) before the driver acts, and its outcome after; a
/// daemon restarted in the middle hands the move to the driver, which finds the one copy of
/// the VM that is left (``rebuild(now:driverNodes:)``). One move per job at a time.
extension Engine {
    // MARK: - Suspend, resume

    /// Pauses a running job's vCPUs: it keeps its slots, its walltime stops counting.
    public func suspend(_ id: Int64, caller: Caller) async throws -> JobInfo {
        let job = try authorizedJob(id, caller: caller)
        guard job.state == .running, let run = scheduler.runningJob(id), !moving.contains(id) else {
            throw EngineError.conflict("job \(id) is \(job.state.rawValue)\(moving.contains(id) ? " and moving" : ""); only running jobs can be suspended")
        }
        try checkFound(id)
        moving.insert(id)
        defer { moving.remove(id) }
        do { try await driver.suspend(jobID: id) } catch {
            throw EngineError.conflict("job \(id) could not be suspended: \(error)")
        }
        let now = WallClock.now()
        guard scheduler.runningJob(id) != nil else { return try store.job(id) ?? job }
        scheduler.setPreemptible(id, false)
        suspendedSince[id] = now
        record(Transition(id: id, state: .suspended, time: now,
                          reason: "suspended by \(caller.user) on \(configuration.nodes[run.node].name)"))
        return try store.job(id) ?? job
    }

    /// Lets a suspended job run on; the time it was suspended is added to its walltime.
    public func resume(_ id: Int64, caller: Caller) async throws -> JobInfo {
        let job = try authorizedJob(id, caller: caller)
        guard job.state == .suspended, scheduler.runningJob(id) != nil, !moving.contains(id) else {
            throw EngineError.conflict("job \(id) is \(job.state.rawValue); only suspended jobs can be resumed")
        }
        moving.insert(id)
        defer { moving.remove(id) }
        do { try await driver.resume(jobID: id) } catch {
            throw EngineError.conflict("job \(id) could not be resumed: \(error)")
        }
        let now = WallClock.now()
        guard scheduler.runningJob(id) != nil else { return try store.job(id) ?? job }
        scheduler.shiftStart(id, by: now - (suspendedSince.removeValue(forKey: id) ?? now))
        scheduler.setPreemptible(id, true)
        record(Transition(id: id, state: .running, time: now, reason: "resumed by \(caller.user)"))
        return try store.job(id) ?? job
    }

    /// Refuses to move a job whose VM the driver has not found again since a restart.
    private func checkFound(_ id: Int64) throws {
        guard !awaitingReattach.contains(id) else {
            throw EngineError.conflict("job \(id)'s VM has not been found again since vbatchd restarted; try again shortly")
        }
    }

    // MARK: - Save, restore

    /// `vbatch checkpoint` and `qhold` of a running job: saves its VM on its node and frees its
    /// slots; it stays `saved` until released, then waits to be restored anywhere it fits.
    public func checkpoint(_ id: Int64, caller: Caller) async throws -> JobInfo {
        let job = try authorizedJob(id, caller: caller)
        guard job.state == .running || job.state == .suspended else {
            throw EngineError.conflict("job \(id) is \(job.state.rawValue); only running or suspended jobs can be saved")
        }
        try await saveJob(id, reason: "saved by \(caller.user)", held: true)
        return try store.job(id) ?? job
    }

    /// Saves a job's VM: recorded as a move, carried out, then the job is parked in its queue
    /// (`held`: as `saved`, until released; otherwise `queued`, to be restored when slots free).
    func saveJob(_ id: Int64, reason: String, held: Bool) async throws {
        guard let run = scheduler.runningJob(id), let state = try store.job(id)?.state, state == .running || state == .suspended else {
            throw EngineError.conflict("job \(id) has no running VM")
        }
        guard !run.pooled else { throw EngineError.conflict("job \(id) runs in a pooled VM, which cannot be saved") }
        guard !moving.contains(id) else { throw EngineError.conflict("job \(id) is already being moved") }
        try checkFound(id)
        let node = configuration.nodes[run.node].name
        moving.insert(id)
        defer { moving.remove(id) }
        scheduler.setPreemptible(id, false)
        // A move is recorded before it begins, or not begun.
        try recordOrRefuse([Transition(id: id, state: state, time: WallClock.now(), reason: "saving its VM on \(node): \(reason)",
                                       move: .save(held: held))], "save") { scheduler.setPreemptible(id, state == .running) }
        let piece: VMPiece
        do {
            piece = try await driver.save(jobID: id)
        } catch {
            let alive = scheduler.runningJob(id) != nil
            if alive {
                scheduler.setPreemptible(id, state == .running)
                record(Transition(id: id, state: state, time: WallClock.now(), reason: "saving its VM failed (\(error)); it runs on"))
                // Cancelled while the save was under way: the VM goes now.
                if cancelReasons[id] != nil { await driver.cancel(jobID: id) }
            }
            throw EngineError.conflict("job \(id) could not be saved: \(error)")
        }
        let now = WallClock.now()
        suspendedSince[id] = nil
        scheduler.park(id, savedOn: run.node, walltimeUsed: piece.walltimeUsed, held: held, now: now)
        record(Transition(id: id, state: held ? .saved : .queued, time: now,
                          reason: "VM saved on \(node) after \(Quantities.formatWalltime(Int(piece.walltimeUsed))) of walltime: \(reason)"
                              + (held ? "; restored when released" : "; restored when slots free"),
                          cpuTime: piece.usage?.cpuSeconds, maxRSSKiB: piece.usage?.maxRSSKiB, savedNode: node))
        logger.info("job \(id) saved on \(node): \(reason)")
        if let cancel = cancelReasons.removeValue(forKey: id) {
            // Cancelled while it was being saved.
            scheduler.removePending(id)
            record(Transition(id: id, state: .cancelled, time: now, reason: cancel))
            await driver.discard(savedJob: id, node: node)
        }
        requestCycle()
    }

    /// A placement of a saved job: restore its VM, moving it first if it was saved elsewhere.
    func launchRestore(_ spec: LaunchSpec, from source: String) {
        restoring[spec.jobID] = (source, spec.walltimeUsed)
        let driver = self.driver
        Task {
            do {
                try await driver.restore(spec, from: source)
            } catch {
                await self.handle(.ended(jobID: spec.jobID, node: spec.node.name, outcome: .startFailed(reason: "restore failed: \(error)"),
                                         time: WallClock.now()))
            }
        }
    }

    /// A restore failed: the job waits again to be restored from its saved copy (or, after the
    /// site's start attempts, fails and its saved copy goes).
    func restoreFailed(_ id: Int64, run: RunningJob, source: String, walltimeUsed: Double, reason: String, time: Double) {
        var transition = retryOrFail(id, node: configuration.nodes[run.node].name, reason: reason, now: time)
        if transition.state == .queued, let sourceIndex = scheduler.node(named: source) {
            scheduler.park(id, savedOn: sourceIndex, walltimeUsed: walltimeUsed, held: false, now: time)
            transition.savedNode = source
            transition.reason += " (its saved VM on \(source) stays)"
        } else {
            scheduler.finish(id, now: time)
            let driver = self.driver
            Task { await driver.discard(savedJob: id, node: source) }
        }
        record(transition)
    }

    /// `vbatch release`/`qrls` of a saved job: it waits to be restored where it fits.
    func releaseSaved(_ job: JobInfo, caller: Caller) throws -> JobInfo {
        guard scheduler.setHeld(job.id, false) else { throw EngineError.conflict("job \(job.id) is not waiting") }
        try recordOrRefuse([Transition(id: job.id, state: .queued, time: WallClock.now(),
                                       reason: "released by \(caller.user); its VM saved on \(job.savedNode ?? "?") is restored when slots free",
                                       savedNode: job.savedNode)], "release") { _ = scheduler.setHeld(job.id, true) }
        requestCycle()
        return try store.job(job.id) ?? job
    }

    // MARK: - Live migration

    /// Migrates a running job's VM live to a node the scheduler picks; false (the job runs on
    /// where it was) if no node may take it or the migration failed or took too long.
    func migrateJob(_ id: Int64, reason: String) async -> Bool {
        guard let run = scheduler.runningJob(id), !run.pooled, !moving.contains(id), !awaitingReattach.contains(id),
              (try? store.job(id)?.state) == .running else { return false }
        guard let target = scheduler.planMove(id) else { return false }
        let source = configuration.nodes[run.node].name
        moving.insert(id)
        defer { moving.remove(id) }
        do {
            try recordNow([Transition(id: id, state: .running, time: WallClock.now(),
                                      reason: "migrating live from \(source) to \(target.nodeName): \(reason)",
                                      move: .migrate(node: target.nodeName, cpus: target.cpus))])
        } catch {
            // A move is recorded before it begins, or not begun.
            scheduler.cancelMove(id)
            return false
        }
        guard var spec = launchSpec(id) else {
            scheduler.cancelMove(id)
            return false
        }
        spec.node = configuration.nodes[target.node]
        spec.cpus = target.cpus
        let piece: VMPiece
        do {
            piece = try await driver.migrate(jobID: id, to: spec, bound: .seconds(configuration.site.migrationTimeout))
        } catch {
            scheduler.cancelMove(id)
            if scheduler.runningJob(id) != nil {
                scheduler.setPreemptible(id, true)
                record(Transition(id: id, state: .running, time: WallClock.now(),
                                  reason: "live migration to \(target.nodeName) failed (\(error)); it runs on \(source)"))
            }
            logger.warning("job \(id): live migration \(source) → \(target.nodeName) failed: \(error)")
            if cancelReasons[id] != nil { await driver.cancel(jobID: id) }  // cancelled meanwhile
            return false
        }
        scheduler.completeMove(id)
        scheduler.setPreemptible(id, true)
        record(Transition(id: id, state: .running, time: WallClock.now(),
                          reason: "migrated live from \(source) to \(target.nodeName): \(reason)",
                          node: target.nodeName, cpus: target.cpus, cpuTime: piece.usage?.cpuSeconds, maxRSSKiB: piece.usage?.maxRSSKiB))
        logger.info("job \(id) migrated live \(source) → \(target.nodeName)")
        if cancelReasons[id] != nil { await driver.cancel(jobID: id) }  // cancelled while it moved
        requestCycle()
        return true
    }

    // MARK: - Preemption

    /// Carries out a scheduler's preemption: the victim is saved (restored when slots free),
    /// requeued (run again from the start) or cancelled, as the preempting queue says.
    func preempt(_ p: Preemption) async {
        guard scheduler.runningJob(p.victim) != nil else { return }
        let winner = scheduler.pendingJob(p.forJob).map { scheduler.queues[Int($0.queue)] }
        let why = "preempted on \(p.nodeName) by job \(p.forJob)" + (winner.map { " of queue \($0.name) (priority \($0.priority))" } ?? "")
        logger.notice("job \(p.victim): \(why) (\(p.mode.rawValue))")
        switch p.mode {
        case .save:
            do {
                try await saveJob(p.victim, reason: why, held: false)
            } catch {
                logger.warning("job \(p.victim): preemption by saving failed: \(error)")
                scheduler.preemptionFailed(p.victim)
            }
        case .requeue, .cancel:
            let state = (try? store.job(p.victim)?.state) ?? .running
            record(Transition(id: p.victim, state: state, time: WallClock.now(), reason: "being stopped: \(why)"))
            if p.mode == .requeue {
                requeueReasons[p.victim] = "\(why); back in the queue to run again from the start"
            } else {
                cancelReasons[p.victim] = "cancelled: \(why)"
            }
            await driver.cancel(jobID: p.victim)
        }
    }

    // MARK: - Drains that empty a node

    /// Empties a drained node as its drain mode says, one job at a time: saved, migrated (saved
    /// and restored elsewhere if that fails) or requeued. Jobs in pooled VMs run to their end.
    func emptyNode(_ node: Int) async {
        guard let mode = nodeStatus[node].drainMode, mode != .finish, !nodeStatus[node].emptying else { return }
        nodeStatus[node].emptying = true
        defer { nodeStatus[node].emptying = false }
        let name = configuration.nodes[node].name
        let why = "node \(name) drained (\(mode.rawValue))"
        // Jobs are taken one at a time, looking again after each: a job whose VM is found
        // again meanwhile (after a restart) is taken too; one that could not be moved is not
        // tried again in this round.
        var tried = Set<Int64>()
        func next() -> Int64? {
            scheduler.runningJobs(node: node).sorted().first { id in
                guard !tried.contains(id), let run = scheduler.runningJob(id) else { return false }
                return !run.pooled && run.moveTarget == nil && !awaitingReattach.contains(id) && !moving.contains(id)
            }
        }
        while nodeStatus[node].drainMode == mode, let id = next() {
            tried.insert(id)
            switch mode {
            case .finish:
                return
            case .save:
                do { try await saveJob(id, reason: why, held: false) } catch {
                    logger.warning("job \(id): not saved for the drain of \(name): \(error)")
                }
            case .migrate:
                if await migrateJob(id, reason: why) { continue }
                do {
                    try await saveJob(id, reason: "\(why); live migration not possible, restored elsewhere", held: false)
                } catch {
                    logger.warning("job \(id): neither migrated nor saved for the drain of \(name): \(error)")
                }
            case .requeue:
                requeueReasons[id] = "\(why); back in the queue to run again from the start"
                await driver.cancel(jobID: id)
            }
        }
    }

    /// For `vbatch nodes`: how far a drain that empties its node has come.
    func drainProgress(_ node: Int) -> String? {
        guard let mode = nodeStatus[node].drainMode, mode != .finish else { return nil }
        let left = scheduler.runningJobs(node: node).filter { scheduler.runningJob($0)?.pooled == false }.count
        return left == 0 ? "emptied (\(mode.rawValue))" : "emptying (\(mode.rawValue)): \(left) job\(left == 1 ? "" : "s") left"
    }
}
