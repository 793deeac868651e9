import Testing
import VBatchCore
import VBatchDrivers

/// The scheduler core on the simulated driver, at the scale the design asks for.
@Suite("Simulated sites")
struct SimulationTests {
    @Test func tenThousandNodeSiteRunsEveryJob() {
        let nodes = 10_000
        let configuration = Configuration(
            nodes: (0..<nodes).map { NodeConfig(name: "wn\($0)", slots: 32, memoryMB: 256 * 1024) },
            queues: [.execution(ExecutionQueue(name: "whole", environments: ["el9"], walltimeMax: 3600, maxCores: 32,
                                               maxMemoryMB: 4096))],
            images: [ImageConfig(name: "el9", kernel: "k")])
        // 15,000 whole-node jobs at once: 10,000 start, the rest wait for nodes to free up.
        let arrivals = (0..<15_000).map { i in
            SiteSimulation.Arrival(time: 0, request: JobRequest(queue: "whole", cores: 32, walltime: 3600),
                                   user: "u\(i % 50)", runtime: [600, 1200, 1800][i % 3])
        }
        var maxRunning = 0
        let report = SiteSimulation(configuration: configuration).run(arrivals) { scheduler in
            maxRunning = max(maxRunning, scheduler.runningCount)
        }
        #expect(report.submitted == 15_000)
        #expect(report.completed == 15_000)
        #expect(report.neverStarted == 0 && report.rejected == 0 && report.killedForWalltime == 0)
        #expect(maxRunning == nodes)
        // 3,334 nodes free at t=600 take jobs 10,000…13,333; 1,666 of those freed at t=1200
        // take the rest, whose longest (1,800 s) ends at 3,000.
        #expect(report.makespan == 3000)
    }

    @Test func walltimeOverrunsAreKilledAndRejectionsCounted() {
        let configuration = Configuration(
            nodes: [NodeConfig(name: "wn1", slots: 4, memoryMB: 8192)],
            queues: [.execution(ExecutionQueue(name: "short", environments: ["el9"], walltimeMax: 100, maxCores: 4))],
            images: [ImageConfig(name: "el9", kernel: "k")])
        let report = SiteSimulation(configuration: configuration).run([
            .init(time: 0, request: JobRequest(queue: "short", walltime: 50), user: "a", runtime: 10),
            .init(time: 0, request: JobRequest(queue: "short", walltime: 50), user: "a", runtime: 500),
            .init(time: 5, request: JobRequest(queue: "short", walltime: 500), user: "a", runtime: 1),
        ])
        #expect(report.completed == 1)
        #expect(report.killedForWalltime == 1)
        #expect(report.rejected == 1)
        #expect(report.makespan == 50)
    }
}
