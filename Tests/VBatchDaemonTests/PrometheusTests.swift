import Foundation
import Testing
import VBatchAPI
import VBatchClient

/// The monitoring kit of scripts/monitoring against a real vbatchd on simulated nodes and a
/// real Prometheus (Debian's `prometheus` package): `/metrics` passes `promtool check
/// metrics`, the alert rules pass `promtool check rules` and their unit tests, Prometheus
/// scrapes vbatchd over TLS with a read token using the shipped example configuration, every
/// expression of the Grafana dashboard evaluates, and draining a node fires the shipped
/// drained-node alert.
@Suite("Prometheus", .serialized)
struct PrometheusTests {
    static let monitoring = DaemonHarness.repository + "/scripts/monitoring"
    static let alerts = monitoring + "/vbatch-alerts.yml"
    static let alertTests = monitoring + "/vbatch-alerts.test.yml"
    static let exampleConfig = monitoring + "/prometheus.yml"
    static let dashboard = monitoring + "/grafana-dashboard.json"

    @Test func prometheusScrapesVBatchdAndTheShippedAlertsFire() throws {
        let root = NSTemporaryDirectory() + "vbatch-prometheus-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let pki = root + "/pki"
        let made = try DaemonHarness.run(DaemonHarness.repository + "/scripts/make-test-pki.sh", [pki, "127.0.0.1"],
                                         environment: [:], stdin: nil)
        guard made.status == 0 else { throw HarnessError("make-test-pki.sh failed: \(made.stderr)") }
        let ca = pki + "/ca/cacert.pem"
        let apiPort = try APIAccessTests.freePort()
        let d = try DaemonHarness(site: Self.site(port: apiPort, pki: pki))
        try d.start()
        let target = "127.0.0.1:\(apiPort)"

        // A read token, as docs/operations.md says to make one for Prometheus.
        let created = try d.vbatch(["token", "create", "--scope", "read", "--lifetime", "1h", "--user", "prometheus",
                                    "--name", "prometheus"])
        guard created.status == 0, let token = created.stdout.split(separator: "\n").first else {
            throw HarnessError("token create failed: \(created.stderr)")
        }
        let tokenFile = root + "/vbatch-token"
        try (String(token) + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)

        // Jobs: three that exit 0, one that exits 3 (completed too), one cancelled while it runs.
        let ok = try d.submitJobs("#!/bin/sh\ntrue\n", ["-q", "grid", "--count", "3", "-v", "VBATCH_SIM_RUNTIME=0.2"])
        let bad = try d.submitJobs("#!/bin/sh\nfalse\n", ["-q", "grid", "-v", "VBATCH_SIM_RUNTIME=0.2", "-v", "VBATCH_SIM_EXIT=3"])
        let long = try d.submitJobs("#!/bin/sh\nsleep 600\n", ["-q", "grid", "-v", "VBATCH_SIM_RUNTIME=600"])
        try d.waitRunning(long, timeout: 60)
        let cancelled = try d.vbatch(["cancel"] + long.map(String.init))
        #expect(cancelled.status == 0, "\(cancelled.stderr)")
        try d.waitEnded(ok + bad + long, timeout: 60)
        #expect(ok.count == 3)

        // (a) /metrics over TLS with the token is clean for promtool; without a token it is refused.
        let metrics = try Self.curl(["--cacert", ca, "-H", "Authorization: Bearer \(token)", "https://\(target)/metrics"])
        #expect(metrics.status == 200, "GET /metrics: \(metrics.body.prefix(500))")
        let lint = try DaemonHarness.run("/usr/bin/promtool", ["check", "metrics"], environment: [:], stdin: metrics.body)
        #expect(lint.status == 0, "promtool check metrics: \(lint.stdout)\(lint.stderr)")
        #expect(try Self.curl(["--cacert", ca, "https://\(target)/metrics"]).status == 401)
        let exposed = Self.families(in: metrics.body)
        for family in ["vbatch_queue_jobs", "vbatch_node_state", "vbatch_node_slots", "vbatch_jobs_ended_total",
                       "vbatch_job_wait_seconds", "vbatch_scheduler_last_cycle_timestamp_seconds",
                       "vbatch_state_filesystem_avail_bytes", "vbatch_api_requests_total"] {
            #expect(exposed.contains(family), "/metrics has no \(family)")
        }

        // (b) The shipped rules are valid and their unit tests pass.
        let checked = try DaemonHarness.run("/usr/bin/promtool", ["check", "rules", Self.alerts], environment: [:], stdin: nil)
        #expect(checked.status == 0, "promtool check rules: \(checked.stdout)\(checked.stderr)")
        let tested = try DaemonHarness.run("/usr/bin/promtool", ["test", "rules", Self.alertTests], environment: [:], stdin: nil)
        #expect(tested.status == 0, "promtool test rules: \(tested.stdout)\(tested.stderr)")
        // Every metric the alerts and the dashboard use is one vbatchd defines.
        let defined = try Self.definedFamilies()
        for file in [Self.alerts, Self.dashboard] {
            for name in Self.metricNames(in: try String(contentsOfFile: file, encoding: .utf8)) {
                #expect(defined.contains(name), "\((file as NSString).lastPathComponent) uses \(name), which vbatchd does not export")
            }
        }

        // (c) A real Prometheus with the shipped example configuration, pointed at this daemon.
        let prometheus = try PrometheusProcess(root: root + "/prometheus",
                                               config: try Self.testConfig(target: target, ca: ca, tokenFile: tokenFile))
        defer { prometheus.stop() }
        try prometheus.waitReady()
        try prometheus.waitTargetUp()
        try prometheus.waitRulesLoaded(group: "vbatch")

        #expect(try prometheus.value("vbatch_node_slots{node=\"wn1\"}") == 4)
        #expect(try prometheus.value("sum(vbatch_node_slots)") == 8)
        #expect(try prometheus.value("vbatch_node_state{node=\"wn2\", state=\"up\"}") == 1)
        #expect(try prometheus.value("sum(vbatch_jobs_ended_total{outcome=\"completed\"})") == 4)
        #expect(try prometheus.value("sum(vbatch_jobs_ended_total{outcome=\"cancelled\"})") == 1)
        #expect(try prometheus.value("sum(vbatch_jobs_submitted_total)") == 5)
        #expect(try prometheus.value("sum(vbatch_jobs_started_total{vm=\"on_demand\"})") == 5)
        #expect(try prometheus.value("sum(vbatch_job_wait_seconds_count)") == 5)
        #expect(try prometheus.value("sum(vbatch_queue_jobs)") == 0)
        #expect(try prometheus.value("up{job=\"vbatch\"}") == 1)
        #expect(try prometheus.value("time() - vbatch_scheduler_last_cycle_timestamp_seconds").map { $0 < 30 } == true)

        // Every panel's expressions evaluate, with Grafana's variables as Grafana would fill them in.
        let expressions = try Self.dashboardExpressions()
        #expect(expressions.count >= 20)
        for expression in expressions {
            let query = expression.replacingOccurrences(of: "$__rate_interval", with: "1m")
                .replacingOccurrences(of: "$instance", with: ".*")
            let answer = try prometheus.query(query)
            #expect(answer.ok, "dashboard expression \(expression): \(answer.error)")
        }

        // Drain wn2 (no job on it): the shipped VBatchNodeDrained alert fires for wn2 after its `for`.
        let drained = try d.vbatch(["node", "drain", "wn2", "--reason", "prometheus test"])
        #expect(drained.status == 0, "\(drained.stderr)")
        let firing = try prometheus.waitAlert("VBatchNodeDrained", node: "wn2", state: "firing", timeout: 110)
        #expect(firing["severity"] == "info")
        #expect(try prometheus.value("vbatch_node_state{node=\"wn2\", state=\"drained\"}") == 1)
        #expect(try prometheus.value("vbatch_node_slots_used{node=\"wn2\"}") == 0)
        #expect(try prometheus.alerts().allSatisfy { !($0.labels["alertname"] == "VBatchNodeDrained" && $0.labels["node"] == "wn1") })
    }

