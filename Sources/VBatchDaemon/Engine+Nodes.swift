import VBatchAPI
import VBatchCore
import VBatchDrivers
import VBatchStore

/// Nodes that come and go: the driver reports each node up or unreachable; jobs on an
/// unreachable node keep their slots until their VM is known gone — the node's resync shows
/// it, an operator fences the node, or the VM's lease ends (the guest agent powers it off by
/// itself at walltime + grace, so none outlives that). Only then is the job requeued (or
/// failed, per its queue's `on_node_loss`), once.
extension Engine {
    /// Puts the node's status into the scheduler: it takes jobs only when nothing says otherwise.
    func refreshNode(_ node: Int) {
        scheduler.setNodeEnabled(node, nodeStatus[node].schedulable)
        scheduler.setNodeReachable(node, nodeStatus[node].link == .up && nodeStatus[node].fenced == nil)
    }

    func nodeUp(_ name: String) {
        guard let node = scheduler.node(named: name) else { return }
        if case .unreachable = nodeStatus[node].link { logger.notice("node \(name) is up again") }
        nodeStatus[node].link = .up
        refreshNode(node)
        requestCycle()
        // A drain that empties its node goes on once the node answers (also after a restart).
        if let mode = nodeStatus[node].drainMode, mode != .finish { Task { await self.emptyNode(node) } }
    }

    func nodeUnreachable(_ name: String, reason: String, time: Double) {
        guard let node = scheduler.node(named: name) else { return }
        if case .unreachable = nodeStatus[node].link { return }
        nodeStatus[node].link = .unreachable(reason: reason, since: time)
        refreshNode(node)
        let jobs = scheduler.runningJobs(node: node)
        logger.warning("node \(name) unreachable (\(reason)); its \(jobs.count) jobs keep their slots until it answers, is fenced, or their leases end")
    }

    /// When a VM on an unreachable node is certainly off: its lease (``JobDisk/lease(walltime:grace:)``,
    /// from the start) plus the site's `lease_margin` for boot and clocks.
    func leaseEnd(of run: RunningJob) -> Double {
        run.startTime + Double(JobDisk.lease(walltime: Int(run.job.walltime), grace: configuration.site.walltimeGrace)
            + configuration.site.leaseMargin)
    }

    /// Jobs on unreachable nodes whose leases ended are lost: requeued or failed (each cycle).
    func settleLostJobs(now: Double) async {
        for (node, status) in nodeStatus.enumerated() {
            guard case .unreachable(let reason, _) = status.link else { continue }
            for id in scheduler.runningJobs(node: node) {
                // A suspended VM's lease does not run (the guest's clock stops with it): it may
                // be there still, so the job waits for the node or a fence.
                guard let run = scheduler.runningJob(id), suspendedSince[id] == nil, now >= leaseEnd(of: run) else { continue }
                await loseJob(id, reason: "node \(configuration.nodes[node].name) unreachable (\(reason)) past the VM's lease: "
                    + "the VM is off", now: now)
            }
        }
    }

    /// Every job and pooled VM of a node is gone (fenced): requeued or failed, and forgotten by the driver.
    func loseNode(_ node: Int, reason: String) async {
        let now = WallClock.now()
        for id in scheduler.runningJobs(node: node) {
            await loseJob(id, reason: reason, now: now)
        }
        for pooled in scheduler.poolVMIDs(node: node) { _ = scheduler.releasePoolVM(pooled) }
        // Saved VMs on the node are gone with it: those jobs run again from the start, or fail.
        for id in scheduler.savedJobs(on: node) {
            guard let job = scheduler.pendingJob(id) else { continue }
            let queue = scheduler.queues[Int(job.queue)]
            let why = "\(reason); its saved VM was there"
            if queue.onNodeLoss == .requeue {
                scheduler.forgetSaved(id)
                record(Transition(id: id, state: job.held ? .held : .queued, time: now,
                                  reason: "\(why); it runs again from the start (on_node_loss = requeue)"))
            } else {
                scheduler.removePending(id)
                record(Transition(id: id, state: .failed, time: now, reason: "\(why) (on_node_loss = fail)"))
            }
        }
        await driver.forget(node: configuration.nodes[node].name)
        requestCycle()
    }

    /// The job's VM is known gone with its node: the driver forgets it (and destroys it
    /// should the node come back), and the job goes back to the queue or fails, per queue.
    private func loseJob(_ id: Int64, reason: String, now: Double) async {
        guard let run = scheduler.runningJob(id) else { return }
        await driver.abandon(jobID: id)
        guard scheduler.runningJob(id) != nil else { return }  // ended while the driver let go
        let queue = scheduler.queues[Int(run.job.queue)]
        logger.warning("job \(id): \(reason)")
        if queue.onNodeLoss == .requeue {
            scheduler.requeue(id, now: now)
            record(Transition(id: id, state: .queued, time: now, reason: "\(reason); back in the queue (on_node_loss = requeue)"))
        } else {
            finish(id, now, Transition(id: id, state: .failed, time: now, reason: "\(reason) (on_node_loss = fail)"))
        }
        cancelReasons[id] = nil
        requestCycle()
    }

    /// `vbatch image push`: copies an image into the caches of `names` (default: every node
    /// that may run it), all nodes at once; one result per node, failures included.
    public func pushImage(_ name: String, _ request: ImagePushRequest, caller: Caller) async throws -> [ImagePushResult] {
        guard caller.isOperator else { throw EngineError.forbidden("only operators may push images to nodes") }
        guard let image = configuration.image(named: name) else { throw EngineError.notFound("image \(name) is not in the catalogue") }
        let allowed = configuration.nodes.filter { $0.environments?.contains(name) ?? true }
        var targets: [String] = []
        for node in request.nodes ?? allowed.map(\.name) {
            guard configuration.nodes.contains(where: { $0.name == node }) else { throw EngineError.notFound("node \(node) does not exist") }
            guard allowed.contains(where: { $0.name == node }) else {
                throw EngineError.badRequest("node \(node) does not offer image \(name) (its environments)")
            }
            if !targets.contains(node) { targets.append(node) }
        }
        logger.notice("\(caller.user) pushes image \(name) to \(targets.count) nodes")
        let driver = self.driver
        return await withTaskGroup(of: ImagePushResult.self) { group in
            for node in targets {
                group.addTask {
                    let start = ContinuousClock.now
                    do {
                        let bytes = try await driver.stage(image, node: node)
                        return ImagePushResult(node: node, uploadedBytes: bytes, seconds: (ContinuousClock.now - start).seconds)
                    } catch {
                        return ImagePushResult(node: node, uploadedBytes: 0, seconds: (ContinuousClock.now - start).seconds,
                                               error: "\(error)")
                    }
                }
            }
            var results: [ImagePushResult] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.node < $1.node }
        }
    }

    private func utc(_ time: Double) -> String { CivilDate.timestamp(ofEpochSeconds: time) + " UTC" }

    /// For `vbatch show` and `qstat -f`: a running job whose node cannot be reached.
    func nodeNote(ofJob id: Int64) -> String? {
        guard let run = scheduler.runningJob(id), case .unreachable(let reason, let since) = nodeStatus[run.node].link else {
            return nil
        }
        return "node \(configuration.nodes[run.node].name) unreachable since \(utc(since)) (\(reason)); "
            + "the job keeps its slots until the node answers, is fenced, or the VM's lease ends at \(utc(leaseEnd(of: run)))"
    }
}
