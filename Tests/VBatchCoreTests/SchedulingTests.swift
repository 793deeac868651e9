import Testing
import VBatchCore

@Suite("Scheduling")
struct SchedulingTests {
    @Test func oneWayNeverRunsTwoJobsOnANode() throws {
        var h = Harness(exampleConfiguration(nodes: 2, slots: 4))
        let ids = try (0..<5).map { _ in try h.submit("one-way") }
        let placed = h.cycle().placements
        #expect(placed.count == 2)
        #expect(Set(placed.map(\.nodeName)) == ["wn1", "wn2"])
        // A freed node takes exactly one more.
        h.scheduler.finish(placed[0].jobID, now: h.now)
        let next = h.cycle().placements
        #expect(next.map(\.jobID) == [ids[2]])
        #expect(next[0].nodeName == placed[0].nodeName)
    }

    @Test func twoWayNeverRunsThreeJobsOnANode() throws {
        var h = Harness(exampleConfiguration(nodes: 2, slots: 8))
        for _ in 0..<7 { try h.submit("two-way") }
        let placed = h.cycle().placements
        #expect(placed.count == 4)
        let perNode = Dictionary(grouping: placed, by: \.nodeName).mapValues(\.count)
        #expect(perNode == ["wn1": 2, "wn2": 2])
    }

    @Test func capsArePerQueue() throws {
        var h = Harness(exampleConfiguration(nodes: 1, slots: 8))
        try h.submit("one-way")
        try h.submit("one-way")
        for _ in 0..<3 { try h.submit("two-way") }
        let placed = h.cycle().placements
        #expect(placed.count == 3) // one one-way + two two-way share the node
    }

    @Test func packFillsOneNodeSpreadUsesAll() throws {
        var pack = Harness(exampleConfiguration(nodes: 3, slots: 4, placement: .pack))
        for _ in 0..<3 { try pack.submit("cms-long", vo: "cms") }
        #expect(Set(pack.cycle().placements.map(\.nodeName)).count == 1)
        var spread = Harness(exampleConfiguration(nodes: 3, slots: 4, placement: .spread))
        for _ in 0..<3 { try spread.submit("cms-long", vo: "cms") }
        #expect(Set(spread.cycle().placements.map(\.nodeName)).count == 3)
    }

    @Test func runningJobsNeverSharePinnedCPUs() throws {
        var h = Harness(exampleConfiguration(nodes: 1, slots: 4))
        let a = try h.submit("cms-long", cores: 2, vo: "cms")
        let b = try h.submit("cms-long", cores: 2, vo: "cms")
        let placed = h.cycle().placements
        #expect(placed.count == 2)
        let cpusA = placed.first { $0.jobID == a }!.cpus, cpusB = placed.first { $0.jobID == b }!.cpus
        #expect(cpusA.count == 2 && cpusB.count == 2)
        #expect(Set(cpusA).isDisjoint(with: cpusB))
    }

    @Test func hostCPUListIsHonoured() throws {
        var config = exampleConfiguration(nodes: 1, slots: 2)
        config.nodes[0].cpus = [6, 7]
        var h = Harness(config)
        try h.submit("cms-long", cores: 2, vo: "cms")
        #expect(h.cycle().placements.first?.cpus == [6, 7])
    }

    @Test func priorityBeatsSubmitOrder() throws {
        var h = Harness(exampleConfiguration(nodes: 1, slots: 1))
        try h.submit("two-way")
        let urgent = try h.submit("one-way")
        #expect(h.cycle().placements.map(\.jobID) == [urgent])
    }

    @Test func fairShareOrdersVOsByDecayedUsage() throws {
        var config = exampleConfiguration(nodes: 1, slots: 1)
        if case .execution(var q) = config.queues[3] { q.vos = nil; config.queues[3] = .execution(q) }
        // Without usage: submit order.
        var fifo = Harness(config)
        let first = try fifo.submit("cms-long", vo: "cms")
        try fifo.submit("cms-long", vo: "atlas")
        #expect(fifo.cycle().placements.map(\.jobID) == [first])

        // CMS has used a lot recently: ATLAS goes first although it came later.
        var h = Harness(config)
        h.scheduler.recordPastUsage(vo: "cms", coreSeconds: 1e6, endedAgo: 0)
        try h.submit("cms-long", vo: "cms")
        let atlas = try h.submit("cms-long", vo: "atlas")
        #expect(h.cycle().placements.map(\.jobID) == [atlas])
        let factors = h.scheduler.fairShareFactors()
        #expect(factors[Int(h.scheduler.vo(named: "atlas"))] == 1)
        #expect(factors[Int(h.scheduler.vo(named: "cms"))] < 0.5)
    }

