import Foundation
import Testing
@testable import VBatchConfig
import VBatchCore

/// `queues/q.toml` of the fixture with `extra` appended to `[queue.one-way]`, starting on line 10.
private func oneWay(_ extra: String) -> [String: String?] {
    ["queues/q.toml": ConfigFixture.queues + "\n" + extra]
}

/// Errors that need more than one table: dangling references and limits no node can meet.
@Suite struct DanglingReferenceTests {
    @Test func everyDanglingReferenceIsReported() throws {
        try ConfigFixture([
            "queues/q.toml": """
                [queue.grid]
                type = "routing"
                destinations = ["one-way", "two-wya", "grid2"]

                [queue.grid2]
                type = "routing"
                destinations = ["one-way"]

                [queue.one-way]
                type = "execution"
                environments = ["guest", "el9"]
                walltime_max = "10h"
                nodes = ["wn01", "wn99"]
                vos = ["cms", "atlsa"]
                """,
            "images/more.toml": "[image.el8]\nkernel = \"k\"\nvos = [\"lhcb\"]\n",
            "site.toml": ConfigFixture.site + "\n\n[node.wn02]\nuri = \"sim://\"\nslots = 2\nmemory = \"4gb\"\nenvironments = [\"el7\"]\n",
        ]).errorsMatch([
            ("queues/q.toml", 3, "queue.grid.destinations", "unknown queue two-wya"),
            ("queues/q.toml", 3, "queue.grid.destinations", "grid2 is a routing queue"),
            ("queues/q.toml", 11, "queue.one-way.environments", "unknown environment el9"),
            ("queues/q.toml", 13, "queue.one-way.nodes", "unknown node wn99"),
            ("queues/q.toml", 14, "queue.one-way.vos", "unknown VO atlsa"),
            ("images/more.toml", 3, "image.el8.vos", "unknown VO lhcb (defined: cms)"),
            ("site.toml", 13, "node.wn02.environments", "unknown environment el7 (did you mean el8?)"),
        ])
    }

    @Test func routingQueueWithEmptyDestinations() throws {
        try ConfigFixture(["queues/extra.toml": "[queue.x]\ntype = \"routing\"\ndestinations = []\n"])
            .expectSingleError(file: "queues/extra.toml", line: 3, key: "queue.x.destinations", message: "must not be empty")
    }
}

@Suite struct ImpossibleLimitTests {
    @Test func walltimeDefaultAboveMax() throws {
        try ConfigFixture(oneWay("walltime_default = \"11h\""))
            .expectSingleError(file: "queues/q.toml", line: 10, key: "queue.one-way.walltime_default",
                               message: "11h exceeds walltime_max (10h)")
    }

    @Test func defaultMemoryAboveMax() throws {
        try ConfigFixture(oneWay("max_memory = \"1gb\"\ndefault_memory = \"2gb\""))
            .expectSingleError(file: "queues/q.toml", line: 11, key: "queue.one-way.default_memory",
                               message: "2gb exceeds max_memory (1gb)")
    }

    @Test func maxCoresBelowOne() throws {
        try ConfigFixture(["queues/q.toml": ConfigFixture.queues.replacingOccurrences(of: "max_cores = 2", with: "max_cores = 0")])
            .expectSingleError(file: "queues/q.toml", line: 9, key: "queue.one-way.max_cores", message: "at least 1")
    }

    @Test func maxCoresAboveEveryNode() throws {
        try ConfigFixture(["queues/q.toml": ConfigFixture.queues.replacingOccurrences(of: "max_cores = 2", with: "max_cores = 5")])
            .expectSingleError(file: "queues/q.toml", line: 9, key: "queue.one-way.max_cores",
                               message: "5 cores exceed every node that serves this queue (largest: wn01 with 4)")
    }

    @Test func maxMemoryAboveEveryNode() throws {
        try ConfigFixture(oneWay("max_memory = \"16gb\""))
            .expectSingleError(file: "queues/q.toml", line: 10, key: "queue.one-way.max_memory",
                               message: "16gb exceeds the memory of every node")
    }

