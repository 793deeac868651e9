import Foundation
import Testing
import VBatchAPI
import VBatchClient

/// The TLS listener (`[api]`): who gets in, as whom, and every refusal of issue 11, each
/// through a real TLS client (curl) against a real vbatchd on simulated nodes, with
/// certificates from scripts/make-test-pki.sh.
@Suite("TLS API access", .serialized)
struct APIAccessTests {
    /// A daemon with the TLS listener on 127.0.0.1, relays `ce1` listed, `opsuser` an operator.
    struct Site {
        let d: DaemonHarness
        let pki: String
        let port: Int
        var url: String { "https://127.0.0.1:\(port)" }

        /// One test PKI for the whole suite (RSA keys take a while): the CA, the listener's
        /// certificate for 127.0.0.1, relay certificates `ce1` and `ce-unlisted`, and a `ce1`
        /// from a rogue CA.
        static let sharedPKI: Result<String, HarnessError> = {
            let root = NSTemporaryDirectory() + "vbatch-api-pki-\(getpid())"
            guard let made = try? DaemonHarness.run(DaemonHarness.repository + "/scripts/make-test-pki.sh",
                                                    [root, "127.0.0.1", "--client", "ce1", "--client", "ce-unlisted"],
                                                    environment: [:], stdin: nil), made.status == 0 else {
                return .failure(HarnessError("make-test-pki.sh failed"))
            }
            return .success(root)
        }()

        init() throws {
            let root = try Self.sharedPKI.get()
            pki = root
            port = try APIAccessTests.freePort()
            let site = """
                [site]
                name = "test"
                operators = ["root", "opsuser"]

                [vo.atlas]
                share = 50
                groups = ["atlas"]

                [vo.cms]
                share = 50
                users = ["cms001"]

                [api]
                listen = "127.0.0.1:\(port)"
                certificate = "\(root)/hosts/127.0.0.1/servercert.pem"
                key = "\(root)/hosts/127.0.0.1/serverkey.pem"
                ca = "\(root)/ca/cacert.pem"
                relays = ["ce1"]
                max_token_lifetime = "2d"
                max_operator_token_lifetime = "1h"

                [node.wn1]
                uri = "sim://"
                slots = 4
                memory = "16gb"
                """
            d = try DaemonHarness(site: site)
            try d.start()
        }

        /// One HTTPS request through curl: (HTTP status, body); status 0 when no HTTP answer came.
        func request(_ method: String, _ path: String, token: String? = nil, client: String? = nil,
                     user: String? = nil, uid: Int = 5101, groups: String = "", body: String? = nil,
                     ca: String? = nil) throws -> (status: Int, body: String, curl: Int32) {
            var arguments = ["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method, "--max-time", "20",
                             "--cacert", ca ?? pki + "/ca/cacert.pem"]
            if let client {
                arguments += ["--cert", client + "/clientcert.pem", "--key", client + "/clientkey.pem"]
            }
            if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
            if let user {
                arguments += ["-H", "X-VBatch-User: \(user)", "-H", "X-VBatch-UID: \(uid)", "-H", "X-VBatch-Groups: \(groups)"]
            }
            if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
            let r = try DaemonHarness.run("/usr/bin/curl", arguments + [url + path], environment: [:], stdin: nil)
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let status = Int(lines.last ?? "") ?? 0
            return (status, lines.dropLast().joined(separator: "\n"), r.status)
        }

        /// A token made through the socket by root (an operator, so it may name any user).
        func token(_ scope: String, for user: String, lifetime: String = "1h") throws -> String {
            let r = try d.vbatch(["token", "create", "--scope", scope, "--lifetime", lifetime, "--user", user])
            guard r.status == 0, let line = r.stdout.split(separator: "\n").first else {
                throw HarnessError("token create failed: \(r.stderr)")
            }
            return String(line)
        }


        static let submission = ##"{"queue":"grid","script":"#!/bin/sh\necho secret-payload\n","arguments":[],"variables":{},"count":1,"held":true,"walltime":600}"##
    }

