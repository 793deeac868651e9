import Testing
import VBatchCore

/// Preemption, saved jobs and migration targets: scheduler decisions only, no I/O.
@Suite("Preemption and moves")
struct MoveTests {
    /// Two nodes of 4 slots; `high` preempts `low` and `mid` in `mode`.
    func configuration(nodes: Int = 2, mode: ExecutionQueue.PreemptMode = .save) -> Configuration {
        Configuration(
            site: SiteSettings(placement: .pack),
            nodes: (1...nodes).map { NodeConfig(name: "wn\($0)", slots: 4, memoryMB: 8192) },
            queues: [
                .execution(ExecutionQueue(name: "high", priority: 100, environments: ["el9"], walltimeMax: 3600, maxCores: 4,
                                          preempts: ["low", "mid"], preemptMode: mode)),
                .execution(ExecutionQueue(name: "mid", priority: 10, environments: ["el9"], walltimeMax: 3600, maxCores: 4)),
                .execution(ExecutionQueue(name: "low", priority: 0, environments: ["el9"], walltimeMax: 3600, maxCores: 4)),
            ],
            images: [ImageConfig(name: "el9", kernel: "k")])
    }

    /// Starts `ids` and marks them running (preemptible), as the engine does on `.running`.
    func run(_ h: inout Harness) -> [Int64] {
        let placed = h.cycle().placements.map(\.jobID)
        for id in placed { h.scheduler.setPreemptible(id, true) }
        return placed
    }

    @Test func aFullSiteMakesRoomAtLeastCost() throws {
        var h = Harness(configuration(nodes: 2))
        // wn1: one 4-core low job; wn2: two 2-core low jobs (pack fills wn1 first).
        let big = try h.submit("low", cores: 4)
        let small1 = try h.submit("low", cores: 2)
        let small2 = try h.submit("low", cores: 2)
        #expect(run(&h).count == 3)
        h.now += 100
        // A 2-core high job: one small victim is enough (fewest victims, not the 4-core job... both are one victim;
        // with save nothing is lost, so the tie goes to the first node whose one victim frees enough).
        let urgent = try h.submit("high", cores: 2)
        let result = h.cycle()
        #expect(result.placements.isEmpty)
        #expect(result.preemptions.count == 1)
        let victim = try #require(result.preemptions.first)
        #expect(victim.forJob == urgent && victim.mode == .save)
        #expect([big, small1, small2].contains(victim.victim))
        // While the victim is being stopped, no second round of preemption.
        #expect(h.cycle().preemptions.isEmpty)
        // The victim is saved: its slots free, it waits to be restored where it was saved.
        let run = try #require(h.scheduler.runningJob(victim.victim))
        let parked1 = h.scheduler.park(victim.victim, savedOn: run.node, walltimeUsed: 100, held: false, now: h.now)
        #expect(parked1)
        let next = h.cycle()
        #expect(next.placements.map(\.jobID) == [urgent])
        #expect(next.placements[0].restoreFrom == nil)
        #expect(h.scheduler.pendingJob(victim.victim)?.savedOn == Int32(run.node))
    }

    @Test func requeueLosesLeastWork() throws {
        var h = Harness(configuration(nodes: 1, mode: .requeue))
        let old = try h.submit("low", cores: 2)
        _ = run(&h)
        h.now += 1000
        let young = try h.submit("low", cores: 2)
        _ = run(&h)
        h.now += 10
        let urgent = try h.submit("high", cores: 2)
        let result = h.cycle()
        // Either frees enough; the younger one has lost less work.
        #expect(result.preemptions.map(\.victim) == [young])
        #expect(result.preemptions.first?.forJob == urgent && result.preemptions.first?.mode == .requeue)
        _ = old
    }

    @Test func neverPreemptsForAJobThatWouldStillNotFit() throws {
        var h = Harness(configuration(nodes: 1))
        // 2 slots of mid, 2 of high (not preemptible): a 4-core high job cannot fit even if mid goes.
        try h.submit("mid", cores: 2)
        try h.submit("high", cores: 2)
        _ = run(&h)
        try h.submit("high", cores: 4)
        #expect(h.cycle().preemptions.isEmpty)
    }