    @Test func countsBelowOne() throws {
        try ConfigFixture(oneWay("max_jobs_per_node = 0\nmax_running = 0\nmax_queued = 0\nmax_running_per_user = -1"))
            .errorsMatch([
                ("queues/q.toml", 10, "queue.one-way.max_jobs_per_node", "must be at least 1, not 0"),
                ("queues/q.toml", 11, "queue.one-way.max_running", "must be at least 1, not 0"),
                ("queues/q.toml", 12, "queue.one-way.max_queued", "must be at least 1, not 0"),
                ("queues/q.toml", 13, "queue.one-way.max_running_per_user", "must be at least 1, not -1"),
            ])
    }

    @Test func queueServedByNoNode() throws {
        try ConfigFixture([
            "images/other.toml": "[image.other]\nkernel = \"k\"\n",
            "site.toml": ConfigFixture.site.replacingOccurrences(of: "slots = 4", with: "slots = 4\nenvironments = [\"other\"]"),
        ]).expectSingleError(file: "queues/q.toml", line: 7, key: "queue.one-way.environments",
                             message: "no node serves this queue (none of wn01 allows any of its environments: guest)")
    }

    @Test func queueServedByNoNodeThroughItsNodeList() throws {
        var files = oneWay("nodes = [\"wn01\"]")
        files["images/other.toml"] = "[image.other]\nkernel = \"k\"\n"
        files["site.toml"] = ConfigFixture.site.replacingOccurrences(of: "slots = 4", with: "slots = 4\nenvironments = [\"other\"]")
        try ConfigFixture(files).expectSingleError(file: "queues/q.toml", line: 10, key: "queue.one-way.nodes",
                                                   message: "no node serves this queue")
    }

    @Test func nodeProblems() throws {
        try ConfigFixture(["site.toml": """
            [node.wn01]
            uri = "http://wn01/"
            cpus = "0-3,2"
            memory = "0"

            [node.wn02]
            uri = "qemu+ssh://wn02/system"
            cpus = "0-1"
            slots = 2
            memory = "4gb"
            domain_type = "xen"

            [node.wn03]
            uri = "wn03"
            cpus = "3-1"
            memory = "4gb"
            """]).errorsMatch([
                ("site.toml", 2, "node.wn01.uri", "unsupported URI scheme \"http\""),
                ("site.toml", 3, "node.wn01.cpus", "CPU 2 is listed twice"),
                ("site.toml", 4, "node.wn01.memory", "must be at least 1mb"),
                ("site.toml", 9, "node.wn02.slots", "give either cpus (a CPU list) or slots (a count), not both"),
                ("site.toml", 11, "node.wn02.domain_type", "\"xen\" is not one of \"qemu\", \"kvm\""),
                ("site.toml", 14, "node.wn03.uri", "is not a libvirt URI"),
                ("site.toml", 15, "node.wn03.cpus", "range 3-1 runs backwards"),
            ])
    }

    @Test func bootWithoutItsFile() throws {
        try ConfigFixture(["images/more.toml": """
            [image.k]
            boot = "kernel"
            initrd = "initrd.img"

            [image.d]
            boot = "disk"
            kernel = "vmlinuz"

            [image.x]
            disk = "x.img"
            format = "vmdk"
            sha256 = "abc"
            """]).errorsMatch([
                ("images/more.toml", 2, "image.k.kernel", "boot = \"kernel\" needs kernel = \"PATH\""),
                ("images/more.toml", 6, "image.d.disk", "boot = \"disk\" needs disk = \"PATH\""),
                ("images/more.toml", 11, "image.x.format", "\"vmdk\" is not one of \"qcow2\", \"raw\""),
                ("images/more.toml", 12, "image.x.sha256", "64 hexadecimal digits"),
            ])
    }
}

@Suite struct DefaultsAndResolutionTests {
    @Test func memoryDefaultsShrinkToTheLargestServingNode() throws {
        let f = try ConfigFixture(["site.toml": ConfigFixture.site.replacingOccurrences(of: "8gb", with: "768mb")])
        guard case .execution(let q)? = try f.load().queue(named: "one-way") else {
            Issue.record("one-way is not an execution queue")
            return
        }
        #expect(q.maxMemoryMB == 768)
        #expect(q.defaultMemoryMB == 768)
        #expect(q.walltimeDefault == q.walltimeMax)
        #expect(q.maxJobsPerNode == nil)
    }

    @Test func defaultMemoryAboveTheDefaultMax() throws {
        try ConfigFixture(oneWay("default_memory = \"4gb\""))
            .expectSingleError(file: "queues/q.toml", line: 10, key: "queue.one-way.default_memory",
                               message: "4gb exceeds max_memory (2gb, the default; set max_memory)")
    }

