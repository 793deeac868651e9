import Foundation
import Testing

/// `vbatch simulate` end to end: the real `vbatch` execs `vbatch-simulate`, which loads a
/// configuration directory with the shipped queues, catalogue and site file (whose only
/// node is a libvirt host: the replay runs it simulated) and replays an inline trace.
@Suite("vbatch simulate")
struct SimulateCommandTests {
    /// A configuration directory as an operator has it: queues/*.toml with the shipped site
    /// file (queues/site.toml: one node `localhost`, qemu:///system, 2 CPUs, 4gb) and the
    /// test guest's catalogue entry.
    final class Site {
        let root: String
        var config: String { root + "/config" }
        var trace: String { root + "/trace.swf" }

        init(trace text: String) throws {
            root = NSTemporaryDirectory() + "vbatch-simulate-\(UUID().uuidString.prefix(8))"
            let files = FileManager.default
            try files.createDirectory(atPath: config + "/queues", withIntermediateDirectories: true)
            try files.createDirectory(atPath: config + "/images", withIntermediateDirectories: true)
            let repository = DaemonHarness.repository
            for name in try files.contentsOfDirectory(atPath: repository + "/queues") where name.hasSuffix(".toml") {
                try files.copyItem(atPath: repository + "/queues/" + name, toPath: config + "/queues/" + name)
            }
            try files.copyItem(atPath: repository + "/images/testguest.toml", toPath: config + "/images/testguest.toml")
            try text.write(toFile: trace, atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func simulate(_ arguments: [String]) throws -> CommandResult {
            try DaemonHarness.run(DaemonHarness.binaries + "/vbatch", ["simulate"] + arguments,
                                  environment: ["VBATCH_CONFIG": config], stdin: nil)
        }

        func json(_ arguments: [String]) throws -> [String: Any] {
            let result = try simulate(arguments + ["--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
            return try #require(object as? [String: Any])
        }
    }

    /// The shipped grid queue routes to one-way (≤ 2 cores, ≤ 10 h, one job per node),
    /// two-way (1 core, ≤ 24 h, two per node) and cms-long (CMS only, ≤ 72 h); the node has 2 CPUs.
    static let trace = """
        ; Version: 2
        ; MaxNodes: 2
        1 0 -1 100 1 -1 -1 -1 -1 -1 1 7 3 -1 -1 -1 -1 -1
        2 10 -1 50 1 -1 -1 -1 -1 -1 1 7 3 -1 -1 -1 -1 -1
        3 20 -1 -1 -1 -1 -1 1 -1 -1 5 7 3 -1 -1 -1 -1 -1
        this is not a job
        5 30 -1 40000 1 -1 -1 -1 -1 -1 1 8 3 -1 -1 -1 -1 -1
        6 40 -1 100 4 -1 -1 -1 -1 -1 1 8 3 -1 -1 -1 -1 -1
        7 50 -1 200000 1 -1 -1 -1 -1 -1 1 8 3 -1 -1 -1 -1 -1
        8 60 -1 500 8 -1 -1 -1 -1 -1 1 9 3 -1 -1 -1 -1 -1
        9 70 -1 600 1 -1 -1 -1 300 -1 1 9 3 -1 -1 -1 -1 -1

        """

    @Test func replaysTheShippedQueuesOnTheShippedNode() throws {
        let site = try Site(trace: Self.trace)
        let report = try site.json([site.trace])
        #expect(report["jobs_read"] as? Int == 7)
        #expect(report["lines_skipped"] as? Int == 2)
        let skipped = try #require(report["skipped"] as? [[String: Any]])
        #expect(skipped.map { $0["line"] as? Int } == [5, 6])
        #expect(skipped.map { $0["kind"] as? String } == ["never ran", "malformed"])
        #expect(report["site"] as? String == "example")
        #expect(report["nodes"] as? Int == 1 && report["slots"] as? Int == 2)
        #expect(report["queue"] as? String == "grid")
        #expect(report["submitted"] as? Int == 7)
        // Jobs 6 and 8 are wider than any queue allows, job 7's walltime (200,000 s × 1.5) longer.
        #expect(report["rejected"] as? Int == 3)
        let rejections = try #require(report["rejections"] as? [[String: Any]])
        #expect(rejections.map { $0["limits"] as? String } == [
            "one-way: max_cores 2; two-way: max_cores 1; cms-long: vos cms",
            "one-way: walltime_max 10h; two-way: walltime_max 1d; cms-long: vos cms",
        ])
        #expect(rejections.map { $0["count"] as? Int } == [2, 1])
        #expect(report["queue_jobs"] as? [String: Int] == ["one-way": 3, "two-way": 1])
        // 1 starts at 0 and ends at 100; 2 waits for one-way's node (one job per node) until
        // 100; 5 (two-way) starts at 30 on the second CPU, backfilled past 2's reservation,
        // and runs to 40,030; 9 waits for 2 to end at 150 and is killed at its requested 300 s.
        #expect(report["started"] as? Int == 4)
        #expect(report["completed"] as? Int == 3)
        #expect(report["killed_for_walltime"] as? Int == 1)
        #expect(report["never_started"] as? Int == 0)
        #expect(report["backfilled"] as? Int == 1)
        #expect(report["makespan"] as? Double == 40_030)
        #expect(report["mean_wait"] as? Double == 42.5)
        #expect(report["median_wait"] as? Double == 40)
        #expect(report["p95_wait"] as? Double == 90)
        #expect(report["max_wait"] as? Double == 90)
        let utilization = try #require(report["utilization"] as? Double)
        #expect(abs(utilization - Double(100 + 40_000 + 50 + 300) / Double(2 * 40_030)) < 1e-12)
        #expect(report["pools_not_modelled"] as? Int == 0)
        #expect((report["replay_seconds"] as? Double ?? -1) >= 0)
    }

    @Test func clampingVOAndWalltimeFactor() throws {
        let site = try Site(trace: Self.trace)
        let report = try site.json([site.trace, "--max-cores", "2", "--vo", "cms", "--walltime-factor", "1", "--queue", "grid"])
        #expect(report["max_cores"] as? Int == 2)
        #expect(report["clamped"] as? Int == 2)
        #expect(report["walltime_factor"] as? Double == 1)
        #expect(report["rejected"] as? Int == 0)
        // Job 7 now asks for 200,040 s: only CMS's long queue takes it.
        #expect(report["queue_jobs"] as? [String: Int] == ["one-way": 5, "two-way": 1, "cms-long": 1])
        #expect(report["completed"] as? Int == 6)
        #expect(report["killed_for_walltime"] as? Int == 1)
    }

    @Test func textReport() throws {
        let site = try Site(trace: Self.trace)
        let result = try site.simulate([site.trace, "--config", site.config])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "trace        \(site.trace): 7 jobs read, 2 lines skipped; header MaxNodes 2")
        #expect(lines.contains("             skipped line 5: run time -1: the job never ran (status 5)"))
        #expect(lines.contains("             skipped line 6: field 1 is not a number: \"this\""))
        #expect(lines.contains("site         example: 1 node, 2 slots, all simulated; jobs to queue grid"))
        #expect(lines.contains("jobs         7 submitted, 3 rejected, 4 started (3 completed, 1 killed at walltime), 0 never started"))
        #expect(lines.contains("rejected     2  one-way: max_cores 2; two-way: max_cores 1; cms-long: vos cms"))
        #expect(lines.contains("queues       one-way 3, two-way 1"))
        #expect(lines.contains("makespan     11h7m10s (40030 s)"))
        #expect(lines.contains("wait         mean 43s, median 40s, p95 1m30s, max 1m30s"))
        #expect(lines.contains { $0.hasPrefix("wall time    ") && $0.hasSuffix(" scheduling cycles)") })
    }

