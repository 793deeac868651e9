import Foundation
import Testing
import VBatchAPI
import VBatchClient

/// `vbatch diag` against a real vbatchd on simulated nodes: the report's figures follow what
/// the daemon did, and the text shows them.
@Suite("vbatch diag", .serialized)
struct DiagCommandTests {
    @Test func reportsCyclesCommitsRequestsAndNodes() throws {
        let d = try DaemonHarness(nodes: 2, slots: 2)
        try d.start()
        let done = try d.submitJobs("#!/bin/sh\ntrue\n", ["-q", "grid", "--count", "2", "-v", "VBATCH_SIM_RUNTIME=0.2"])
        try d.waitEnded(done, timeout: 60)
        // One job running for long, one held: pending counts the queued ones only.
        let running = try d.submitJobs("#!/bin/sh\ntrue\n", ["-q", "grid", "-v", "VBATCH_SIM_RUNTIME=600"])
        try d.waitRunning(running, timeout: 60)
        _ = try d.submitJobs("#!/bin/sh\ntrue\n", ["-q", "grid", "--hold"])
        #expect(try d.wait(timeout: 10) { try d.client.diagnostics().cycles.count >= 3 })

        let json = try d.vbatch(["diag", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try JSONDecoder().decode(Diagnostics.self, from: Data(json.stdout.utf8))
        #expect(report.running == 1)
        #expect(report.placements == 3)
        #expect(report.cycles.count > 0 && report.cycles.maxSeconds >= report.cycles.meanSeconds)
        #expect(report.lastCycle.map { report.reported - $0 < 10 } == true)
        #expect(report.started <= report.reported && report.reported - report.started < 120)
        #expect(report.commits.count >= 4)
        #expect(report.api["POST /v1/jobs"]?.count == 3)
        #expect(report.api["POST /v1/jobs"]?.failures == 0)
        #expect(report.connected == ["wn1": true, "wn2": true])
        #expect(report.libvirt.isEmpty, "simulated nodes make no libvirt calls")

        let text = try d.vbatch(["diag"])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        func field(_ label: String) -> String? {
            lines.first { $0.hasPrefix(label + ":") }.map { String($0.dropFirst(label.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
        #expect(field("Jobs running") == "1")
        #expect(field("Jobs pending") == "\(report.pending)")
        #expect(field("  Jobs placed") == "3")
        #expect(field("  Backfill starts") == "0")
        #expect(field("  Last cycle ended")?.hasSuffix(" s ago") == true)
        #expect(field("  Max cycle").map { $0.hasSuffix(" ms") && Double($0.dropLast(3)) != nil } == true,
                "cycle times in milliseconds: \(text.stdout)")
        #expect(Int(field("  Cycles") ?? "") ?? 0 >= report.cycles.count)
        // The API table is sorted by count: POST /v1/jobs (3) comes before GET /v1/diag (1, this one).
        let post = lines.firstIndex { $0.hasPrefix("POST /v1/jobs ") }
        let diag = lines.firstIndex { $0.hasPrefix("GET /v1/diag ") }
        #expect(post != nil && diag != nil && post! < diag!, "\(text.stdout)")
        let postRow = post.map { lines[$0].split(separator: " ", omittingEmptySubsequences: true) } ?? []
        #expect(postRow.count == 6 && postRow[2] == "3" && postRow[3] == "0", "\(postRow)")
        for node in ["wn1", "wn2"] {
            let row = lines.first { $0.hasPrefix(node + " ") }?.split(separator: " ", omittingEmptySubsequences: true) ?? []
            #expect(row.map(String.init) == [node, "yes", "0", "0", "-", "-"], "\(text.stdout)")
        }
    }
}
