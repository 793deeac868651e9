import Foundation
import Testing
import VBatchAPI
import VBatchClient

/// The dashboard's session and streams over real TLS (curl) against a real vbatchd on
/// simulated nodes: signing in, the cookie's flags, what the cookie alone may not do, what a
/// user's pages hide, and that an open event stream never holds a reload or a stop.
/// (The pages themselves are driven in Chromium by ``DashboardBrowserTests``.)
@Suite("Dashboard sessions and streams", .serialized)
struct DashboardAccessTests {
    /// One HTTPS exchange through curl: status, response headers (lower-cased names) and body.
    struct Exchange {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    func curl(_ site: APIAccessTests.Site, _ method: String, _ path: String, cookie: String? = nil,
              headers: [String] = [], form: String? = nil, json: String? = nil) throws -> Exchange {
        var arguments = ["-sS", "-i", "-X", method, "--max-time", "20", "--cacert", site.pki + "/ca/cacert.pem"]
        if let cookie { arguments += ["-H", "Cookie: vbatch_session=\(cookie)"] }
        for header in headers { arguments += ["-H", header] }
        if let form { arguments += ["--data-binary", form] }
        if let json { arguments += ["-H", "Content-Type: application/json", "--data-binary", json] }
        let r = try DaemonHarness.run("/usr/bin/curl", arguments + [site.url + path], environment: [:], stdin: nil)
        guard let split = r.stdout.range(of: "\r\n\r\n") else { throw HarnessError("no HTTP answer: \(r.stderr)") }
        let head = r.stdout[..<split.lowerBound].components(separatedBy: "\r\n")
        var fields: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        return Exchange(status: status, headers: fields, body: String(r.stdout[split.upperBound...]))
    }

    @Test func signingInSetsAStrictHttpOnlyCookieAndPagesNeedIt() throws {
        let site = try APIAccessTests.Site()
        let anonymous = try curl(site, "GET", "/ui/")
        #expect(anonymous.status == 303 && anonymous.headers["location"] == "/ui/login")
        #expect(try curl(site, "GET", "/ui/login").status == 200)

        let refused = try curl(site, "POST", "/ui/login", form: "token=vbt_1_not-a-real-secret")
        #expect(refused.status == 303 && refused.headers["location"] == "/ui/login?error=1")
        #expect(refused.headers["set-cookie"] == nil)

        let token = try site.token("read", for: "vbce-atlas001")
        // Another site's page posting a token would sign the browser in as someone else.
        let crossSite = try curl(site, "POST", "/ui/login", headers: ["Origin: https://evil.example"], form: "token=\(token)")
        #expect(crossSite.status == 403 && crossSite.headers["set-cookie"] == nil)
        let signedIn = try curl(site, "POST", "/ui/login", headers: ["Origin: \(site.url)"], form: "token=\(token)")
        #expect(signedIn.status == 303 && signedIn.headers["location"] == "/ui/")
        let cookie = signedIn.headers["set-cookie"] ?? ""
        #expect(cookie.hasPrefix("vbatch_session=\(token);"))
        for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] { #expect(cookie.contains(flag), "\(flag) in \(cookie)") }

        let page = try curl(site, "GET", "/ui/", cookie: token)
        #expect(page.status == 200 && page.body.contains("<main id=\"main\">"))
        #expect(page.headers["content-security-policy"]?.contains("script-src 'self'") == true)
        #expect(page.headers["x-frame-options"] == "DENY")
        // The page's script asks for its content again with fragment=1: no layout around it.
        let fragment = try curl(site, "GET", "/ui/?fragment=1", cookie: token)
        #expect(fragment.status == 200 && !fragment.body.contains("<html") && fragment.body.contains("id=\"tiles\""))

        let signedOut = try curl(site, "POST", "/ui/logout", cookie: token)
        #expect(signedOut.status == 303 && signedOut.headers["set-cookie"]?.contains("Max-Age=0") == true)
    }

