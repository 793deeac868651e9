import Testing
import VBatchCore
@testable import VBatchDrivers

/// The SWF reader and how trace jobs become arrivals of a replay.
@Suite("SWF traces")
struct SWFTraceTests {
    /// One SWF job line; every field not given is -1.
    static func line(_ number: Int, submit: Int, run: Int, allocated: Int, requested: Int = -1, requestedTime: Int = -1,
                     status: Int = 1, user: Int = -1, group: Int = -1) -> String {
        "\(number) \(submit) -1 \(run) \(allocated) -1 -1 \(requested) \(requestedTime) -1 \(status) \(user) \(group) -1 -1 -1 -1 -1"
    }

    @Test func headerCommentsAndJobs() {
        let trace = SWFTrace(parsing: """
            ; Version: 2
            ; Computer: a machine: with colons
            ; MaxNodes: 256
            ; MaxProcs:   512\r
            ; Note: first
            ;   free text without a key
            ; Note: second
            ;
            \(Self.line(1, submit: 0, run: 12072, allocated: 16, user: 3, group: 1))

              \(Self.line(2, submit: 5, run: 2, allocated: 1))\r
            \t; an indented comment
            """)
        #expect(trace.skipped.isEmpty)
        #expect(trace.jobs.count == 2)
        #expect(trace.maxNodes == 256)
        #expect(trace.maxProcessors == 512)
        #expect(trace.header["Version"] == "2")
        #expect(trace.header["Computer"] == "a machine: with colons")
        #expect(trace.header["Note"] == "first\nsecond")
        let first = trace.jobs[0]
        #expect(first.number == 1 && first.submitTime == 0 && first.runTime == 12072)
        #expect(first.allocatedProcessors == 16 && first.processors == 16)
        #expect(first.userID == 3 && first.groupID == 1 && first.status == 1)
        #expect(first.waitTime == -1 && first.requestedTime == -1 && first.requestedMemoryKB == -1 && first.thinkTime == -1)
        #expect(first.line == 9)
        #expect(trace.jobs[1].line == 11)
    }

