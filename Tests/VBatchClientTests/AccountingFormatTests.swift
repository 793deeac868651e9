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