    // MARK: - Support

    /// Two simulated nodes and the TLS listener on 127.0.0.1.
    static func site(port: Int, pki: String) -> String {
        """
        [site]
        name = "test"
        operators = ["root"]

        [vo.atlas]
        share = 50
        groups = ["atlas"]

        [vo.cms]
        share = 50
        users = ["cms001"]

        [api]
        listen = "127.0.0.1:\(port)"
        certificate = "\(pki)/hosts/127.0.0.1/servercert.pem"
        key = "\(pki)/hosts/127.0.0.1/serverkey.pem"
        ca = "\(pki)/ca/cacert.pem"

        [node.wn1]
        uri = "sim://"
        slots = 4
        memory = "16gb"

        [node.wn2]
        uri = "sim://"
        slots = 4
        memory = "16gb"
        """
    }

    /// scripts/monitoring/prometheus.yml with this test's target, CA, token, 1 s intervals and
    /// the shipped alert rules by absolute path; each placeholder must be in the example.
    static func testConfig(target: String, ca: String, tokenFile: String) throws -> String {
        var text = try String(contentsOfFile: exampleConfig, encoding: .utf8)
        for (placeholder, value) in [("scrape_interval: 15s", "scrape_interval: 1s"),
                                     ("evaluation_interval: 15s", "evaluation_interval: 1s"),
                                     ("- vbatch-alerts.yml", "- \(alerts)"),
                                     ("/etc/prometheus/vbatch-ca.pem", ca),
                                     ("/etc/prometheus/vbatch-token", tokenFile),
                                     ("vbatch.example.org:8443", target)] {
            guard text.contains(placeholder) else { throw HarnessError("prometheus.yml no longer has \(placeholder)") }
            text = text.replacingOccurrences(of: placeholder, with: value)
        }
        return text
    }