    @Test func errorsAreOneLineEach() throws {
        let site = try Site(trace: Self.trace)
        let missing = try site.simulate([site.root + "/nope.swf"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "vbatch: error: cannot read trace \(site.root)/nope.swf\n")

        let queue = try site.simulate([site.trace, "--queue", "express"])
        #expect(queue.status == 1)
        #expect(queue.stderr == "vbatch: error: no queue express in the configuration (defined: cms-long, grid, one-way, two-way)\n")

        let vo = try site.simulate([site.trace, "--vo", "lhcb"])
        #expect(vo.stderr == "vbatch: error: no VO lhcb in the site file (defined: cms, atlas, dteam)\n")

        try "; nothing but comments\nnot a job\n".write(toFile: site.trace, atomically: true, encoding: .utf8)
        let empty = try site.simulate([site.trace])
        #expect(empty.status == 1)
        #expect(empty.stderr == "vbatch: error: no jobs in \(site.trace): 1 line(s) skipped "
            + "(line 2: field 1 is not a number: \"not\")\n")

        // Configuration errors name file, line and key, as vbatchd --check does.
        try "[queue.broken]\ntype = \"execution\"\n".write(toFile: site.config + "/queues/broken.toml", atomically: true,
                                                           encoding: .utf8)
        let broken = try site.simulate([site.trace])
        #expect(broken.status == 1)
        #expect(broken.stderr.hasPrefix("vbatch: error: \(site.config)/queues/broken.toml:1: "))

        // Arguments are checked by vbatch before vbatch-simulate runs.
        let badCores = try site.simulate([site.trace, "--max-cores", "0"])
        #expect(badCores.status != 0)
        #expect(badCores.stderr.contains("--max-cores must be at least 1"))
        let badFactor = try site.simulate([site.trace, "--walltime-factor", "0"])
        #expect(badFactor.status != 0)
        #expect(badFactor.stderr.contains("--walltime-factor must be a number above 0"))
    }
}