    @Test func onlyRunningJobsOfPreemptedQueuesAreVictims() throws {
        var h = Harness(configuration(nodes: 1))
        let starting = try h.submit("low", cores: 4)
        _ = h.cycle() // placed, but its VM is not running yet: not preemptible
        try h.submit("high", cores: 1)
        #expect(h.cycle().preemptions.isEmpty)
        h.scheduler.setPreemptible(starting, true)
        #expect(h.cycle().preemptions.map(\.victim) == [starting])
    }

    @Test func fewestVictimsFirst() throws {
        var h = Harness(configuration(nodes: 1))
        let ones = try (0..<2).map { _ in try h.submit("low", cores: 1) }
        let two = try h.submit("mid", cores: 2)
        _ = run(&h)
        try h.submit("high", cores: 2)
        #expect(h.cycle().preemptions.map(\.victim) == [two], "one 2-core victim, not two 1-core ones \(ones)")
    }

    @Test func aSavedJobResumesOnItsNodeFirstThenAnywhere() throws {
        var h = Harness(configuration(nodes: 2))
        let job = try h.submit("low", cores: 2)
        _ = run(&h)
        let node = try #require(h.scheduler.runningJob(job)).node
        h.now += 50
        let parked2 = h.scheduler.park(job, savedOn: node, walltimeUsed: 50, held: true, now: h.now)
        #expect(parked2)
        #expect(h.cycle().placements.isEmpty, "held while saved")
        _ = h.scheduler.setHeld(job, false)
        let back = h.cycle().placements
        #expect(back.map(\.jobID) == [job] && back[0].node == node && back[0].restoreFrom == node)
        // Its walltime counts on from what it had used.
        #expect(h.scheduler.runningJob(job)?.startTime == h.now - 50)
        // Saved again, its node now disabled: it resumes on the other node, from the saved copy.
        let parked3 = h.scheduler.park(job, savedOn: node, walltimeUsed: 60, held: false, now: h.now)
        #expect(parked3)
        h.scheduler.setNodeEnabled(node, false)
        let elsewhere = h.cycle().placements
        #expect(elsewhere.count == 1 && elsewhere[0].node != node && elsewhere[0].restoreFrom == node)
    }

    @Test func migrationBooksTheTargetUntilTheMoveEnds() throws {
        var h = Harness(configuration(nodes: 2))
        let job = try h.submit("low", cores: 3)
        _ = run(&h)
        let source = try #require(h.scheduler.runningJob(job)).node
        let planned = h.scheduler.planMove(job)
        let target = try #require(planned)
        #expect(target.node != source && target.slots.count == 3)
        // Both nodes hold the job's slots while it moves: a 2-core job fits on neither.
        try h.submit("low", cores: 2)
        #expect(h.cycle().placements.isEmpty)
        let second = h.scheduler.planMove(job)
        #expect(second == nil, "one move at a time")
        // A failed move gives the target's slots back.
        h.scheduler.cancelMove(job)
        #expect(h.scheduler.freeSlotCount(node: target.node) == 4)
        #expect(h.scheduler.runningJob(job)?.node == source)
        let again = h.scheduler.planMove(job)
        #expect(again != nil)
        h.scheduler.completeMove(job)
        #expect(h.scheduler.runningJob(job)?.node == target.node)
        #expect(h.scheduler.freeSlotCount(node: source) == 4)
        #expect(h.cycle().placements.count == 1)
    }

    @Test func suspendedTimeMovesTheWalltimeEnd() throws {
        var h = Harness(configuration(nodes: 1))
        let job = try h.submit("low", cores: 1, walltime: 600)
        _ = run(&h)
        let end = try #require(h.scheduler.runningJob(job)).expectedEnd
        h.scheduler.shiftStart(job, by: 120)
        #expect(h.scheduler.runningJob(job)?.expectedEnd == end + 120)
    }
}