    @Test func imagePathsAreResolvedAgainstTheirFile() throws {
        let f = try ConfigFixture(["images/more.toml": """
            [image.el9]
            description = "AlmaLinux 9"
            disk = "disks/../el9.img"
            format = "raw"
            sha256 = "\(String(repeating: "AB", count: 32))"
            vos = ["cms"]

            [image.abs]
            kernel = "/boot/vmlinuz"
            initrd = "./initrd"
            """])
        let config = try f.load()
        let el9 = try #require(config.image(named: "el9"))
        #expect(el9.boot == .disk)
        #expect(el9.disk == f.path("images/el9.img"))
        #expect(el9.format == "raw")
        #expect(el9.sha256 == String(repeating: "ab", count: 32))
        #expect(el9.vos == ["cms"])
        let abs = try #require(config.image(named: "abs"))
        #expect(abs.boot == .kernel)
        #expect(abs.kernel == "/boot/vmlinuz")
        #expect(abs.initrd == f.path("images/initrd"))
        #expect(abs.format == "qcow2")
        #expect(config.images.map(\.name) == ["guest", "el9", "abs"])
    }

    @Test func integersAreSecondsAndMiB() throws {
        let f = try ConfigFixture(oneWay("walltime_default = 600\nmax_memory = 512"))
        guard case .execution(let q)? = try f.load().queue(named: "one-way") else {
            Issue.record("one-way is not an execution queue")
            return
        }
        #expect(q.walltimeDefault == 600)
        #expect(q.maxMemoryMB == 512)
        #expect(q.defaultMemoryMB == 512)
    }

    @Test func siteFileChoice() throws {
        let f = try ConfigFixture([
            "site.toml": nil,
            "queues/site.toml": ConfigFixture.site + "\n[site]\nname = \"in-queues\"\n",
        ])
        // queues/site.toml is the site file, not a queue file.
        #expect(try f.load().site.name == "in-queues")
        #expect(try f.load().queues.map(\.name) == ["grid", "one-way"])
        // DIR/site.toml wins over queues/site.toml.
        try f.write("site.toml", ConfigFixture.site + "\n[site]\nname = \"top\"\n")
        #expect(try f.load().site.name == "top")
        // An explicit site file wins over both.
        try f.write("elsewhere/mine.toml", ConfigFixture.site + "\n[site]\nname = \"mine\"\nplacement = \"spread\"\n")
        let explicit = try f.load(siteFile: f.path("elsewhere/mine.toml"))
        #expect(explicit.site.name == "mine")
        #expect(explicit.site.placement == .spread)
    }

    @Test func errorsInAnExplicitSiteFileNameIt() throws {
        let f = try ConfigFixture()
        try f.write("other.toml", "[node.wn01]\nuri = \"sim://\"\nslots = 2\nmemory = \"1gb\"\nmemroy = 3\n")
        let errors = f.errors(siteFile: f.path("other.toml"))
        #expect(errors.map(\.description) == ["\(f.path("other.toml")):5: node.wn01.memroy: unknown key (did you mean memory?)"])
    }
}

@Suite struct ManyErrorsTests {
    @Test func allErrorsOfAllFilesAreReportedAtOnce() throws {
        let f = try ConfigFixture([
            "queues/q.toml": """
                [queue.grid]
                type = "routing"
                destinations = ["one-way", "nowhere"]

                [queue.one-way]
                type = "execution"
                walltime_mx = "5h"
                environments = ["guest"]
                walltime_max = "10h"
                """,
            "queues/broken.toml": "[queue.b]\ntype = \n",
            "images/guest.toml": "[image.guest]\nkernel = \"vmlinuz\"\nmemory = \"lots\"\n",
            "site.toml": ConfigFixture.site + "\n[vo.atlas]\nshare = -1\n",
        ])
        f.errorsMatch([
            ("queues/broken.toml", 2, "", "TOML syntax error"),
            ("queues/q.toml", 3, "queue.grid.destinations", "unknown queue nowhere"),
            ("queues/q.toml", 7, "queue.one-way.walltime_mx", "unknown key"),
            ("images/guest.toml", 3, "image.guest.memory", "not a memory size"),
            ("site.toml", 9, "vo.atlas.share", "greater than 0"),
        ])
        do {
            _ = try f.load()
        } catch let errors as ConfigErrors {
            let lines = errors.description.split(separator: "\n")
            #expect(lines.count == 5)
            #expect(lines[2] == "\(f.path("queues/q.toml")):7: queue.one-way.walltime_mx: unknown key (did you mean walltime_max?)")
        }
    }