    @Test func usageDecaysWithHalfLife() {
        var ledger = FairShareLedger(shares: [1, 1], halfLife: 100, now: 0)
        ledger.addPastUsage(vo: 0, coreSeconds: 1000, age: 100)
        #expect(abs(ledger.usage[0] - 500) < 1e-9)
        ledger.jobStarted(vo: 1, cores: 2)
        ledger.advance(to: 100)
        #expect(abs(ledger.usage[0] - 250) < 1e-9)
        // 2 cores for 100 s under decay: 2 * 100/ln2 * (1 - 1/2) ≈ 144.27
        #expect(abs(ledger.usage[1] - 144.2695) < 1e-3)
    }

    @Test func heldJobsNeverStart() throws {
        var h = Harness(exampleConfiguration(nodes: 1, slots: 4))
        let id = try h.submit("cms-long", vo: "cms")
        h.scheduler.setHeld(id, true)
        #expect(h.cycle().placements.isEmpty)
        h.scheduler.setHeld(id, false)
        #expect(h.cycle().placements.map(\.jobID) == [id])
    }

    @Test func disabledNodeIsSkipped() throws {
        var h = Harness(exampleConfiguration(nodes: 2, slots: 4))
        h.scheduler.setNodeEnabled(0, false)
        try h.submit("cms-long", vo: "cms")
        #expect(h.cycle().placements.map(\.nodeName) == ["wn2"])
    }

    @Test func requeuedJobKeepsItsPlace() throws {
        var h = Harness(exampleConfiguration(nodes: 1, slots: 1))
        let a = try h.submit("cms-long", vo: "cms")
        let b = try h.submit("cms-long", vo: "cms")
        #expect(h.cycle().placements.map(\.jobID) == [a])
        h.scheduler.requeue(a, now: h.now)
        #expect(h.cycle().placements.map(\.jobID) == [a])
        _ = b
    }
}

@Suite("Queue limits and flags")
struct QueueLimitTests {
    func configuration(_ change: (inout ExecutionQueue) -> Void) -> Configuration {
        var config = exampleConfiguration(nodes: 2, slots: 8)
        if case .execution(var q) = config.queues[3] {
            q.vos = nil
            change(&q)
            config.queues[3] = .execution(q)
        }
        return config
    }

    @Test func maxRunning() throws {
        var h = Harness(configuration { $0.maxRunning = 2 })
        for _ in 0..<5 { try h.submit("cms-long") }
        #expect(h.cycle().placements.count == 2)
        #expect(h.cycle().placements.isEmpty)
    }

    @Test func maxRunningPerUser() throws {
        var h = Harness(configuration { $0.maxRunningPerUser = 1 })
        for user in ["alice", "alice", "bob", "bob", "carol"] { try h.submit("cms-long", user: user) }
        #expect(h.cycle().placements.count == 3)
    }

    @Test func stoppedQueueHoldsItsJobs() throws {
        var h = Harness(configuration { $0.started = false })
        try h.submit("cms-long")
        #expect(h.cycle().placements.isEmpty)
        h.scheduler.setQueueStarted(h.scheduler.queue(named: "cms-long")!, true)
        #expect(h.cycle().placements.count == 1)
    }

    @Test func maxQueuedRejectsAtSubmit() throws {
        var h = Harness(configuration { $0.maxQueued = 2 })
        try h.submit("cms-long", cores: 2)
        try h.submit("cms-long", cores: 2)
        #expect(throws: RoutingRejection.self) { try h.submit("cms-long") }
    }
}

@Suite("EASY backfill")
struct BackfillTests {
    /// One node of `slots` and one queue without per-node caps.
    func site(slots: Int) -> Configuration {
        Configuration(
            nodes: [NodeConfig(name: "wn1", slots: slots, memoryMB: 64_000)],
            queues: [.execution(ExecutionQueue(name: "batch", environments: ["el9"], walltimeMax: 100_000, maxCores: slots))],
            images: [ImageConfig(name: "el9", kernel: "k")])
    }

    /// A full site with its head job reserved: the cycle stops there instead of looking at
    /// each of a thousand waiting jobs that cannot start either; the next cycle, with a slot
    /// free again, backfills as before.
    @Test func aFullSiteEndsTheCycleAtTheReservation() throws {
        var h = Harness(site(slots: 4))
        let blocker = try h.submit("batch", cores: 3, walltime: 100)
        let filler = try h.submit("batch", cores: 1, walltime: 100)
        #expect(h.cycle().placements.count == 2)
        let head = try h.submit("batch", cores: 4, walltime: 100)
        for _ in 0..<1000 { _ = try h.submit("batch", cores: 1, walltime: 50) }
        let full = h.cycle()
        #expect(full.reservation?.jobID == head && full.placements.isEmpty)
        #expect(full.considered == 1, "the head alone, not \(full.considered)")
        // One slot free: a short job backfills into it, then the site is full again.
        h.now = 10
        h.scheduler.finish(filler, now: h.now)
        let next = h.cycle()
        #expect(next.placements.count == 1 && next.placements[0].backfilled && next.considered == 3)
        #expect(h.scheduler.runningJob(blocker) != nil)
    }

