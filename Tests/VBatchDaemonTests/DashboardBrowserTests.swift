import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// The web dashboard in a real headless Chromium (Debian's chromium, chromium-driver and
/// python3-selenium), against vbatchd with a real VM node and the TLS listener on loopback.
/// Tests/browser/dashboard.py does the clicking; the screenshots it takes of every page go
/// to `.build/dashboard-screenshots/` for a person to look at.
@Suite("Dashboard in Chromium", .serialized)
struct DashboardBrowserTests {
    static let screenshots = DaemonHarness.repository + "/.build/dashboard-screenshots"

    @Test func pagesRenderLiveAndObeyRolesInChromium() throws {
        try IdentityTests.accounts.get()
        let pki = try APIAccessTests.Site.sharedPKI.get()
        let port = try APIAccessTests.freePort()
        let user = IdentityTests.bob  // in VO cms by name
        let site = DaemonHarness.libvirtSite(extra: """
            operator_groups = ["vbtest-ops"]
            """) + """

            [vo.atlas]
            share = 1
            groups = ["vbtest-atlas"]

            [api]
            listen = "127.0.0.1:\(port)"
            certificate = "\(pki)/hosts/127.0.0.1/servercert.pem"
            key = "\(pki)/hosts/127.0.0.1/serverkey.pem"
            ca = "\(pki)/ca/cacert.pem"
            """
        let d = try DaemonHarness(site: site.replacingOccurrences(of: "users = [\"cms001\"]", with: "users = [\"\(user)\"]"))
        try d.start()
        defer { cancelActiveJobs(d) }

        let operatorToken = try d.client.createToken(TokenRequest(scope: .operator, lifetime: 3600, name: "browser test")).token
        let created = try d.vbatch(as: user, group: IdentityTests.primaryGroup,
                                   ["token", "create", "--scope", "user", "--lifetime", "1h", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let userToken = try JSONDecoder().decode(TokenCreated.self, from: Data(created.stdout.utf8)).token
        let script = try d.writeScript("#!/bin/sh\necho dashboard test\nsleep 90\n")
        chmod(d.root, 0o755)
        chmod(script, 0o644)
        let submit = ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(IdentityTests.primaryGroup)", "--clear-groups",
                      DaemonHarness.binaries + "/vbatch", "submit", "--socket", d.socket, "--queue", "grid", script]

        try FileManager.default.createDirectory(atPath: Self.screenshots, withIntermediateDirectories: true)
        let result = try DaemonHarness.run("/usr/bin/python3", [
            DaemonHarness.repository + "/Tests/browser/dashboard.py", "https://127.0.0.1:\(port)", userToken, operatorToken,
            String(decoding: try JSONEncoder().encode(submit), as: UTF8.self), Self.screenshots, "local", "cms",
        ], environment: [:], stdin: nil)
        print(result.stdout)
        #expect(result.status == 0, "dashboard.py: \(result.stdout)\n\(result.stderr)\n\(d.daemonLog.suffix(3000))")
        for page in ["login", "overview", "jobs", "job", "nodes", "drain-dialog"] {
            #expect(FileManager.default.fileExists(atPath: "\(Self.screenshots)/\(page).png"), "screenshot of \(page)")
        }
    }

    /// Cancels what the test left running, so no VM outlives it.
    func cancelActiveJobs(_ d: DaemonHarness) {
        guard let jobs = try? d.client.jobs(all: true) else { return }
        let active = jobs.filter { !$0.state.isTerminal }.map(\.id)
        for id in active { _ = try? d.client.cancel(id) }
        try? d.waitEnded(active, timeout: 60)
    }
}
