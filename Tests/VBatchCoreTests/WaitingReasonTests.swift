import Testing
import VBatchCore

/// `Scheduler.waitingReason`: the first thing that holds a waiting job back.
@Suite("Why a job waits")
struct WaitingReasonTests {
    func reason(_ h: Harness, _ id: Int64) -> String? { h.scheduler.waitingReason(id, now: h.now) }

    @Test func eachLimitIsNamed() throws {
        var config = exampleConfiguration(nodes: 1, slots: 2)
        config.queues = config.queues.map { q in
            guard case .execution(var e) = q, e.name == "two-way" else { return q }
            e.maxRunningPerUser = 1
            return .execution(e)
        }
        var h = Harness(config)
        let running = try h.submit("one-way", walltime: 600)
        let behind = try h.submit("one-way", walltime: 600)
        let held = try h.submit("two-way")
        _ = h.scheduler.setHeld(held, true)
        #expect(reason(h, running) == "a node has room: it starts at the next scheduling cycle")
        _ = h.cycle()
        #expect(reason(h, running) == nil)  // running, not waiting
        #expect(reason(h, held) == "held: it starts only once released")
        // one-way allows one job per node: the second waits for the first, with a reservation.
        #expect(reason(h, behind)?.hasPrefix("next to start: 1 core and 256mb reserved on wn1 in at most ") == true)

        let userFirst = try h.submit("two-way", user: "bob")
        let userSecond = try h.submit("two-way", user: "bob")
        _ = h.cycle()
        #expect(reason(h, userFirst) == nil)
        #expect(reason(h, userSecond) == "its owner runs as many jobs as queue two-way allows per user (max_running_per_user = 1)")

        h.scheduler.setQueueStarted(h.scheduler.queue(named: "one-way")!, false)
        #expect(reason(h, behind) == "queue one-way is stopped")
        h.scheduler.setQueueStarted(h.scheduler.queue(named: "one-way")!, true)
        h.scheduler.setNodeEnabled(0, false)
        #expect(reason(h, behind) == "every node serving queue one-way with environment el9 is drained or out of service")
    }

    @Test func resourcesAndTheReservation() throws {
        var h = Harness(exampleConfiguration(nodes: 1, slots: 2))
        let big = try h.submit("cms-long", cores: 2, walltime: 3600, vo: "cms")
        _ = h.cycle()
        #expect(reason(h, big) == nil)
        let next = try h.submit("cms-long", cores: 2, walltime: 3600, vo: "cms")
        let small = try h.submit("cms-long", cores: 1, walltime: 3600, vo: "cms")
        _ = h.cycle()
        #expect(reason(h, next)?.hasPrefix("next to start: 2 cores and 256mb reserved on wn1") == true)
        #expect(reason(h, small) == "waiting for resources: no node serving queue cms-long has 1 core and 256mb free")
        #expect(reason(h, 999) == nil)
    }
}