    /// A job taken out and put back (a cancellation the store could not record is undone this
    /// way) is listed once, as the cycle relies on, and starts once.
    @Test func aJobListedTwiceStartsOnce() throws {
        var h = Harness(site(slots: 4))
        let id = try h.submit("batch", cores: 1, walltime: 100)
        let removed = h.scheduler.removePending(id)
        let job = try #require(removed)
        h.scheduler.enqueue(job)
        let result = h.cycle()
        #expect(result.placements.map(\.jobID) == [id])
        #expect(h.scheduler.pendingCount == 0 && h.scheduler.runningJob(id) != nil)
        #expect(h.cycle().placements.isEmpty)
    }

    @Test func shortJobJumpsAheadWithoutDelayingTheHead() throws {
        var h = Harness(site(slots: 4))
        let blocker = try h.submit("batch", cores: 2, walltime: 100)
        #expect(h.cycle().placements.map(\.jobID) == [blocker])
        let head = try h.submit("batch", cores: 4, walltime: 100)
        let long = try h.submit("batch", cores: 1, walltime: 1000)
        let short = try h.submit("batch", cores: 1, walltime: 50)
        let result = h.cycle()
        // The head cannot start; it is reserved for when the blocker's walltime ends.
        #expect(result.reservation?.jobID == head)
        let blockerEnd = h.scheduler.runningJob(blocker)!.expectedEnd
        #expect(result.reservation?.startTime == blockerEnd)
        // The short job ends before that and starts now; the long one would delay the head.
        #expect(result.placements.map(\.jobID) == [short])
        #expect(result.placements[0].backfilled)
        #expect(h.scheduler.pendingJob(long) != nil)
        // At the reservation time the head starts as promised.
        h.now = blockerEnd
        h.scheduler.finish(blocker, now: h.now)
        h.scheduler.finish(short, now: h.now)
        #expect(h.cycle().placements.map(\.jobID) == [head])
    }

    @Test func longJobUsesCapacityLeftOverAtTheReservation() throws {
        var h = Harness(site(slots: 8))
        let blocker = try h.submit("batch", cores: 6, walltime: 100)
        _ = h.cycle()
        let head = try h.submit("batch", cores: 6, walltime: 100)
        let long = try h.submit("batch", cores: 2, walltime: 1000)
        let tooBig = try h.submit("batch", cores: 1, walltime: 1000)
        let result = h.cycle()
        #expect(result.reservation?.jobID == head)
        // 8 slots free when the blocker ends minus the head's 6 leaves 2: the long 2-core job fits there, nothing more.
        #expect(result.placements.map(\.jobID) == [long])
        #expect(h.scheduler.pendingJob(tooBig) != nil)
        _ = blocker
    }

    @Test func withoutBackfillRoomNothingJumps() throws {
        var h = Harness(site(slots: 4))
        try h.submit("batch", cores: 4, walltime: 100)
        _ = h.cycle()
        try h.submit("batch", cores: 4, walltime: 100)
        try h.submit("batch", cores: 1, walltime: 10)
        #expect(h.cycle().placements.isEmpty) // no free slot at all
    }
}

@Suite("Invariants under random load")
struct InvariantTests {
    @Test func capsSlotsAndCPUsHoldOverManyCycles() throws {
        var rng = SplitMix64(seed: 42)
        var h = Harness(exampleConfiguration(nodes: 4, slots: 8))
        var running: [Int64: (end: Double, placement: Placement)] = [:]
        for _ in 0..<300 {
            for _ in 0..<Int(rng.next() % 4) {
                let queue = ["one-way", "two-way", "cms-long"][Int(rng.next() % 3)]
                let cores = queue == "two-way" ? 1 : Int(rng.next() % 2) + 1
                try h.submit(queue, cores: cores, walltime: Int(rng.next() % 5000) + 60, vo: "cms")
            }
            for p in h.cycle().placements {
                running[p.jobID] = (h.now + Double(rng.next() % 40), p)
            }
            // Invariants.
            for node in 0..<4 {
                let jobs = running.values.filter { $0.placement.node == node }
                let queues = jobs.map { h.scheduler.runningJob($0.placement.jobID)!.job.queue }
                #expect(queues.filter { $0 == h.scheduler.queue(named: "one-way") }.count <= 1)
                #expect(queues.filter { $0 == h.scheduler.queue(named: "two-way") }.count <= 2)
                let cpus = jobs.flatMap(\.placement.cpus)
                #expect(cpus.count <= 8)
                #expect(Set(cpus).count == cpus.count)
            }
            h.now += 10
            for (id, r) in running where r.end <= h.now {
                h.scheduler.finish(id, now: h.now)
                running[id] = nil
            }
        }
    }
}
