import Foundation
import Testing

/// `vbatch simulate --jobs` on small hand-made traces whose EASY schedule is worked out here
/// by hand: one node of 4 slots, one FIFO execution queue, one user (so fair share orders
/// nothing), walltimes as requested in the trace (SWF field 9).
@Suite("vbatch simulate: per-job results")
struct SimulateScheduleTests {
    /// A configuration directory with one execution queue `batch` and one simulated node.
    final class Site {
        let root: String
        var config: String { root + "/config" }
        var trace: String { root + "/trace.swf" }
        var csv: String { root + "/jobs.csv" }

        init(trace lines: [String], slots: Int = 4, maxCores: Int? = nil, extraSite: String = "") throws {
            root = NSTemporaryDirectory() + "vbatch-schedule-\(UUID().uuidString.prefix(8))"
            let files = FileManager.default
            try files.createDirectory(atPath: config + "/queues", withIntermediateDirectories: true)
            try files.createDirectory(atPath: config + "/images", withIntermediateDirectories: true)
            try files.copyItem(atPath: DaemonHarness.repository + "/images/testguest.toml",
                               toPath: config + "/images/testguest.toml")
            try """
                [site]
                name = "hand"
                [node.wn1]
                uri = "sim://"
                slots = \(slots)
                memory = "64gb"
                \(extraSite)
                """.write(toFile: config + "/queues/site.toml", atomically: true, encoding: .utf8)
            try """
                [queue.batch]
                type = "execution"
                environments = ["testguest"]
                walltime_max = "1d"
                default_memory = "1gb"
                max_cores = \(maxCores ?? slots)
                """.write(toFile: config + "/queues/batch.toml", atomically: true, encoding: .utf8)
            try (lines.joined(separator: "\n") + "\n").write(toFile: trace, atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        /// Runs the replay with `--jobs`; the rows by trace id.
        func jobs(_ arguments: [String] = []) throws -> [Int: [String: String]] {
            let result = try DaemonHarness.run(DaemonHarness.binaries + "/vbatch",
                                               ["simulate", trace, "--config", config, "--jobs", csv] + arguments,
                                               environment: [:], stdin: nil)
            #expect(result.status == 0, "\(result.stderr)")
            let text = try String(contentsOfFile: csv, encoding: .utf8)
            let rows = text.split(separator: "\r\n").map { CSV.fields(String($0)) }
            let header = try #require(rows.first)
            #expect(header == ["trace_id", "queue", "vo", "cores", "submit", "start", "end", "wait", "bounded_slowdown",
                               "backfilled", "outcome", "reason"])
            var byID: [Int: [String: String]] = [:]
            for row in rows.dropFirst() {
                let fields = Dictionary(uniqueKeysWithValues: zip(header, row))
                byID[Int(fields["trace_id"] ?? "") ?? -1] = fields
            }
            return byID
        }
    }

    /// An SWF line: job `id` submitted at `submit` asking for `cores` and `walltime`, running `run`.
    static func job(_ id: Int, submit: Int, run: Int, cores: Int, walltime: Int) -> String {
        "\(id) \(submit) -1 \(run) \(cores) -1 -1 \(cores) \(walltime) -1 1 1 1 -1 -1 -1 -1 -1"
    }

    static func starts(_ jobs: [Int: [String: String]]) -> [Int: String] { jobs.mapValues { $0["start"] ?? "?" } }

    /// 1 holds 3 of 4 slots until 100. 2 needs all 4: the head job, reserved at 100. 3 (1 core
    /// for 200 s) fits now but would end at 202, after the reservation, and the reservation
    /// leaves no spare slot: it must wait, and starts when 2 ends at 150. 4 (1 core, at most
    /// 90 s) ends by 93 at the latest: backfilled at once, in the slot 3 could not take.
    @Test func reservationRespectedAndBackfillThatCannotDelayTheHead() throws {
        let site = try Site(trace: [
            Self.job(1, submit: 0, run: 100, cores: 3, walltime: 100),
            Self.job(2, submit: 1, run: 50, cores: 4, walltime: 50),
            Self.job(3, submit: 2, run: 200, cores: 1, walltime: 200),
            Self.job(4, submit: 3, run: 50, cores: 1, walltime: 90),
        ])
        let jobs = try site.jobs()
        #expect(Self.starts(jobs) == [1: "0", 2: "100", 3: "150", 4: "3"])
        #expect(jobs.mapValues { $0["backfilled"] } == [1: "0", 2: "0", 3: "0", 4: "1"])
        #expect(jobs.mapValues { $0["end"] } == [1: "100", 2: "150", 3: "350", 4: "53"])
        #expect(jobs.mapValues { $0["wait"] } == [1: "0", 2: "99", 3: "148", 4: "0"])
        // Bounded slowdown (τ = 10 s): 2 waited 99 s for a 50 s run: (99 + 50) / 50.
        #expect(jobs[2]?["bounded_slowdown"] == "2.9800")
        #expect(jobs.values.allSatisfy { $0["outcome"] == "completed" && $0["queue"] == "batch" && $0["reason"] == "" })
    }

