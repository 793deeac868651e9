import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// `vbatch reload` and SIGHUP: the configuration files are read again without stopping
/// jobs; files with errors change nothing.
@Suite("Reloading the configuration", .serialized)
struct ReloadTests {
    func queueNames(_ d: DaemonHarness) throws -> [String] { try d.client.queues().map(\.name) }

    @Test func reloadTakesNewQueuesAndKeepsJobsAndSettings() throws {
        let d = try DaemonHarness()
        try d.start()
        let path = try d.writeScript("#!/bin/sh\necho hi\n")
        let held = Int64(try d.vbatch(["submit", path, "-q", "two-way", "--hold"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(try d.vbatch(["node", "drain", "wn2", "--reason", "before reload"]).status == 0)

        // Errors: named with file, line and key; nothing changes, the daemon keeps serving.
        try (DaemonHarness.extraQueue.replacingOccurrences(of: "walltime_max", with: "walltime_mx"))
            .write(toFile: d.configDirectory + "/queues/extra.toml", atomically: true, encoding: .utf8)
        let refused = try d.vbatch(["reload"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("the configuration has errors, nothing changed"))
        #expect(refused.stderr.contains("extra.toml:5: queue.extra.walltime_mx: unknown key (did you mean walltime_max?)"))
        #expect(try !queueNames(d).contains("extra"))

        try DaemonHarness.extraQueue.write(toFile: d.configDirectory + "/queues/extra.toml", atomically: true, encoding: .utf8)
        let user = try d.vbatch(as: "nobody", ["reload"])
        #expect(user.status != 0 && user.stderr.contains("only operators may reload the configuration"))
        let reload = try d.vbatch(["reload"])
        #expect(reload.status == 0, "\(reload.stderr)")
        #expect(reload.stdout.hasPrefix("configuration reloaded: 1 routing and 4 execution queues, 2 nodes"))
        // Commands during the restart wait for it (the socket's .reloading marker) instead of failing.
        let during = try d.vbatch(["queues", "--json"])
        #expect(during.status == 0, "\(during.stderr)")
        #expect(try JSONDecoder().decode([QueueInfo].self, from: Data(during.stdout.utf8)).contains { $0.name == "extra" })
        #expect(!FileManager.default.fileExists(atPath: API.reloadMarker(socketPath: d.socket)))
        #expect(try d.client.job(held).job.state == .held)
        let wn2 = try #require(try d.client.nodes().first { $0.name == "wn2" })
        #expect(!wn2.enabled && wn2.note == "drained by root: before reload")
        let id = try d.vbatch(["submit", path, "-q", "extra", "-v", "VBATCH_SIM_RUNTIME=0.2"])
        #expect(id.status == 0, "\(id.stderr)")

        // SIGHUP does the same, again and again.
        try FileManager.default.removeItem(atPath: d.configDirectory + "/queues/extra.toml")
        for _ in 0..<2 {
            kill(try #require(d.process?.processIdentifier), SIGHUP)
            for _ in 0..<20 {
                let r = try d.vbatch(["whoami"])
                #expect(r.status == 0, "\(r.stderr)")
            }
        }
        #expect(try d.wait(timeout: 15) { (try? queueNames(d))?.contains("extra") == false })
        #expect(d.daemonLog.contains("configuration reloaded (asked by SIGHUP)"))
    }
}
