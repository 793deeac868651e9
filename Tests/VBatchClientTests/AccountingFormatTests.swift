import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// The pure parts of accounting: summaries, the APEL message, times on the command line.
@Suite struct AccountingFormatTests {
    static func record(_ id: Int64, owner: String = "alice", vo: String? = "atlas", queue: String = "one-way",
                       cores: Int = 1, start: Double? = 1000, end: Double = 1600, cpu: Double = 500,
                       state: JobState = .completed) -> AccountingRecord {
        AccountingRecord(jobID: id, name: "job", owner: owner, uid: 1001, vo: vo, submitQueue: "grid", queue: queue,
                         environment: "testguest", node: start == nil ? nil : "wn1", cores: cores, memoryMB: 2048,
                         walltimeLimit: 3600, submitTime: 900, startTime: start, endTime: end,
                         wallSeconds: start.map { end - $0 } ?? 0, cpuSeconds: start == nil ? 0 : cpu, maxRSSKiB: 400_000,
                         state: state, exitCode: state == .completed ? 0 : nil, reason: "r")
    }

    static let records = [
        record(1),
        record(2, cores: 2, cpu: 1100),
        record(3, owner: "bob", vo: "cms", queue: "two-way", state: .failed),
        record(4, owner: "carol", vo: nil, start: nil, state: .cancelled),
    ]

    @Test func summaryRowsAndTotalAddUp() {
        let summary = AccountingSummary(Self.records, by: .vo)
        #expect(summary.rows.map(\.key) == ["-", "atlas", "cms"])
        #expect(summary.rows.map(\.jobs) == [1, 2, 1])
        let atlas = summary.rows[1]
        #expect(atlas.wallSeconds == 1200 && atlas.coreSeconds == 1800 && atlas.cpuSeconds == 1600)
        #expect(atlas.completed == 2 && atlas.failed == 0 && atlas.cancelled == 0)
        #expect(summary.total.jobs == 4 && summary.total.completed == 2 && summary.total.failed == 1 && summary.total.cancelled == 1)
        #expect(summary.total.wallSeconds == Self.records.map(\.wallSeconds).reduce(0, +))
        #expect(summary.total.coreSeconds == Self.records.map(\.coreSeconds).reduce(0, +))
        #expect(summary.total.cpuSeconds == Self.records.map(\.cpuSeconds).reduce(0, +))
        #expect(summary.rows[0].efficiency == nil)
        #expect(atlas.efficiency == 1600.0 / 1800)
        #expect(AccountingSummary(Self.records, by: .user).rows.map(\.key) == ["alice", "bob", "carol"])
        #expect(AccountingSummary(Self.records, by: .queue).rows.map(\.jobs) == [3, 1])
        #expect(AccountingSummary([], by: .node).rows.isEmpty)
    }