    /// A backfill candidate that would delay the head job by one second is held back: 3 asks
    /// for 98 s at 3 and would end at 101, one second past 2's reservation at 100.
    @Test func oneSecondTooLongIsNotBackfilled() throws {
        let site = try Site(trace: [
            Self.job(1, submit: 0, run: 100, cores: 3, walltime: 100),
            Self.job(2, submit: 1, run: 50, cores: 4, walltime: 50),
            Self.job(3, submit: 3, run: 10, cores: 1, walltime: 98),
        ])
        #expect(Self.starts(try site.jobs()) == [1: "0", 2: "100", 3: "150"])
        let fits = try Site(trace: [
            Self.job(1, submit: 0, run: 100, cores: 3, walltime: 100),
            Self.job(2, submit: 1, run: 50, cores: 4, walltime: 50),
            Self.job(3, submit: 3, run: 10, cores: 1, walltime: 97),
        ])
        #expect(Self.starts(try fits.jobs()) == [1: "0", 2: "100", 3: "3"])
    }

    /// A job whose run time is 0 frees its slots at time zero: the next full-width job starts
    /// at 0 too, and the one after it when that ends. A bounded slowdown of a 0 s run is
    /// (wait + 0) / τ, at least 1.
    @Test func aJobThatFreesItsSlotsAtTimeZero() throws {
        let site = try Site(trace: [
            Self.job(1, submit: 0, run: 0, cores: 4, walltime: 60),
            Self.job(2, submit: 0, run: 30, cores: 4, walltime: 60),
            Self.job(3, submit: 0, run: 5, cores: 4, walltime: 60),
        ])
        let jobs = try site.jobs()
        #expect(Self.starts(jobs) == [1: "0", 2: "0", 3: "30"])
        #expect(jobs[1]?["bounded_slowdown"] == "1.0000" && jobs[3]?["bounded_slowdown"] == "3.5000")
    }

    /// Refused, killed and never-started jobs are rows too, with why; the report's per-queue
    /// metrics and the rows agree. wn2 (8 slots) is drained: a job of 8 cores is accepted (a
    /// node of the queue could hold it) but never starts; one of 16 is refused.
    @Test func everyOutcomeIsARowWithItsReason() throws {
        let site = try Site(trace: [
            Self.job(1, submit: 0, run: 100, cores: 1, walltime: 40),
            Self.job(2, submit: 0, run: 10, cores: 1, walltime: 200_000),
            Self.job(3, submit: 0, run: 10, cores: 8, walltime: 60),
            Self.job(4, submit: 0, run: 10, cores: 16, walltime: 60),
        ], maxCores: 8, extraSite: "[node.wn2]\nuri = \"sim://\"\nslots = 8\nmemory = \"64gb\"\nenabled = false\n")
        let jobs = try site.jobs()
        #expect(jobs[1]?["outcome"] == "killed" && jobs[1]?["reason"] == "walltime of 40s exceeded" && jobs[1]?["end"] == "40")
        #expect(jobs[2]?["outcome"] == "refused" && jobs[2]?["reason"] == "batch: walltime_max 1d" && jobs[2]?["queue"] == "")
        #expect(jobs[3]?["outcome"] == "never-started" && jobs[3]?["reason"] == "no node can hold it"
            && jobs[3]?["start"] == "")
        #expect(jobs[4]?["outcome"] == "refused" && jobs[4]?["reason"] == "batch: max_cores 8")

