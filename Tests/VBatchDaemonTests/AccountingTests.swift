import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// Accounting end to end on simulated nodes, with the real users of ``IdentityTests``: the
/// records of finished jobs, the summaries `vbatch accounting` prints, and the APEL export.
extension IdentityTests {
    @Test func accountingTotalsAreTheSumsOfTheJobRecords() throws {
        let d = try daemon()
        var ids: [Int64] = []
        for runtime in ["0.3", "0.5", "0.2"] {
            ids.append(try submit(d, as: Self.alice, ["-q", "grid", "-v", "VBATCH_SIM_RUNTIME=\(runtime)"]))
        }
        ids.append(try submit(d, as: Self.alice, ["-q", "grid", "-l", "cores=2", "-v", "VBATCH_SIM_RUNTIME=0.4"]))
        ids.append(try submit(d, as: Self.bob, ["-q", "grid", "-l", "walltime=30h", "-v", "VBATCH_SIM_RUNTIME=0.3"]))
        ids.append(try submit(d, as: Self.bob, ["-q", "cms-only", "-v", "VBATCH_SIM_RUNTIME=0.2", "-v", "VBATCH_SIM_EXIT=3"]))
        let parked = try submit(d, as: Self.bob, ["-q", "parked"])
        #expect(try vbatch(d, as: Self.bob, ["cancel", String(parked)]).status == 0)
        ids.append(parked)
        let ended = try d.wait(timeout: 30) { try ids.allSatisfy { try state(d, $0).isTerminal } }
        #expect(ended)

        // One record per finished job, matching the job.
        let report = try json(AccountingReport.self, d, as: "root", ["accounting", "--all", "--records", "--json"])
        #expect(report.records.map(\.jobID).sorted() == ids.sorted())
        for record in report.records {
            let job = try d.client.job(record.jobID).job
            #expect(record.owner == job.owner && record.vo == job.vo && record.queue == job.queue)
            #expect(record.environment == job.environment && record.cores == job.cores && record.memoryMB == job.memoryMB)
            #expect(record.state == job.state && record.exitCode == job.exitCode && record.endTime == job.endTime)
            #expect(record.startTime == job.startTime && record.node == job.node)
            if let start = job.startTime, let end = job.endTime {
                #expect(abs(record.wallSeconds - (end - start)) < 1e-6)
                // A simulated payload keeps its vCPUs busy: CPU ≈ cores × run time.
                #expect(record.cpuSeconds > 0 && record.cpuSeconds <= record.coreSeconds + 1e-6)
            } else {
                #expect(record.wallSeconds == 0 && record.cpuSeconds == 0 && record.node == nil)
            }
        }
        let bobsFailure = try #require(report.records.first { $0.exitCode == 3 })
        #expect(bobsFailure.owner == Self.bob && bobsFailure.vo == "cms" && bobsFailure.queue == "cms-only")

        // Every grouping's rows add up to the records, and so does the total.
        for grouping in AccountingSummary.Grouping.allCases {
            let summary = try json(AccountingSummary.self, d, as: "root",
                                   ["accounting", "--all", "--json", "--by", grouping.rawValue])
            #expect(summary.total.jobs == report.records.count)
            #expect(summary.rows.map(\.jobs).reduce(0, +) == report.records.count)
            #expect(summary.total.completed + summary.total.failed + summary.total.cancelled == report.records.count)
            for (total, field) in [(summary.total.wallSeconds, \AccountingRecord.wallSeconds),
                                   (summary.total.cpuSeconds, \AccountingRecord.cpuSeconds),
                                   (summary.total.coreSeconds, \AccountingRecord.coreSeconds)] {
                let sum = report.records.map { $0[keyPath: field] }.reduce(0, +)
                #expect(abs(total - sum) < 1e-6, "\(grouping) total \(total) ≠ Σ records \(sum)")
            }
            for row in summary.rows {
                let members = report.records.filter { (AccountingSummary.key(of: $0, grouping) ?? "-") == row.key }
                #expect(row.jobs == members.count)
                #expect(abs(row.cpuSeconds - members.map(\.cpuSeconds).reduce(0, +)) < 1e-6)
                #expect(abs(row.coreSeconds - members.map(\.coreSeconds).reduce(0, +)) < 1e-6)
            }
        }
        let byVO = try json(AccountingSummary.self, d, as: "root", ["accounting", "--all", "--json", "--by", "vo"])
        #expect(byVO.rows.map(\.key) == ["atlas", "cms"])
        #expect(byVO.rows.map(\.jobs) == [4, 3])
        let table = try d.vbatch(["accounting", "--all", "--by", "user"])
        #expect(table.status == 0 && table.stdout.hasPrefix("USER "))
        #expect(table.stdout.contains("\n\(Self.alice) ") && table.stdout.contains("\ntotal "))

        // Users read their own records only; everyone's is for operators.
        let alices = try json(AccountingReport.self, d, as: Self.alice, ["accounting", "--records", "--json"])
        #expect(Set(alices.records.map(\.jobID)) == Set(report.records.filter { $0.owner == Self.alice }.map(\.jobID)))
        let refused = try vbatch(d, as: Self.bob, ["accounting", "--all"])
        #expect(refused.status != 0 && refused.stderr.contains("only operators may read every user's accounting"))
        #expect(try json(AccountingReport.self, d, as: Self.oper, ["accounting", "--all", "--records", "--json"]).records.count
                == report.records.count)