    @Test func apelMessageHasOneRecordPerStartedJob() {
        let report = AccountingReport(since: 0, until: 2000, records: Self.records, site: "UKI-TEST",
                                      submitHost: "ce01.example.org:9619/vbatch", machineName: "batch01",
                                      benchmarkType: "HEPSPEC", benchmark: 10.5)
        let message = APELMessage.render(report)
        #expect(message.hasPrefix("APEL-individual-job-message: v0.3\nSite: UKI-TEST\n"))
        #expect(message.split(separator: "\n").filter { $0 == "%%" }.count == 3)
        #expect(message.hasSuffix("%%\n"))
        #expect(message.contains("""
            Site: UKI-TEST
            SubmitHost: ce01.example.org:9619/vbatch
            MachineName: batch01
            Queue: one-way
            LocalJobId: 2
            LocalUserId: alice
            VO: atlas
            WallDuration: 600
            CpuDuration: 1100
            Processors: 2
            NodeCount: 1
            StartTime: 1000
            EndTime: 1600
            InfrastructureDescription: APEL-vbatch
            InfrastructureType: grid
            MemoryReal: 400000
            MemoryVirtual: 2097152
            ServiceLevelType: HEPSPEC
            ServiceLevel: 10.5
            %%
            """))
        #expect(!message.contains("LocalJobId: 4\n"))  // never started: nothing to account
    }

    @Test func apelSummaryHasOneRecordPerMonthVOAndSize() {
        // 1,793,491,200 is 2026-11-01 00:00 UTC: one job ends on the last second of October.
        let november: Double = 1_793_491_200
        let records = [
            Self.record(1, start: november - 600, end: november - 1, cpu: 100),
            Self.record(2, start: november, end: november + 600, cpu: 300),
            Self.record(3, start: november + 100, end: november + 400, cpu: 250.6),
            Self.record(4, cores: 2, start: november, end: november + 60, cpu: 100),
            Self.record(5, owner: "bob", vo: "cms", start: november, end: november + 10, cpu: 5),
            Self.record(6, owner: "carol", vo: nil, start: november, end: november + 10, cpu: 5),
            Self.record(7, start: nil, end: november + 20, state: .cancelled),
        ]
        let report = AccountingReport(since: 0, until: november + 86_400, records: records, site: "UKI-TEST",
                                      submitHost: "ce01", machineName: "batch01", benchmarkType: "HEPSPEC", benchmark: 10.5)
        let message = APELSummaryMessage.render(report)
        let parts = message.split(separator: "%%\n").map(String.init)
        #expect(parts.count == 5)
        #expect(parts[0] == """
            APEL-summary-job-message: v0.2
            Site: UKI-TEST
            Month: 10
            Year: 2026
            VO: atlas
            SubmitHost: ce01
            InfrastructureType: grid
            ServiceLevelType: HEPSPEC
            ServiceLevel: 10.5
            NodeCount: 1
            Processors: 1
            EarliestEndTime: 1793491199
            LatestEndTime: 1793491199
            WallDuration: 599
            CpuDuration: 100
            NumberOfJobs: 1

            """)
        // November: a local user's jobs have no VO line; atlas by size; cms; the cancelled job is left out.
        #expect(parts[1].contains("Month: 11\nYear: 2026\nSubmitHost: ce01\n") && parts[1].contains("NumberOfJobs: 1\n"))
        #expect(parts[2].contains("VO: atlas\n") && parts[2].contains("Processors: 1\n"))
        #expect(parts[2].contains("WallDuration: 900\nCpuDuration: 551\nNumberOfJobs: 2\n"))
        #expect(parts[2].contains("EarliestEndTime: \(Int(november) + 400)\nLatestEndTime: \(Int(november) + 600)\n"))
        #expect(parts[3].contains("VO: atlas\n") && parts[3].contains("Processors: 2\n"))
        #expect(parts[4].contains("VO: cms\n"))
        let jobs = message.split(separator: "\n").filter { $0.hasPrefix("NumberOfJobs: ") }.compactMap { Int($0.dropFirst(14)) }
        #expect(jobs.reduce(0, +) == 6)
    }

    @Test func theGridSubjectIsAPELsGlobalUserName() {
        var mine = Self.record(1)
        mine.gridSubject = "/DC=ch/DC=cern/CN=Some Body"
        let other = Self.record(2)
        let report = AccountingReport(since: 0, until: 2000, records: [mine, other], site: "S", submitHost: "h", machineName: "m")
        let individual = APELMessage.render(report)
        #expect(individual.contains("LocalUserId: alice\nGlobalUserName: /DC=ch/DC=cern/CN=Some Body\nVO: atlas\n"))
        #expect(individual.components(separatedBy: "GlobalUserName").count == 2)
        // Summaries are per grid identity, as APEL keeps them.
        let summary = APELSummaryMessage.render(report)
        #expect(summary.split(separator: "\n").filter { $0 == "%%" }.count == 2)
        #expect(summary.contains("Year: 1970\nGlobalUserName: /DC=ch/DC=cern/CN=Some Body\nVO: atlas\n"))
    }

    @Test func apelValuesStayOnOneLine() {
        var record = Self.record(1)
        record.queue = "evil\n%%\nSite: other"
        let message = APELMessage.render(AccountingReport(since: 0, until: 1, records: [record], site: "S",
                                                          submitHost: "h", machineName: "m"))
        #expect(message.split(separator: "\n").filter { $0 == "%%" }.count == 1)
        #expect(message.contains("Queue: evil %% Site: other\n"))
        #expect(!message.contains("ServiceLevel"))  // no benchmark configured: both left out
    }

    static let now: Double = 1_800_000_000
    static let times: [(String, Double)] = [
        ("2026-11-01", 1_793_491_200.0),
        ("2026-11-01 12:30", 1_793_536_200),
        ("2026-11-01T12:30:05Z", 1_793_536_205),
        ("1762000000", 1_762_000_000),
        ("2000-02-29", 951_782_400),
        ("7d", now - 7 * 86_400),
        ("1d12h", now - 36 * 3600),
        ("90m", now - 5400),
    ]

    @Test(arguments: times)
    func timesOnTheCommandLine(text: String, seconds: Double) {
        #expect(UTCTime.parse(text, now: 1_800_000_000) == seconds)
    }

    @Test(arguments: ["", "yesterday", "2026-13-01", "2026-02-30", "2026-11-01 25:00", "2026-1-1", "-5", "2026-11-01T12"])
    func notTimes(text: String) {
        #expect(UTCTime.parse(text, now: 1_800_000_000) == nil)
    }
}