    /// A TCP port nothing listens on at `address` now.
    static func freePort(on host: String = "127.0.0.1") throws -> Int {
        let ip = host
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(ip)
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ body: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(body.utf8))
    }

    @Test func aListedRelayActsForTheAssertedUserAndATokenForItsUser() throws {
        let site = try Site()
        let relay = site.pki + "/clients/ce1"
        let me = try site.request("GET", "/v1/whoami", client: relay, user: "vbce-atlas001", groups: "vbce-atlas,atlas")
        #expect(me.status == 200)
        let who = try Self.decode(WhoAmI.self, me.body)
        #expect(who == WhoAmI(user: "vbce-atlas001", uid: 5101, vo: "atlas", isOperator: false, via: "relay ce1"))

        let submitted = try site.request("POST", "/v1/jobs", client: relay, user: "vbce-atlas001", groups: "atlas",
                                         body: Site.submission)
        #expect(submitted.status == 201, "\(submitted.body)")
        let id = try Self.decode(SubmitResponse.self, submitted.body).ids[0]
        let job = try site.d.client.job(id).job
        #expect(job.owner == "vbce-atlas001" && job.vo == "atlas")

        let token = try site.token("user", for: "vbce-atlas001")
        let viaToken = try site.request("GET", "/v1/jobs/\(id)", token: token)
        #expect(viaToken.status == 200)
        let released = try site.request("POST", "/v1/jobs/\(id)/release", token: token)
        #expect(released.status == 200, "\(released.body)")
        let whoByToken = try Self.decode(WhoAmI.self, try site.request("GET", "/v1/whoami", token: token).body)
        #expect(whoByToken.user == "vbce-atlas001" && whoByToken.via?.hasPrefix("token ") == true && !whoByToken.isOperator)
        // The OpenAPI document is served to anyone who completes the handshake.
        let document = try site.request("GET", "/v1/openapi.json")
        #expect(document.status == 200 && document.body.contains("\"openapi\""))
    }

    // MARK: - Refusals, one test each

    @Test func noClientCertificateCannotAssertAUser() throws {
        let site = try Site()
        let anonymous = try site.request("GET", "/v1/whoami", user: "vbce-atlas001")
        #expect(anonymous.status == 401 && anonymous.body.contains("\"code\":\"unauthenticated\""), "\(anonymous)")
        // And without any credentials nothing but the OpenAPI document answers.
        #expect(try site.request("GET", "/v1/jobs").status == 401)
        #expect(try site.request("POST", "/v1/jobs", body: Site.submission).status == 401)
    }

    @Test func certificateFromAnotherCAFailsTheHandshake() throws {
        let site = try Site()
        let rogue = try site.request("GET", "/v1/whoami", client: site.pki + "/rogue-clients/ce1", user: "vbce-atlas001")
        #expect(rogue.status == 0 && rogue.curl != 0, "no HTTP answer at all: \(rogue)")
        #expect(try site.d.client.jobs(all: true).isEmpty)
    }

    @Test func unlistedRelayCertificateMayNotAssert() throws {
        let site = try Site()
        let unlisted = try site.request("GET", "/v1/whoami", client: site.pki + "/clients/ce-unlisted", user: "vbce-atlas001")
        #expect(unlisted.status == 403 && unlisted.body.contains("not a relay"), "\(unlisted)")
        let submit = try site.request("POST", "/v1/jobs", client: site.pki + "/clients/ce-unlisted", user: "vbce-atlas001",
                                      body: Site.submission)
        #expect(submit.status == 403)
        #expect(try site.d.client.jobs(all: true).isEmpty)
    }

    @Test func relayAssertingAnOperatorIsRefused() throws {
        let site = try Site()
        let relay = site.pki + "/clients/ce1"
        // By name, by an operator group, as root, or as uid 0 under another name.
        let byName = try site.request("GET", "/v1/whoami", client: relay, user: "opsuser")
        #expect(byName.status == 403 && byName.body.contains("relays never act for operators"), "\(byName)")
        #expect(try site.request("GET", "/v1/whoami", client: relay, user: "root", uid: 0).status == 403)
        #expect(try site.request("GET", "/v1/whoami", client: relay, user: "someone", uid: 0).status == 403)
        #expect(try site.request("POST", "/v1/reload", client: relay, user: "opsuser").status == 403)
    }

    @Test func expiredTokenIsRefused() throws {
        let site = try Site()
        let shortLived = try site.token("user", for: "vbce-atlas001", lifetime: "1s")
        Thread.sleep(forTimeInterval: 2.2)
        let expired = try site.request("GET", "/v1/whoami", token: shortLived)
        #expect(expired.status == 401 && expired.body.contains("expired"), "\(expired)")
    }

    @Test func revokedTokenIsRefused() throws {
        let site = try Site()
        let revoked = try site.token("user", for: "vbce-atlas001")
        #expect(try site.request("GET", "/v1/whoami", token: revoked).status == 200)
        let id = revoked.split(separator: "_")[1]
        #expect(try site.d.vbatch(["token", "revoke", String(id)]).status == 0)
        let afterRevoke = try site.request("GET", "/v1/whoami", token: revoked)
        #expect(afterRevoke.status == 401 && afterRevoke.body.contains("revoked"), "\(afterRevoke)")
        // Nor does a forged secret for a real token id get in.
        let forged = "vbt_\(id)_" + String(repeating: "A", count: 43)
        #expect(try site.request("GET", "/v1/whoami", token: forged).status == 401)
    }

    @Test func readTokenCannotSubmit() throws {
        let site = try Site()
        let read = try site.token("read", for: "vbce-atlas001")
        #expect(try site.request("GET", "/v1/jobs", token: read).status == 200)
        let readSubmit = try site.request("POST", "/v1/jobs", token: read, body: Site.submission)
        #expect(readSubmit.status == 403 && readSubmit.body.contains("\"code\":\"forbidden\""), "\(readSubmit)")
        #expect(try site.d.client.jobs(all: true).isEmpty)
    }

    @Test func userTokenCannotActOnAnotherUsersJob() throws {
        let site = try Site()
        let owned = try site.request("POST", "/v1/jobs", client: site.pki + "/clients/ce1", user: "vbce-atlas001", groups: "atlas",
                                     body: Site.submission)
        let job = try Self.decode(SubmitResponse.self, owned.body).ids[0]
        let other = try site.token("user", for: "vbce-atlas002")
        #expect(try site.request("DELETE", "/v1/jobs/\(job)", token: other).status == 403)
        #expect(try site.request("POST", "/v1/jobs/\(job)/release", token: other).status == 403)
        #expect(try site.request("GET", "/v1/jobs/\(job)/output", token: other).status == 403)
        #expect(try site.d.client.job(job).job.state == .held)
    }

    @Test func otherRefusals() throws {
        let site = try Site()
        let other = try site.token("user", for: "vbce-atlas002")
        // A user token on operator routes; tokens cannot make tokens; a token and an assertion together.
        #expect(try site.request("POST", "/v1/reload", token: other).status == 403)
        let chained = try site.request("POST", "/v1/tokens", token: other, body: #"{"scope":"user","lifetime":60}"#)
        #expect(chained.status == 403, "\(chained)")
        #expect(try site.request("GET", "/v1/whoami", token: other, client: site.pki + "/clients/ce1", user: "vbce-atlas001").status == 400)
        // Plain HTTP on the TLS port gets no API.
        let plain = try DaemonHarness.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                                            "http://127.0.0.1:\(site.port)/v1/whoami"],
                                          environment: [:], stdin: nil)
        #expect(plain.stdout != "200")
    }

    @Test func tokenPolicy() throws {
        let site = try Site()
        // Lifetimes are capped per scope; every token expires.
        let tooLong = try site.d.vbatch(["token", "create", "--scope", "user", "--lifetime", "3d", "--user", "alice"])
        #expect(tooLong.status != 0 && tooLong.stderr.contains("longer than the site allows"), "\(tooLong.stderr)")
        let operatorTooLong = try site.d.vbatch(["token", "create", "--scope", "operator", "--lifetime", "2h"])
        #expect(operatorTooLong.status != 0, "\(operatorTooLong.stdout)")
        // Users only for themselves; operator tokens only for operators, for themselves.
        let alice = try site.d.vbatch(as: "nobody", ["token", "create", "--scope", "user", "--lifetime", "1h", "--user", "alice"])
        #expect(alice.status != 0 && alice.stderr.contains("only operators may create tokens for other users"), "\(alice.stderr)")
        let nobodyOperator = try site.d.vbatch(as: "nobody", ["token", "create", "--scope", "operator", "--lifetime", "1h"])
        #expect(nobodyOperator.status != 0)
        let own = try site.d.vbatch(as: "nobody", ["token", "create", "--scope", "read", "--lifetime", "1h", "--name", "grafana"])
        #expect(own.status == 0, "\(own.stderr)")
        let listed = try site.d.vbatch(as: "nobody", ["token", "list"])
        #expect(listed.stdout.contains("grafana") && listed.stdout.contains("valid"))
        // Nobody sees or revokes another user's token.
        let foreign = try site.token("user", for: "someone-else")
        let foreignID = String(foreign.split(separator: "_")[1])
        #expect(try site.d.vbatch(as: "nobody", ["token", "revoke", foreignID]).status != 0)
        #expect(try site.d.vbatch(as: "nobody", ["token", "list", "--all"]).status != 0)
        // An operator token works on operator routes, through TLS.
        let ops = try site.d.vbatch(["token", "create", "--scope", "operator", "--lifetime", "30m"])
        let opsToken = String(ops.stdout.split(separator: "\n")[0])
        let drain = try site.request("POST", "/v1/nodes/wn1/state", token: opsToken, body: #"{"enabled":false,"reason":"test"}"#)
        #expect(drain.status == 200, "\(drain)")
        // Tokens survive a daemon restart (they are in the store), revocations too.
        site.d.stop()
        try site.d.start()
        #expect(try site.request("GET", "/v1/whoami", token: opsToken).status == 200)
    }
}