    @Test func everyFieldInOrder() throws {
        let trace = SWFTrace(parsing: "7 100 20 3600 8 3500.5 1024 16 7200 2048 0 12 4 9 2 1 6 30\n")
        let job = try #require(trace.jobs.first)
        #expect(job == SWFTrace.Job(
            number: 7, submitTime: 100, waitTime: 20, runTime: 3600, allocatedProcessors: 8, averageCPUTime: 3500.5,
            usedMemoryKB: 1024, requestedProcessors: 16, requestedTime: 7200, requestedMemoryKB: 2048, status: 0, userID: 12,
            groupID: 4, executable: 9, queue: 2, partition: 1, precedingJob: 6, thinkTime: 30, line: 1))
    }

    @Test func badLinesAreSkippedWithTheirLineNumbers() {
        let trace = SWFTrace(parsing: """
            ; MaxNodes: 4
            \(Self.line(1, submit: 0, run: 10, allocated: 1))
            2 10 -1 20 1
            3 x -1 20 1 -1 -1 -1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1
            4 30 -1 20 1.5 -1 -1 -1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1
            \(Self.line(5, submit: 40, run: -1, allocated: -1, status: 5))
            \(Self.line(6, submit: 50, run: 30, allocated: 0, requested: -1))
            \(Self.line(7, submit: 60, run: 30, allocated: -1, requested: 4))
            \(Self.line(8, submit: 70, run: 0, allocated: 2))
            \(Self.line(9, submit: 80, run: 5, allocated: 1)) 99
            9 -80 -1 5 1 -1 -1 -1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1
            10 90 -1 1e3 1 -1 -1 -1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1
            """)
        #expect(trace.jobs.map(\.number) == [1, 7, 8])
        #expect(trace.jobs.map(\.line) == [2, 8, 9])
        #expect(trace.skipped.map(\.description) == [
            "line 3: expected 18 fields, found 5",
            "line 4: field 2 is not a number: \"x\"",
            "line 5: field 5 must be a whole number, found 1.5",
            "line 6: run time -1: the job never ran (status 5)",
            "line 7: no processor count (allocated 0, requested -1)",
            "line 10: expected 18 fields, found 19",
            "line 11: submit time -80 is negative",
            "line 12: field 4 is not a number: \"1e3\"",
        ])
        #expect(trace.skipped.map(\.kind) == [.malformed, .malformed, .malformed, .neverRan, .noProcessors,
                                              .malformed, .malformed, .malformed])
        // Requested processors stand in when the log has no allocation.
        #expect(trace.jobs[1].processors == 4)
    }

    @Test func emptyAndNonTraceInput() {
        #expect(SWFTrace(parsing: "").jobs.isEmpty)
        #expect(SWFTrace(parsing: "\n\n; only comments\n").skipped.isEmpty)
        let text = SWFTrace(parsing: "[queue.grid]\ntype = \"routing\"\n")
        #expect(text.jobs.isEmpty)
        #expect(text.skipped.map(\.line) == [1, 2])
    }

    @Test func walltimeFromRequestOrRunTime() {
        func job(run: Double, requested: Double) -> SWFTrace.Job {
            SWFTrace(parsing: "1 0 -1 \(run) 1 -1 -1 -1 \(requested) -1 1 -1 -1 -1 -1 -1 -1 -1").jobs[0]
        }
        // The request wins when the log has one, even below the run time (killed at walltime).
        #expect(SWFTrace.walltime(for: job(run: 100, requested: 7200), factor: 1.5) == 7200)
        #expect(SWFTrace.walltime(for: job(run: 100, requested: 50.2), factor: 1.5) == 51)
        // Else run time × factor, rounded up to a whole minute, at least a minute.
        #expect(SWFTrace.walltime(for: job(run: 12072, requested: -1), factor: 1.5) == 18_120)  // 18,108 s → 302 min
        #expect(SWFTrace.walltime(for: job(run: 1200, requested: -1), factor: 1.5) == 1800)     // exact
        #expect(SWFTrace.walltime(for: job(run: 2, requested: -1), factor: 1.5) == 60)
        #expect(SWFTrace.walltime(for: job(run: 0, requested: 0), factor: 1.5) == 60)
        #expect(SWFTrace.walltime(for: job(run: 100, requested: -1), factor: 1) == 120)
    }

    @Test func arrivalsClampCoresAndNameUsers() {
        let trace = SWFTrace(parsing: [
            Self.line(1, submit: 100, run: 600, allocated: 128, user: 4, group: 2),
            Self.line(2, submit: 160, run: 30, allocated: 8, user: 5, group: 9),
            Self.line(3, submit: 200, run: 90, allocated: -1, requested: 2),
        ].joined(separator: "\n"))
        let site = Configuration(
            nodes: [NodeConfig(name: "wn1", slots: 32, memoryMB: 65536)],
            vos: [VOConfig(name: "cms", users: ["u4"]), VOConfig(name: "atlas", groups: ["g9"])],
            queues: [.execution(ExecutionQueue(name: "batch", environments: ["el9"], walltimeMax: 86_400, maxCores: 32))],
            images: [ImageConfig(name: "el9", kernel: "k")])
        #expect(trace.widerThan(32) == 1)

        let clamped = trace.arrivals(SWFTrace.ReplayOptions(queue: "batch", maxCores: 32), configuration: site)
        #expect(clamped.map(\.request.cores) == [32, 8, 2])
        #expect(clamped.map(\.request.walltime) == [900, 60, 180])
        #expect(clamped.map(\.request.queue) == ["batch", "batch", "batch"])
        #expect(clamped.allSatisfy { $0.request.memoryMB == nil && $0.request.environment == nil })
        #expect(clamped.map(\.time) == [100, 160, 200])
        #expect(clamped.map(\.runtime) == [600, 30, 90])
        // u<uid>; a job without a user id is a user of its own.
        #expect(clamped.map(\.user) == ["u4", "u5", "job3"])
        // VOs from the site file: by user name, then by group g<gid>.
        #expect(clamped.map(\.vo) == ["cms", "atlas", nil])

        let asLogged = trace.arrivals(SWFTrace.ReplayOptions(queue: "batch", walltimeFactor: 2, vo: "dteam"))
        #expect(asLogged.map(\.request.cores) == [128, 8, 2])
        #expect(asLogged.map(\.request.walltime) == [1200, 60, 180])
        #expect(asLogged.allSatisfy { $0.vo == "dteam" })
    }

    @Test func defaultQueueIsTheFirstRoutingQueueElseTheFirstExecutionQueue() {
        let images = [ImageConfig(name: "el9", kernel: "k")]
        let nodes = [NodeConfig(name: "wn1", slots: 4, memoryMB: 8192)]
        let short = QueueConfig.execution(ExecutionQueue(name: "short", environments: ["el9"], walltimeMax: 3600))
        let long = QueueConfig.execution(ExecutionQueue(name: "long", environments: ["el9"], walltimeMax: 86_400))
        let grid = QueueConfig.routing(RoutingQueue(name: "grid", destinations: ["short", "long"]))
        #expect(SWFTrace.defaultQueue(in: Configuration(nodes: nodes, queues: [short, long, grid], images: images)) == "grid")
        #expect(SWFTrace.defaultQueue(in: Configuration(nodes: nodes, queues: [long, short], images: images)) == "long")
        #expect(SWFTrace.defaultQueue(in: Configuration(nodes: nodes, queues: [], images: images)) == nil)
    }

    /// A small trace through routing, scheduling and the simulated driver: the report's
    /// waits, per-queue counts and rejections by limit.
    @Test func replayReport() {
        let site = Configuration(
            nodes: [NodeConfig(name: "wn1", slots: 4, memoryMB: 16384)],
            queues: [
                .routing(RoutingQueue(name: "grid", destinations: ["short", "long"])),
                .execution(ExecutionQueue(name: "short", priority: 10, environments: ["el9"], walltimeMax: 3600, maxCores: 4)),
                .execution(ExecutionQueue(name: "long", environments: ["el9"], walltimeMax: 86_400, maxCores: 2)),
            ],
            images: [ImageConfig(name: "el9", kernel: "k")])
        let trace = SWFTrace(parsing: [
            Self.line(1, submit: 0, run: 1000, allocated: 4),              // short, the whole node until 1000
            Self.line(2, submit: 10, run: 100, allocated: 2),              // short, waits 990
            Self.line(3, submit: 20, run: 5000, allocated: 2),             // long (7,500 s > 1 h), waits 1,080
            Self.line(4, submit: 30, run: 100, allocated: 8),              // rejected: cores
            Self.line(5, submit: 40, run: 100, allocated: 16),             // rejected: cores
            Self.line(6, submit: 50, run: 100_000, allocated: 4),          // rejected: walltime and cores
            Self.line(7, submit: 60, run: 600, allocated: 1, requestedTime: 300), // short, killed at 300 s
        ].joined(separator: "\n"))
        let report = SiteSimulation(configuration: site).run(trace.arrivals(SWFTrace.ReplayOptions(queue: "grid")))
        #expect(report.submitted == 7)
        #expect(report.rejected == 3)
        #expect(report.rejections == [
            "short: max_cores 4; long: max_cores 2": 2,
            "short: walltime_max 1h; long: max_cores 2": 1,
        ])
        #expect(report.commonestRejections.map(\.count) == [2, 1])
        #expect(report.queueJobs == ["short": 3, "long": 1])
        #expect(report.completed == 3)
        #expect(report.killedForWalltime == 1)
        #expect(report.neverStarted == 0)
        // Job 1 starts at once; at 1000 jobs 2 and 7 (short, priority 10) take three slots,
        // job 3 (long, 2 cores) starts when job 2 ends at 1100 and ends at 6100.
        #expect(report.started == 4)
        #expect(report.maxWait == 1080)
        #expect(report.medianWait == (940 + 990) / 2)
        #expect(report.p95Wait == 1080)
        #expect(report.meanWait == Double(0 + 990 + 940 + 1080) / 4)
        #expect(report.makespan == 6100)
        #expect(report.utilization == Double(4 * 1000 + 2 * 100 + 300 + 2 * 5000) / Double(4 * 6100))
    }
}
