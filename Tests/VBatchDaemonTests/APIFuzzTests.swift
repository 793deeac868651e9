import Foundation
import Testing

/// schemathesis (from PyPI; scripts/test.sh installs it in .build/schemathesis-venv) fuzzes
/// the OpenAPI document the daemon serves, over TLS with a user token: every response must
/// be a documented status with a documented body, and none a server error.
@Suite("API fuzzing (schemathesis)", .serialized)
struct APIFuzzTests {
    /// `$VBATCH_SCHEMATHESIS`, else the test command's virtual environment.
    static let schemathesis: String = {
        if let path = ProcessInfo.processInfo.environment["VBATCH_SCHEMATHESIS"], !path.isEmpty { return path }
        return DaemonHarness.repository + "/.build/schemathesis-venv/bin/schemathesis"
    }()

    @Test func servedDocumentHoldsUnderFuzzingWithAUserToken() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.schemathesis) else {
            Issue.record("schemathesis is not installed at \(Self.schemathesis): run scripts/test.sh, or set VBATCH_SCHEMATHESIS")
            return
        }
        let site = try APIAccessTests.Site()
        // The fuzzed user owns some jobs (held, so they stay), and another user owns one too.
        let relay = site.pki + "/clients/ce1"
        for user in ["fuzzer", "fuzzer", "someone-else"] {
            let r = try site.request("POST", "/v1/jobs", client: relay, user: user, body: APIAccessTests.Site.submission)
            #expect(r.status == 201, "\(r)")
        }
        let token = try site.token("user", for: "fuzzer")
        let examples = ProcessInfo.processInfo.environment["VBATCH_SCHEMATHESIS_EXAMPLES"] ?? "40"
        let report = site.d.root + "/schemathesis.json"
        // From the daemon's temporary directory: schemathesis keeps its example database in ./.schemathesis.
        let r = try DaemonHarness.run("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", site.d.root, Self.schemathesis,
            "run", site.url + "/v1/openapi.json", "--tls-verify", site.pki + "/ca/cacert.pem",
            "-H", "Authorization: Bearer \(token)",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples", examples, "--seed", "11", "--workers", "1", "--request-timeout", "30",
            "--report", "ndjson", "--report-ndjson-path", report,
        ], environment: ["HOME": site.d.root, "PATH": "/usr/bin:/bin", "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"],
           stdin: nil)
        #expect(r.status == 0, "schemathesis found problems:\n\(r.stdout.suffix(6000))\n\(r.stderr.suffix(2000))")
        // "N generated, N passed": every generated case passed (a failure would add "M failed").
        let cases = r.stdout.split(separator: "\n").first { $0.contains(" generated, ") } ?? ""
        let counts = cases.matches(of: /(\d+) (generated|passed)/).map { ($0.output.2, Int($0.output.1) ?? -1) }
        #expect(counts.count == 2 && counts[0].1 > 0 && counts[0].1 == counts[1].1, "\(cases)")
        // The daemon stayed up and kept its data.
        let alive = (try? site.d.client.whoami().user) == "root"
        #expect(alive)
        let clean = r.status == 0 && counts.count == 2 && counts[0].1 > 0 && counts[0].1 == counts[1].1 && alive
        try ReliabilityRecord(id: "R7", subject: "schemathesis, \(examples) examples per operation, user token", rounds: 1,
                              checks: Dictionary(counts.map { ($0.0 == "generated" ? "cases" : "passed", $0.1) }) { $1 },
                              passed: clean).append()
    }
}
