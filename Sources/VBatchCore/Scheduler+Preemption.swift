/// Preemption: a waiting job of a queue that `preempts` others, which fits no node as things
/// are, may stop running jobs of those queues on one node. The scheduler picks the victims at
/// least cost and never stops a job for one that would still not fit; the engine stops them
/// (save, requeue or cancel, per the preempting queue) and the job starts once they are gone.
extension Scheduler {
    /// Most victim sets of one size tried per node before settling for a greedy choice.
    static let preemptionSearchLimit = 2000

    /// The victims to stop for `job`: on the node where it then fits at least cost (fewest
    /// victims, then least work lost: nothing for `save`, the run time so far otherwise), or
    /// nil if stopping every job it may stop on a node would still not make room on any.
    func preemptionPlan(for job: PendingJob, key: Int, now: Double) -> [Preemption]? {
        let queue = queues[Int(job.queue)]
        let mode = queue.preemptMode
        let victimQueues = Set(queue.preempts.compactMap { self.queue(named: $0) })
        let needSlots = Int(job.cores), needMemory = Int(job.memoryMB)
        var best: (node: Int, victims: [RunningJob], cost: Double)?
        for n in keyNodes[key] where nodeEnabled[n] {
            let config = configuration.nodes[n]
            guard config.slots >= needSlots, config.memoryMB >= needMemory else { continue }
            if let cap = queue.maxJobsPerNode, Int(nodeQueueJobs[n * queues.count + Int(job.queue)]) >= cap { continue }
            let candidates = nodeJobs[n].compactMap { running[$0] }.filter { run in
                run.preemptible && run.moveTarget == nil && victimQueues.contains(run.job.queue)
                    && !(mode == .save && run.pooled)
            }
            let slots = freeSlots[n].count, memory = freeMemory[n]
            func fits(_ victims: some Sequence<RunningJob>) -> Bool {
                var s = slots, m = memory
                for v in victims { s += v.slots.count; m += Int(v.job.memoryMB) }
                return s >= needSlots && m >= needMemory
            }
            guard !candidates.isEmpty, fits(candidates) else { continue }
            func lost(_ run: RunningJob) -> Double { mode == .save ? 0 : max(0, now - run.startTime) }
            guard let victims = cheapestVictims(candidates, fits: fits, lost: lost) else { continue }
            let cost = victims.reduce(0) { $0 + lost($1) }
            if best == nil || (victims.count, cost) < (best!.victims.count, best!.cost) {
                best = (n, victims, cost)
            }
        }
        guard let best else { return nil }
        let name = configuration.nodes[best.node].name
        return best.victims.sorted { $0.job.id < $1.job.id }.map {
            Preemption(victim: $0.job.id, forJob: job.id, node: best.node, nodeName: name, mode: mode)
        }
    }

    /// The smallest set of `candidates` that makes room, and of those the one losing least work.
    private func cheapestVictims(_ candidates: [RunningJob], fits: ([RunningJob]) -> Bool,
                                 lost: (RunningJob) -> Double) -> [RunningJob]? {
        // Fewest victims: the largest jobs first bound how few can do.
        let bySize = candidates.sorted { ($0.slots.count, $0.job.memoryMB) > ($1.slots.count, $1.job.memoryMB) }
        var k = 1
        while k <= bySize.count, !fits(Array(bySize.prefix(k))) { k += 1 }
        guard k <= bySize.count else { return nil }
        var best: (victims: [RunningJob], lost: Double)?
        var tried = 0
        var chosen: [RunningJob] = []
        func search(from start: Int) {
            guard tried < Self.preemptionSearchLimit else { return }
            if chosen.count == k {
                tried += 1
                guard fits(chosen) else { return }
                let cost = chosen.reduce(0) { $0 + lost($1) }
                if best == nil || cost < best!.lost { best = (chosen, cost) }
                return
            }
            guard start < candidates.count, candidates.count - start >= k - chosen.count else { return }
            for i in start..<candidates.count {
                chosen.append(candidates[i])
                search(from: i + 1)
                chosen.removeLast()
            }
        }
        search(from: 0)
        return best?.victims ?? Array(bySize.prefix(k))
    }

    /// A victim stopped (saved, requeued, cancelled or ended on its own).
    mutating func victimGone(_ id: Int64) {
        for (job, victims) in preemptionsFor where victims.contains(id) {
            var left = victims
            left.remove(id)
            preemptionsFor[job] = left.isEmpty ? nil : left
        }
    }

    /// Stopping `victim` failed (it runs on): it is no one's victim, and not chosen again.
    public mutating func preemptionFailed(_ victim: Int64) {
        victimGone(victim)
        running[victim]?.preemptible = false
    }

    /// Why a waiting job is not started yet although it may preempt: its victims are being stopped.
    public func preemptionVictims(for id: Int64) -> Set<Int64>? { preemptionsFor[id] }
}
