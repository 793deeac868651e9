import Testing
import VBatchCore

@Suite("Routing")
struct RoutingTests {
    let router = QueueRouter(configuration: exampleConfiguration())

    @Test func shortJobGoesToFirstDestination() throws {
        let job = try router.route(JobRequest(queue: "grid", walltime: 2 * 3600), vo: "atlas").get()
        #expect(job.queue == "one-way")
    }

    @Test func longJobFallsThroughToTwoWay() throws {
        let job = try router.route(JobRequest(queue: "grid", walltime: 12 * 3600), vo: "atlas").get()
        #expect(job.queue == "two-way")
    }

    @Test func veryLongCMSJobReachesCMSLong() throws {
        let job = try router.route(JobRequest(queue: "grid", cores: 2, walltime: 48 * 3600), vo: "cms").get()
        #expect(job.queue == "cms-long")
        #expect(job.environment == "el9")
    }

    @Test func rejectionGivesReasonPerDestination() {
        let result = router.route(JobRequest(queue: "grid", walltime: 48 * 3600), vo: "atlas")
        guard case .failure(let rejection) = result else { Issue.record("expected rejection"); return }
        #expect(rejection.reasons.map(\.queue) == ["one-way", "two-way", "cms-long"])
        #expect(rejection.reasons[0].reason == "walltime 2d exceeds the maximum of 10h")
        #expect(rejection.reasons[1].reason == "walltime 2d exceeds the maximum of 1d")
        #expect(rejection.reasons[2].reason.contains("VO atlas may not use it"))
        #expect(rejection.description.hasPrefix("no destination of queue grid accepts the job"))
    }

    @Test func limitsNameTheConstraintWithoutTheJobsValues() {
        // Different jobs refused by the same limits read the same (trace replays count them).
        let long = router.route(JobRequest(queue: "grid", walltime: 48 * 3600), vo: "atlas")
        let longer = router.route(JobRequest(queue: "grid", walltime: 60 * 3600), vo: "atlas")
        guard case .failure(let a) = long, case .failure(let b) = longer else { Issue.record("expected rejections"); return }
        #expect(a.limits == "one-way: walltime_max 10h; two-way: walltime_max 1d; cms-long: vos cms")
        #expect(b.limits == a.limits)
        #expect(a.reasons[0].reason != b.reasons[0].reason)
        guard case .failure(let wide) = router.route(JobRequest(queue: "one-way", cores: 3), vo: nil) else {
            Issue.record("expected a rejection"); return
        }
        #expect(wide.limits == "one-way: max_cores 2")
        guard case .failure(let missing) = router.route(JobRequest(queue: "nope"), vo: nil) else {
            Issue.record("expected a rejection"); return
        }
        #expect(missing.limits == "nope: no such queue")
    }

    @Test func defaultWalltimeAppliesPerQueue() throws {
        #expect(try router.route(JobRequest(queue: "grid"), vo: nil).get().walltime == 3600)
        #expect(try router.route(JobRequest(queue: "two-way"), vo: nil).get().walltime == 7200)
        #expect(try router.route(JobRequest(queue: "cms-long"), vo: "cms").get().walltime == 12 * 3600)
    }

    @Test func maximumWalltimeIsInclusive() throws {
        #expect(try router.route(JobRequest(queue: "one-way", walltime: 10 * 3600), vo: nil).get().queue == "one-way")
        #expect(throws: RoutingRejection.self) { try router.route(JobRequest(queue: "one-way", walltime: 10 * 3600 + 1), vo: nil).get() }
    }

    @Test func voRestrictionOnDirectSubmit() {
        let result = router.route(JobRequest(queue: "cms-long"), vo: "atlas")
        #expect(throws: RoutingRejection.self) { try result.get() }
        #expect(router.route(JobRequest(queue: "cms-long"), vo: nil).failureReason?.contains("users outside a VO") == true)
    }

    @Test func environmentAndCoresAreChecked() {
        #expect(router.route(JobRequest(queue: "one-way", environment: "el8"), vo: nil).failureReason
            == "environment el8 is not offered (offers: el9)")
        #expect(router.route(JobRequest(queue: "one-way", cores: 3), vo: nil).failureReason == "3 cores exceed the maximum of 2")
        #expect(router.route(JobRequest(queue: "nope"), vo: nil).failureReason == "no such queue")
    }

    @Test func environmentGrantedPerVO() throws {
        var config = exampleConfiguration()
        config.images[1].vos = ["atlas"]
        let router = QueueRouter(configuration: config)
        #expect(router.route(JobRequest(queue: "cms-long", environment: "el8"), vo: "cms").failureReason
            == "environment el8 is not granted to VO cms")
    }

    @Test func disabledQueueAndMaxQueued() throws {
        var config = exampleConfiguration()
        if case .execution(var q) = config.queues[1] {
            q.enabled = false
            config.queues[1] = .execution(q)
        }
        if case .execution(var q) = config.queues[2] {
            q.maxQueued = 3
            config.queues[2] = .execution(q)
        }
        let router = QueueRouter(configuration: config)
        // one-way is disabled, so a short job goes to two-way.
        #expect(try router.route(JobRequest(queue: "grid"), vo: nil).get().queue == "two-way")
        #expect(router.route(JobRequest(queue: "one-way"), vo: nil).failureReason == "queue is disabled")
        let full = router.route(JobRequest(queue: "two-way"), vo: nil, count: 2, queuedCount: { _ in 2 })
        #expect(full.failureReason == "queue is full (max_queued 3)")
    }
}

extension Result where Failure == RoutingRejection {
    var failureReason: String? {
        if case .failure(let r) = self { return r.reasons.first?.reason }
        return nil
    }
}
