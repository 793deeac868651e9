/// Jobs that stop without ending: suspended (slots kept, walltime paused), saved (slots
/// freed, back in the queue to be restored) and migrating (slots booked on two nodes until
/// the move ends). The scheduler chooses where a job resumes or migrates to; the engine
/// carries it out and reports back.
extension Scheduler {
    /// Moves a running job's walltime start later by `seconds` it did not run (it was suspended).
    public mutating func shiftStart(_ id: Int64, by seconds: Double) {
        running[id]?.startTime += max(0, seconds)
    }

    /// Whether a running job may be preempted now (its VM runs, not starting, suspended or moving).
    public mutating func setPreemptible(_ id: Int64, _ preemptible: Bool) {
        running[id]?.preemptible = preemptible
    }

    /// A running job's VM was saved on `node` after `walltimeUsed` seconds: its slots are free
    /// and it waits in its queue at its original place to be restored (held: only once released).
    @discardableResult
    public mutating func park(_ id: Int64, savedOn node: Int, walltimeUsed: Double, held: Bool, now: Double) -> Bool {
        guard let run = finish(id, now: now) else { return false }
        enqueue(Self.saved(run.job, on: node, walltimeUsed: walltimeUsed, held: held))
        return true
    }

    /// The pending form of a job whose VM is saved on `node`.
    public static func saved(_ job: PendingJob, on node: Int, walltimeUsed: Double, held: Bool) -> PendingJob {
        var saved = job
        saved.savedOn = Int32(node)
        saved.walltimeUsed = Int32(min(Double(Int32.max), max(0, walltimeUsed.rounded(.down))))
        saved.held = held
        return saved
    }

    /// Whether a node's hypervisor answers: saved jobs whose state file is on a node that does
    /// not are not restored (not even elsewhere) until it does.
    public mutating func setNodeReachable(_ node: Int, _ reachable: Bool) {
        nodeReachable[node] = reachable
    }

    /// Waiting jobs whose saved VM is on `node`.
    public func savedJobs(on node: Int) -> [Int64] {
        pending.values.filter { $0.savedOn == Int32(node) }.map(\.id).sorted()
    }

    /// A waiting saved job whose saved VM is gone (its node lost it, or an operator requeued
    /// it): it starts anew when placed.
    public mutating func forgetSaved(_ id: Int64) {
        pending[id]?.savedOn = -1
        pending[id]?.walltimeUsed = 0
    }

    // MARK: - Live migration

    /// Picks a node for a running job's VM to migrate to and books its slots and memory there
    /// (the job holds both nodes until ``completeMove(_:)`` or ``cancelMove(_:)``). Nil if no
    /// other node may take it now.
    public mutating func planMove(_ id: Int64) -> MoveTarget? {
        guard let run = running[id], run.moveTarget == nil, !run.pooled else { return nil }
        let key = Int(run.job.queue) * environments.count + Int(run.job.environment)
        guard let index = indexes[key] else { return nil }
        let placed = index.first(slots: Int(run.job.cores), policy: configuration.site.placement) { n in
            n != run.node && freeMemory[n] >= Int(run.job.memoryMB)
        }
        guard let n = placed, let slots = freeSlots[n].take(Int(run.job.cores)) else { return nil }
        return bookTarget(id, node: n, takenSlots: slots)
    }

    /// Books `slots` on `node` for a running job's migration (a restart finds one under way).
    /// False if they are not free.
    @discardableResult
    public mutating func bookMove(_ id: Int64, node: Int, slots: [Int]) -> Bool {
        guard let run = running[id], run.moveTarget == nil, slots.allSatisfy({ freeSlots[node].contains($0) }) else { return false }
        for s in slots { freeSlots[node].remove(s) }
        bookTarget(run.job.id, node: node, takenSlots: slots)
        return true
    }

    /// Books memory and the per-node queue count on a migration's target whose `slots` are
    /// already out of its free set, and records the target.
    @discardableResult
    private mutating func bookTarget(_ id: Int64, node: Int, takenSlots slots: [Int]) -> MoveTarget {
        let job = running[id]!.job
        freeMemory[node] -= Int(job.memoryMB)
        nodeQueueJobs[node * queues.count + Int(job.queue)] += 1
        refreshIndexes(node: node)
        let config = configuration.nodes[node]
        let target = MoveTarget(node: node, nodeName: config.name, slots: slots, cpus: slots.map { config.cpus[$0] })
        running[id]!.moveTarget = target
        running[id]!.preemptible = false
        return target
    }

    /// The migration finished: the job holds the target's slots only.
    public mutating func completeMove(_ id: Int64) {
        guard var run = running[id], let target = run.moveTarget else { return }
        let q = Int(run.job.queue)
        for s in run.slots { freeSlots[run.node].insert(s) }
        freeMemory[run.node] += Int(run.job.memoryMB)
        nodeQueueJobs[run.node * queues.count + q] -= 1
        if let i = nodeJobs[run.node].firstIndex(of: id) { nodeJobs[run.node].remove(at: i) }
        refreshIndexes(node: run.node)
        run.node = target.node
        run.slots = target.slots
        run.moveTarget = nil
        nodeJobs[target.node].append(id)
        running[id] = run
    }

    /// The migration failed: the target's slots are free again.
    public mutating func cancelMove(_ id: Int64) {
        guard let target = running[id]?.moveTarget else { return }
        running[id]!.moveTarget = nil
        releaseMoveTarget(target, of: running[id]!.job)
    }

    mutating func releaseMoveTarget(_ target: MoveTarget, of job: PendingJob) {
        for s in target.slots { freeSlots[target.node].insert(s) }
        freeMemory[target.node] += Int(job.memoryMB)
        nodeQueueJobs[target.node * queues.count + Int(job.queue)] -= 1
        refreshIndexes(node: target.node)
    }
}