        // A window in time: nothing ended in the future, everything since the first submit.
        #expect(try json(AccountingReport.self, d, as: "root", ["accounting", "--all", "--records", "--json", "--since", "2999-01-01", "--until", "2999-02-01"])
                    .records.isEmpty)
        #expect(try json(AccountingReport.self, d, as: "root", ["accounting", "--all", "--records", "--json", "--since", "1h"])
                    .records.count == report.records.count)
        let backwards = try d.vbatch(["accounting", "--since", "2999-01-01"])
        #expect(backwards.status != 0 && backwards.stderr.contains("since must not be after until"))
        let badTime = try d.vbatch(["accounting", "--since", "last tuesday"])
        #expect(badTime.status != 0 && badTime.stderr.contains("--since 'last tuesday' is not a time"))

        // The APEL export: one record per job that started, durations summing to the records'.
        let file = d.root + "/apel-message"
        #expect(try d.vbatch(["accounting", "--all", "--format", "apel", "--output", file]).status == 0)
        let message = try String(contentsOfFile: file, encoding: .utf8)
        let lines = message.split(separator: "\n")
        #expect(lines.first == "APEL-individual-job-message: v0.3")
        let started = report.records.filter { $0.startTime != nil }
        #expect(lines.filter { $0 == "%%" }.count == started.count)
        #expect(lines.filter { $0.hasPrefix("Site: ") }.allSatisfy { $0 == "Site: identity-test" })
        let walls = lines.filter { $0.hasPrefix("WallDuration: ") }.compactMap { Int($0.dropFirst(14)) }
        #expect(walls.count == started.count)
        let exportedWall = Double(walls.reduce(0, +))
        let recordedWall: Double = started.map(\.wallSeconds).reduce(0, +)
        let rounding = Double(started.count) / 2 + 1e-6
        #expect(abs(exportedWall - recordedWall) <= rounding)
        #expect(lines.contains("LocalUserId: \(Self.bob)") && lines.contains("VO: cms") && lines.contains("Processors: 2"))

        // The summary message counts the same jobs and seconds.
        let summary = try d.vbatch(["accounting", "--all", "--format", "apel-summary"]).stdout.split(separator: "\n")
        #expect(summary.first == "APEL-summary-job-message: v0.2")
        let summed = { (key: String) in summary.filter { $0.hasPrefix(key) }.compactMap { Int($0.dropFirst(key.count)) }.reduce(0, +) }
        #expect(summed("NumberOfJobs: ") == started.count)
        #expect(summed("WallDuration: ") == walls.reduce(0, +))
        let refusedJSON = try d.vbatch(["accounting", "--json", "--format", "apel-summary"])
        #expect(refusedJSON.status != 0 && refusedJSON.stderr.contains("--json and --format apel-summary exclude each other"))
    }
}
