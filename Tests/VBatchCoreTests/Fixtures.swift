import VBatchCore

/// The shipped example in miniature: `grid` routes to `one-way`, `two-way` and the
/// CMS-only `cms-long`.
func exampleConfiguration(nodes: Int = 2, slots: Int = 4, placement: SiteSettings.PlacementPolicy = .pack) -> Configuration {
    Configuration(
        site: SiteSettings(placement: placement),
        nodes: (1...nodes).map { NodeConfig(name: "wn\($0)", slots: slots, memoryMB: 8192) },
        vos: [VOConfig(name: "cms", share: 50, users: ["cms001"]), VOConfig(name: "atlas", share: 50, groups: ["atlas"])],
        queues: [
            .routing(RoutingQueue(name: "grid", destinations: ["one-way", "two-way", "cms-long"])),
            .execution(ExecutionQueue(name: "one-way", priority: 10, environments: ["el9"], walltimeMax: 10 * 3600,
                                      walltimeDefault: 3600, maxCores: 2, maxJobsPerNode: 1)),
            .execution(ExecutionQueue(name: "two-way", priority: 5, environments: ["el9"], walltimeMax: 24 * 3600,
                                      walltimeDefault: 7200, maxCores: 1, maxJobsPerNode: 2)),
            .execution(ExecutionQueue(name: "cms-long", priority: 1, environments: ["el9", "el8"], walltimeMax: 72 * 3600,
                                      walltimeDefault: 12 * 3600, maxCores: 2, vos: ["cms"])),
        ],
        images: [ImageConfig(name: "el9", kernel: "k"), ImageConfig(name: "el8", kernel: "k")]
    )
}

/// A scheduler plus a job-id counter, so tests read as a story.
struct Harness {
    var scheduler: Scheduler
    var nextID: Int64 = 1
    var now: Double = 1_000

    init(_ configuration: Configuration) {
        scheduler = Scheduler(configuration: configuration, now: 1_000)
    }

    /// Routes and queues a job; returns its id.
    @discardableResult
    mutating func submit(_ queue: String, cores: Int = 1, memoryMB: Int = 256, walltime: Int? = nil,
                         user: String = "alice", vo: String? = nil, env: String? = nil) throws -> Int64 {
        let routed = try QueueRouter(configuration: scheduler.configuration)
            .route(JobRequest(queue: queue, cores: cores, memoryMB: memoryMB, walltime: walltime, environment: env), vo: vo,
                   queuedCount: { scheduler.waitingCount(queue: scheduler.queue(named: $0)!) })
            .get()
        let id = nextID
        nextID += 1
        let job = scheduler.pendingJob(id: id, routed: routed, user: user, vo: vo, submitTime: now)!
        scheduler.enqueue(job)
        now += 1
        return id
    }

    mutating func cycle() -> CycleResult { scheduler.schedule(now: now) }

    /// Node name of every running job.
    func nodeOf(_ id: Int64) -> String? {
        scheduler.runningJob(id).map { scheduler.configuration.nodes[$0.node].name }
    }
}