    @Test func theCookieAloneCannotChangeAnythingAndKeepsItsTokensScope() throws {
        let site = try APIAccessTests.Site()
        let user = try site.token("user", for: "vbce-atlas001")
        let submitted = try site.request("POST", "/v1/jobs", token: user, body: APIAccessTests.Site.submission)
        let id = try APIAccessTests.decode(SubmitResponse.self, submitted.body).ids[0]

        // A form or link of another site would carry the cookie but never the header.
        let forged = try curl(site, "DELETE", "/v1/jobs/\(id)", cookie: user)
        #expect(forged.status == 403 && forged.body.contains("X-VBatch-UI"))
        #expect(try site.d.client.job(id).job.state == .held)
        let fromPage = try curl(site, "DELETE", "/v1/jobs/\(id)", cookie: user, headers: ["X-VBatch-UI: 1"])
        #expect(fromPage.status == 200, "\(fromPage.body)")
        #expect(try site.d.client.job(id).job.state == .cancelled)

        // A read token's session stays read-only; a user's may not drain a node.
        let read = try site.token("read", for: "vbce-atlas001")
        #expect(try curl(site, "POST", "/v1/jobs/\(id)/hold", cookie: read, headers: ["X-VBatch-UI: 1"]).status == 403)
        let drain = try curl(site, "POST", "/v1/nodes/wn1/state", cookie: user, headers: ["X-VBatch-UI: 1"],
                             json: #"{"enabled":false,"reason":"no"}"#)
        #expect(drain.status == 403 && drain.body.contains("only operators"))
    }

    @Test func aUsersPagesShowOnlyTheirOwnJobs() throws {
        let site = try APIAccessTests.Site()
        let alice = try site.token("user", for: "vbce-atlas001")
        let bob = try site.token("user", for: "vbce-atlas002")
        let running = APIAccessTests.Site.submission.replacingOccurrences(of: #""held":true"#, with: #""held":false"#)
            .replacingOccurrences(of: #""variables":{}"#, with: #""variables":{"VBATCH_SIM_RUNTIME":"600"}"#)
        let submitted = try site.request("POST", "/v1/jobs", token: alice, body: running)
        let id = try APIAccessTests.decode(SubmitResponse.self, submitted.body).ids[0]
        #expect(try site.d.wait { try site.d.client.job(id).job.state == .running })

        let own = try curl(site, "GET", "/ui/?fragment=1", cookie: alice)
        #expect(own.body.contains("data-job=\"\(id)\""))
        let other = try curl(site, "GET", "/ui/?fragment=1", cookie: bob)
        #expect(other.status == 200 && other.body.contains("class=\"cpu busy\"") && !other.body.contains("data-job=\"\(id)\""),
                "another user's CPU map shows the job's VO colour only")
        #expect(!(try curl(site, "GET", "/ui/jobs?fragment=1", cookie: bob)).body.contains("data-job=\"\(id)\""))
        #expect(try curl(site, "GET", "/ui/jobs/\(id)?fragment=1", cookie: bob).status == 403)
        _ = try site.d.client.cancel(id)
    }

    @Test func anOpenEventStreamHoldsNeitherAReloadNorAStop() throws {
        let site = try APIAccessTests.Site()
        let token = try site.token("read", for: "vbce-atlas001")
        func openStream() throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            p.arguments = ["-sS", "-N", "--max-time", "120", "--cacert", site.pki + "/ca/cacert.pem",
                           "-H", "Cookie: vbatch_session=\(token)", site.url + "/ui/events"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(500_000)
            return p
        }
        let first = try openStream()
        defer { if first.isRunning { first.terminate() } }
        let started = Date()
        // The marker exists from the accepted reload until the socket serves again.
        let marker = API.reloadMarker(socketPath: site.d.socket)
        #expect(try site.d.vbatch(["reload"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: marker) || !first.isRunning)
        #expect(try site.d.wait(timeout: 20) { !FileManager.default.fileExists(atPath: marker) },
                "the reload restarted the services with a stream open")
        #expect(try site.d.wait(timeout: 5) { !first.isRunning }, "the stream ended with the reload")
        #expect(Date().timeIntervalSince(started) < 20)

        let second = try openStream()
        defer { if second.isRunning { second.terminate() } }
        guard let daemon = site.d.process else { throw HarnessError("vbatchd is not running") }
        kill(daemon.processIdentifier, SIGTERM)
        let stopped = try site.d.wait(timeout: 15) { !daemon.isRunning }
        if !stopped { site.d.kill9() }
        #expect(stopped, "vbatchd stopped on SIGTERM with a stream open")
    }
}