    /// Every `expr` of the dashboard's panels (rows' nested panels included).
    static func dashboardExpressions() throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dashboard))
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HarnessError("the dashboard is not a JSON object")
        }
        let inputs = json["__inputs"] as? [[String: Any]] ?? []
        #expect(inputs.contains { $0["name"] as? String == "DS_PROMETHEUS" && $0["pluginId"] as? String == "prometheus" })
        var expressions: [String] = []
        func walk(_ panels: [[String: Any]]) {
            for panel in panels {
                walk(panel["panels"] as? [[String: Any]] ?? [])
                guard panel["type"] as? String != "row" else { continue }
                let source = panel["datasource"] as? [String: Any]
                #expect(source?["uid"] as? String == "${DS_PROMETHEUS}", "panel \(panel["title"] ?? "?") has another datasource")
                let targets = panel["targets"] as? [[String: Any]] ?? []
                #expect(!targets.isEmpty, "panel \(panel["title"] ?? "?") has no query")
                expressions += targets.compactMap { $0["expr"] as? String }
            }
        }
        walk(json["panels"] as? [[String: Any]] ?? [])
        return expressions
    }

    /// Metric family names (`# TYPE` lines) of an exposition.
    static func families(in exposition: String) -> Set<String> {
        Set(exposition.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            return words.count >= 3 && words[0] == "#" && words[1] == "TYPE" ? String(words[2]) : nil
        })
    }

    /// The families vbatchd defines (the string literals of SiteMetrics), with the series
    /// names a histogram adds.
    static func definedFamilies() throws -> Set<String> {
        let source = try String(contentsOfFile: DaemonHarness.repository + "/Sources/VBatchDaemon/SiteMetrics.swift", encoding: .utf8)
        var names: Set<String> = []
        for name in metricNames(in: source) {
            names.formUnion([name, name + "_bucket", name + "_count", name + "_sum"])
        }
        return names
    }

    /// `vbatch_…` names in a text.
    static func metricNames(in text: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: "vbatch_[a-z_]+[a-z]")
        let range = NSRange(text.startIndex..., in: text)
        return Set(pattern.matches(in: text, range: range).compactMap { Range($0.range, in: text).map { String(text[$0]) } })
    }

    /// One request through curl: (HTTP status, body).
    static func curl(_ arguments: [String]) throws -> (status: Int, body: String) {
        let r = try DaemonHarness.run("/usr/bin/curl", ["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"] + arguments,
                                      environment: [:], stdin: nil)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }
}

/// A Prometheus server on a free loopback port with its own data directory; `stop()` ends it.
final class PrometheusProcess {
    let root: String
    let port: Int
    private let process = Process()
    private var log: String { root + "/prometheus.log" }

