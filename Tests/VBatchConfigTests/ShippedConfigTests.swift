import Foundation
import Testing
import VBatchConfig
import VBatchCore

/// The example configuration shipped in the repository's `queues/` and `images/`.
@Suite struct ShippedConfigTests {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    let config: Configuration

    init() throws {
        config = try ConfigLoader.load(directory: Self.repoRoot)
    }

    func execution(_ name: String) throws -> ExecutionQueue {
        guard case .execution(let queue)? = config.queue(named: name) else {
            throw ExpectedExecutionQueue(name: name)
        }
        return queue
    }

    struct ExpectedExecutionQueue: Error { var name: String }

    @Test func queuesInFileOrder() {
        #expect(config.queues.map(\.name) == ["cms-long", "grid", "one-way", "two-way"])
        #expect(config.executionQueues.map(\.name) == ["cms-long", "one-way", "two-way"])
    }

    @Test func gridRoutesToTheThreeExecutionQueues() {
        #expect(config.queue(named: "grid") == .routing(RoutingQueue(
            name: "grid", destinations: ["one-way", "two-way", "cms-long"], enabled: true,
            description: "Entry point for the grid CE")))
    }

    @Test func oneWay() throws {
        let q = try execution("one-way")
        #expect(q.maxJobsPerNode == 1)
        #expect(q.walltimeMax == 10 * 3600)
        #expect(q.walltimeDefault == 3600)
        #expect(q.maxCores == 2)
        #expect(q.priority == 10)
        #expect(q.environments == ["testguest"])
        #expect(q.maxMemoryMB == 2048)
        #expect(q.defaultMemoryMB == 256)
        #expect(q.maxRunning == 100 && q.maxQueued == 10000 && q.maxRunningPerUser == 50)
        #expect(q.vos == nil && q.nodes == nil)
        #expect(q.enabled && q.started)
    }

    @Test func twoWay() throws {
        let q = try execution("two-way")
        #expect(q.maxJobsPerNode == 2)
        #expect(q.walltimeMax == 24 * 3600)
        #expect(q.walltimeDefault == 2 * 3600)
        #expect(q.maxCores == 1)
        #expect(q.priority == 5)
        #expect(q.environments == ["testguest"])
    }

    @Test func cmsLong() throws {
        let q = try execution("cms-long")
        #expect(q.vos == ["cms"])
        #expect(q.walltimeMax == 72 * 3600)
        #expect(q.walltimeDefault == 12 * 3600)
        #expect(q.maxCores == 2)
        #expect(q.priority == 1)
        #expect(q.maxJobsPerNode == nil)
    }

    @Test func site() {
        #expect(config.site.name == "example")
        #expect(config.site.placement == .pack)
        #expect(config.site.operators == ["root"])
        #expect(config.nodes == [NodeConfig(name: "localhost", uri: "qemu:///system", cpus: [0, 1], memoryMB: 4096)])
        #expect(config.vos == [
            VOConfig(name: "cms", share: 40, users: ["cms001"], groups: ["cms"]),
            VOConfig(name: "atlas", share: 40, groups: ["atlas"]),
            VOConfig(name: "dteam", share: 20, groups: ["dteam"]),
        ])
        #expect(config.vo(forUser: "cms001", groups: []) == "cms")
        #expect(config.vo(forUser: "someone", groups: ["atlas"]) == "atlas")
    }

    @Test func testguestImageWithAbsolutePaths() throws {
        let image = try #require(config.image(named: "testguest"))
        let images = Self.repoRoot + "/images"
        #expect(image.boot == .kernel)
        #expect(image.kernel == images + "/testguest/out/vmlinuz")
        #expect(image.initrd == images + "/testguest/out/initrd.img")
        #expect(image.disk == nil)
        #expect(image.cmdline == "console=ttyS0 quiet panic=-1 cryptomgr.notests")
        #expect(image.memoryMB == 256)
        #expect(image.description == "Tiny busybox guest built from Debian packages (images/testguest)")
    }

    @Test func routerAcceptsAndRejectsAsDescribed() {
        let router = QueueRouter(configuration: config)
        let short = router.route(JobRequest(queue: "grid", walltime: 3600), vo: "atlas")
        #expect((try? short.get())?.queue == "one-way")
        let long = router.route(JobRequest(queue: "grid", walltime: 48 * 3600), vo: "cms")
        #expect((try? long.get())?.queue == "cms-long")
        let atlasLong = router.route(JobRequest(queue: "grid", walltime: 48 * 3600), vo: "atlas")
        #expect((try? atlasLong.get()) == nil)
    }
}
