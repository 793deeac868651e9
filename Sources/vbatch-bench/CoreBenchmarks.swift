import VBatchCore

/// P1 and P2: the scheduler core alone, no store, no driver.
enum CoreBenchmarks {
    static let nodeCount = 10_000
    static let slotsPerNode = 32
    static let pendingCount = 100_000

    /// The benchmark site: 10,000 nodes × 32 slots, a routing-free mix of three execution
    /// queues (one capped at 2 jobs per node), three VOs.
    static func site() -> Configuration {
        Configuration(
            site: SiteSettings(placement: .pack),
            nodes: (0..<nodeCount).map { NodeConfig(name: "wn\($0)", slots: slotsPerNode, memoryMB: 128 * 1024) },
            vos: ["cms", "atlas", "lhcb"].map { VOConfig(name: $0, share: 1, groups: [$0]) },
            queues: [
                .execution(ExecutionQueue(name: "short", priority: 10, environments: ["el9"], walltimeMax: 4 * 3600, maxCores: 32)),
                .execution(ExecutionQueue(name: "long", priority: 5, environments: ["el9", "el8"], walltimeMax: 72 * 3600, maxCores: 8)),
                .execution(ExecutionQueue(name: "two-way", priority: 1, environments: ["el9"], walltimeMax: 24 * 3600,
                                          maxCores: 4, maxJobsPerNode: 2)),
            ],
            images: [ImageConfig(name: "el9", kernel: "k"), ImageConfig(name: "el8", kernel: "k")])
    }

    static func randomJob(_ s: inout Scheduler, id: Int64, rng: inout SplitMix64, now: Double) -> PendingJob {
        let queues = ["short", "long", "long", "two-way"]
        let queue = queues[Int(rng.next() % 4)]
        let cores = [1, 1, 1, 2, 4, 8][Int(rng.next() % 6)]
        let walltime = Int(rng.next() % 36_000) + 600
        let routed = RoutedJob(queue: queue, cores: min(cores, queue == "two-way" ? 4 : 8), memoryMB: 2048 * min(cores, 4),
                               walltime: min(walltime, 4 * 3600), environment: "el9")
        let vo = ["cms", "atlas", "lhcb"][Int(rng.next() % 3)]
        return s.pendingJob(id: id, routed: routed, user: "user\(rng.next() % 200)", vo: vo, submitTime: now + Double(id) * 0.001)!
    }

    /// P1: a cycle over 100,000 pending jobs on an empty site; decisions per second.
    static func placementRate(runs: Int) -> (rate: Double, placed: Int) {
        var rates: [Double] = []
        var placed = 0
        for run in 0..<runs {
            var s = Scheduler(configuration: site(), now: 0)
            var rng = SplitMix64(seed: UInt64(run + 1))
            for id in 1...pendingCount { s.enqueue(randomJob(&s, id: Int64(id), rng: &rng, now: 0)) }
            var result = CycleResult()
            let t = measure { result = s.schedule(now: 1_000) }
            placed = result.placements.count
            rates.append(Double(result.considered) / t)
        }
        return (Stats.median(rates), placed)
    }

    /// P2: a full backfill cycle on a busy site (about 95% of slots held by running jobs
    /// with varied walltimes) with 100,000 pending: reservation for the head, backfill for the rest.
    static func backfillCycle(runs: Int) -> (seconds: Double, backfilled: Int) {
        var times: [Double] = []
        var backfilled = 0
        for run in 0..<runs {
            var s = Scheduler(configuration: site(), now: 0)
            var rng = SplitMix64(seed: UInt64(100 + run))
            var id: Int64 = 1
            // Fill every slot, then end random jobs until about 5% of the slots are free.
            var queuedCores = 0
            while queuedCores < nodeCount * slotsPerNode * 11 / 10 {
                let job = randomJob(&s, id: id, rng: &rng, now: 0)
                id += 1
                s.enqueue(job)
                queuedCores += Int(job.cores)
            }
            var running = s.schedule(now: 0).placements.map(\.jobID)
            for pendingID in 1..<id where s.pendingJob(pendingID) != nil { s.removePending(pendingID) }
            var free = (0..<nodeCount).reduce(0) { $0 + s.freeSlotCount(node: $1) }
            while free < nodeCount * slotsPerNode / 20 {
                let victim = Int(rng.next() % UInt64(running.count))
                running.swapAt(victim, running.count - 1)
                let victimID = running.removeLast()
                free += Int(s.finish(victimID, now: 1)?.job.cores ?? 0)
            }
            // A whole-node head job that cannot start now, then the pending mass.
            let head = s.pendingJob(id: id, routed: RoutedJob(queue: "short", cores: 32, memoryMB: 1024, walltime: 3600,
                                                               environment: "el9"), user: "big", vo: "cms", submitTime: 1)!
            id += 1
            s.enqueue(head)
            for _ in 0..<pendingCount {
                s.enqueue(randomJob(&s, id: id, rng: &rng, now: 2))
                id += 1
            }
            var result = CycleResult()
            let t = measure { result = s.schedule(now: 100) }
            backfilled = result.placements.count
            times.append(t)
        }
        return (Stats.median(times), backfilled)
    }
}