    @Test func errorDescription() {
        #expect(ConfigError(file: "q.toml", line: 3, key: "queue.a.type", message: "bad").description == "q.toml:3: queue.a.type: bad")
        #expect(ConfigError(file: "q.toml", line: 3, key: "", message: "bad").description == "q.toml:3: bad")
        #expect(ConfigError(file: "site.toml", line: 0, key: "", message: "site file not found").description
            == "site.toml: site file not found")
    }
}

@Suite struct SiteFileInsideQueuesTests {
    @Test func anExplicitSiteFileInQueuesIsNotAQueueFile() throws {
        let f = try ConfigFixture(["site.toml": nil, "queues/my-site.toml": ConfigFixture.site])
        #expect(try f.load(siteFile: f.path("queues/my-site.toml")).nodes.map(\.name) == ["wn01"])
    }

    @Test func errorsReadWellAsLocalizedErrors() throws {
        let f = try ConfigFixture(["site.toml": nil])
        do {
            _ = try f.load()
            Issue.record("loaded without a site file")
        } catch {
            #expect(error.localizedDescription.hasSuffix("site file not found (looked for site.toml in \(f.directory) and in \(f.directory)/queues)"))
        }
    }
}

@Suite struct PoolConfigTests {
    @Test func poolIsLoaded() throws {
        let config = try ConfigFixture(["site.toml": ConfigFixture.site + """


            [pool.guest-small]
            environment = "guest"
            size = 2
            memory = "256mb"
            """]).load()
        #expect(config.pools == [PoolConfig(name: "guest-small", environment: "guest", size: 2, cores: 1, memoryMB: 256)])
    }

    @Test func poolErrorsNameLineAndKey() throws {
        try ConfigFixture(["site.toml": ConfigFixture.site + """


            [pool.big]
            environment = "guset"
            nodes = ["wn01"]
            size = 3
            cores = 2
            memory = "256mb"
            colour = "blue"
            """]).errorsMatch([
            ("site.toml", 10, "pool.big.environment", "unknown environment guset"),
            ("site.toml", 12, "pool.big.size", "3 VMs of 2 cores and 256mb fit on none of its nodes"),
            ("site.toml", 15, "pool.big.colour", "unknown key"),
        ])
    }
}

/// `preempts` names execution queues of lower priority; `preempt_mode` needs it.
@Suite struct PreemptionConfigTests {
    static let queues = """
        [queue.high]
        type = "execution"
        priority = 10
        environments = ["guest"]
        walltime_max = "1h"
        preempts = ["low", "equal", "grid", "nosuch", "high"]

        [queue.low]
        type = "execution"
        environments = ["guest"]
        walltime_max = "1h"
        preempt_mode = "requeue"

        [queue.equal]
        type = "execution"
        priority = 10
        environments = ["guest"]
        walltime_max = "1h"
        """

    @Test func preemptsOnlyLowerPriorityExecutionQueues() throws {
        try ConfigFixture(["queues/p.toml": Self.queues]).errorsMatch([
            ("queues/p.toml", 6, "queue.high.preempts", "equal has priority 10, not lower than this queue's 10"),
            ("queues/p.toml", 6, "queue.high.preempts", "grid is a routing queue"),
            ("queues/p.toml", 6, "queue.high.preempts", "unknown queue nosuch"),
            ("queues/p.toml", 6, "queue.high.preempts", "a queue cannot preempt itself"),
            ("queues/p.toml", 12, "queue.low.preempt_mode", "has no effect without preempts"),
        ])
    }

    @Test func aValidPreemptingQueueLoads() throws {
        let queues = Self.queues.replacingOccurrences(of: "[\"low\", \"equal\", \"grid\", \"nosuch\", \"high\"]", with: "[\"low\"]\npreempt_mode = \"cancel\"")
            .replacingOccurrences(of: "preempt_mode = \"requeue\"\n", with: "")
        let configuration = try ConfigFixture(["queues/p.toml": queues]).load()
        let high = try #require(configuration.executionQueues.first { $0.name == "high" })
        #expect(high.preempts == ["low"] && high.preemptMode == .cancel)
    }
}