        let result = try DaemonHarness.run(DaemonHarness.binaries + "/vbatch", ["simulate", site.trace, "--config", site.config, "--json"],
                                           environment: [:], stdin: nil)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let batch = try #require((report["by_queue"] as? [String: [String: Any]])?["batch"])
        #expect(batch["jobs"] as? Int == 2 && batch["started"] as? Int == 1)
        // The trace is wider than the widest node (8 slots): said, with the count.
        #expect(report["widest_node"] as? Int == 8 && report["wider_than_widest_node"] as? Int == 1)
        let text = try DaemonHarness.run(DaemonHarness.binaries + "/vbatch", ["simulate", site.trace, "--config", site.config],
                                         environment: [:], stdin: nil).stdout
        #expect(text.contains("1 jobs wider than the widest node (8 slots): refused (a VM never spans nodes); "
            + "--max-cores 8 runs them on one node"), "\(text)")
        #expect(report["slowdown_threshold"] as? Double == 10)
        #expect(report["mean_bounded_slowdown"] as? Double == 1)
    }

    /// Six jobs of 4 cores for 100 s, all at 0: on 4 slots (A) they run one after another, on
    /// 8 (B) two at a time. Mean waits 250 s and 100 s.
    static let comparisonTrace = (1...6).map { job($0, submit: 0, run: 100, cores: 4, walltime: 100) }
    static let vo = "[vo.cms]\nshare = 1\ngroups = [\"g1\"]\n"

    @Test func twoConfigurationsSideBySide() throws {
        let a = try Site(trace: Self.comparisonTrace, extraSite: Self.vo)
        let b = try Site(trace: Self.comparisonTrace, slots: 8, extraSite: Self.vo)
        let arguments = ["simulate", a.trace, "--config", a.config, "--config", b.config]
        let result = try DaemonHarness.run(DaemonHarness.binaries + "/vbatch", arguments + ["--jobs", a.csv],
                                           environment: [:], stdin: nil)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("A      \(a.config): 1 node, 4 slots; jobs to queue batch; 0 rejected, makespan 10m"), "\(result.stdout)")
        #expect(lines.contains("B      \(b.config): 1 node, 8 slots; jobs to queue batch; 0 rejected, makespan 5m"))
        let rows = lines.map { $0.split(separator: " ").joined(separator: " ") }
        #expect(rows.filter { $0 == "wait mean 4m10s 1m40s -2m30s" }.count == 3, "all jobs, queue batch, VO cms")
        #expect(rows.contains("bounded slowdown 3.50 2.00 -1.50") && rows.contains("utilisation 100.0% 100.0% +0.0 points"))
        #expect(lines.contains("queue batch") && lines.contains("VO cms"))
        // The CSV has both replays, a configuration column first.
        let csv = try String(contentsOfFile: a.csv, encoding: .utf8).split(separator: "\r\n").map { CSV.fields(String($0)) }
        #expect(csv.first?.first == "configuration" && csv.count == 13)
        #expect(csv.dropFirst().map { "\($0[0])\($0[6])" } == ["A0", "A100", "A200", "A300", "A400", "A500",
                                                                "B0", "B0", "B100", "B100", "B200", "B200"])

        let json = try DaemonHarness.run(DaemonHarness.binaries + "/vbatch", arguments + ["--json"], environment: [:], stdin: nil)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let difference = try #require(report["difference"] as? [String: Double])
        #expect(difference["mean_wait"] == -150 && difference["makespan"] == -300)
        #expect((report["a"] as? [String: Any])?["slots"] as? Int == 4 && (report["b"] as? [String: Any])?["slots"] as? Int == 8)
    }

    /// The charts of a comparison, rendered by Chromium: both replays' lines drawn. The
    /// screenshots stay in .build/simulate-charts for a person to look at.
    @Test func chartsRenderInChromium() throws {
        let a = try Site(trace: Self.comparisonTrace, extraSite: Self.vo)
        let b = try Site(trace: Self.comparisonTrace, slots: 8, extraSite: Self.vo)
        let plots = a.root + "/plots"
        let result = try DaemonHarness.run(DaemonHarness.binaries + "/vbatch",
                                           ["simulate", a.trace, "--config", a.config, "--config", b.config, "--plot", plots],
                                           environment: [:], stdin: nil)
        #expect(result.status == 0, "\(result.stderr)")
        let (blue, red) = ("#1f77b4", "#d62728")
        let expected = ["utilisation.svg": [blue, red], "queue-length.svg": [blue, red], "waits-by-queue.svg": [blue],
                        "waits-by-vo.svg": [blue]]
        let shots = DaemonHarness.repository + "/.build/simulate-charts"
        let data = try JSONSerialization.data(withJSONObject: expected)
        let render = try DaemonHarness.run("/usr/bin/python3", [DaemonHarness.repository + "/Tests/browser/charts.py", plots, shots,
                                                                String(decoding: data, as: UTF8.self)],
                                           environment: [:], stdin: nil)
        #expect(render.status == 0, "charts.py: \(render.stdout)\n\(render.stderr)")
    }
}

/// Splits one RFC 4180 line (quoted fields with doubled quotes).
enum CSV {
    static func fields(_ line: String) -> [String] {
        var fields: [String] = [], field = "", quoted = false
        var characters = line.makeIterator()
        while let c = characters.next() {
            if quoted {
                if c == "\"" {
                    // A doubled quote is a quote; a single one closes the field.
                    if let next = characters.next() {
                        if next == "\"" { field.append("\"") } else {
                            quoted = false
                            if next == "," { fields.append(field); field = "" } else { field.append(next) }
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                fields.append(field)
                field = ""
            } else {
                field.append(c)
            }
        }
        fields.append(field)
        return fields
    }
}