    init(root: String, config: String) throws {
        self.root = root
        port = try APIAccessTests.freePort()
        try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
        try config.write(toFile: root + "/prometheus.yml", atomically: true, encoding: .utf8)
        let check = try DaemonHarness.run("/usr/bin/promtool", ["check", "config", root + "/prometheus.yml"], environment: [:], stdin: nil)
        guard check.status == 0 else { throw HarnessError("promtool check config: \(check.stdout)\(check.stderr)\n\(config)") }
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = FileHandle(forWritingAtPath: log)!
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = ["--config.file=\(root)/prometheus.yml", "--storage.tsdb.path=\(root)/data",
                             "--web.listen-address=127.0.0.1:\(port)", "--storage.tsdb.retention.time=1h"]
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    deinit { stop() }

    /// Terminates the server and waits for it (idempotent).
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    var logTail: String { String(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").suffix(3000)) }

    func waitReady(timeout: Double = 30) throws {
        try poll("Prometheus ready", timeout: timeout) { try self.get("/-/ready").status == 200 }
    }

    /// Waits until the `vbatch` job's target was scraped successfully.
    func waitTargetUp(timeout: Double = 30) throws {
        var last = ""
        try poll("the vbatch target up (last: \(last))", timeout: timeout) {
            let targets = try self.json(self.get("/api/v1/targets").body)
            let active = (targets["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]] ?? []
            last = active.map { "\($0["scrapeUrl"] ?? "?"): \($0["health"] ?? "?") \($0["lastError"] ?? "")" }.joined(separator: "; ")
            return active.contains { ($0["labels"] as? [String: String])?["job"] == "vbatch" && $0["health"] as? String == "up" }
        }
    }

    func waitRulesLoaded(group: String, timeout: Double = 20) throws {
        try poll("rule group \(group) loaded", timeout: timeout) {
            let rules = try self.json(self.get("/api/v1/rules").body)
            let groups = (rules["data"] as? [String: Any])?["groups"] as? [[String: Any]] ?? []
            return groups.contains { $0["name"] as? String == group && !(($0["rules"] as? [Any]) ?? []).isEmpty }
        }
    }

    /// An instant query: whether Prometheus accepted it, its error, and its result.
    func query(_ expression: String) throws -> (ok: Bool, error: String, result: [[String: Any]]) {
        let answer = try self.json(try curl(["--data-urlencode", "query=\(expression)", url("/api/v1/query")]).body)
        let data = answer["data"] as? [String: Any]
        return (answer["status"] as? String == "success", "\(answer["errorType"] ?? "") \(answer["error"] ?? "")",
                data?["result"] as? [[String: Any]] ?? [])
    }

    /// The value of a query with one series, or nil if it has none; throws on an error.
    func value(_ expression: String) throws -> Double? {
        let answer = try query(expression)
        guard answer.ok else { throw HarnessError("query \(expression): \(answer.error)") }
        guard answer.result.count <= 1 else { throw HarnessError("query \(expression): \(answer.result.count) series") }
        return ((answer.result.first?["value"] as? [Any])?.last as? String).flatMap(Double.init)
    }

    func alerts() throws -> [(labels: [String: String], state: String)] {
        let answer = try json(get("/api/v1/alerts").body)
        let list = (answer["data"] as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
        return list.map { ($0["labels"] as? [String: String] ?? [:], $0["state"] as? String ?? "") }
    }

    /// Waits until alert `name` for `node` is in `state`; its labels.
    func waitAlert(_ name: String, node: String, state: String, timeout: Double) throws -> [String: String] {
        var found: [String: String] = [:]
        var seen: [String] = []
        try poll("alert \(name) \(state) for \(node) (alerts seen: \(seen))", timeout: timeout) {
            let all = try self.alerts()
            seen = all.map { "\($0.labels["alertname"] ?? "?") \($0.labels["node"] ?? "") \($0.state)" }
            guard let alert = all.first(where: { $0.labels["alertname"] == name && $0.labels["node"] == node && $0.state == state })
            else { return false }
            found = alert.labels
            return true
        }
        return found
    }

    // MARK: - Plumbing

    private func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    private func get(_ path: String) throws -> (status: Int, body: String) { try curl([url(path)]) }

    private func curl(_ arguments: [String]) throws -> (status: Int, body: String) { try PrometheusTests.curl(arguments) }

    private func json(_ body: String) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw HarnessError("Prometheus answered no JSON object: \(body.prefix(300))")
        }
        return object
    }

    /// Polls `condition` every 250 ms; throws with `what`, Prometheus' log and whether it still runs on timeout.
    private func poll(_ what: @autoclosure () -> String, timeout: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { throw HarnessError("Prometheus exited (\(process.terminationStatus)): \(logTail)") }
            if (try? condition()) == true { return }
            usleep(250_000)
        }
        throw HarnessError("timed out after \(Int(timeout)) s waiting for \(what()); Prometheus log:\n\(logTail)")
    }
}
