import Foundation
import VBatchCore
import VBatchDrivers

/// What `vbatch simulate` prints: the trace as read, the site as replayed, and the
/// simulation's report, as text or JSON.
struct ReplayReport {
    var trace: String
    var parsed: SWFTrace
    var configuration: Configuration
    var queue: String
    var options: SWFTrace.ReplayOptions
    /// Pools of the site file, which the replay does not model.
    var droppedPools: Int
    var result: SiteSimulation.Report
    var parseSeconds: Double
    var replaySeconds: Double

    /// Rejection reasons listed in the text report.
    static let rejectionsShown = 5

    var slots: Int { configuration.nodes.reduce(0) { $0 + $1.slots } }
    var clamped: Int { options.maxCores.map(parsed.widerThan) ?? 0 }

    // MARK: Text

    func text(skippedShown: Int) -> String {
        var lines: [(String, String)] = []
        func add(_ label: String, _ value: String) { lines.append((label, value)) }

        let header = parsed.maxNodes.map { "; header MaxNodes \($0)" } ?? ""
        add("trace", "\(trace): \(parsed.jobs.count) jobs read, \(parsed.skipped.count) lines skipped\(header)")
        for skip in parsed.skipped.prefix(skippedShown) { add("", "skipped \(skip)") }
        if parsed.skipped.count > skippedShown {
            let kinds = SWFTrace.SkippedLine.Kind.allCases.compactMap { kind -> String? in
                let n = parsed.skipped.count { $0.kind == kind }
                return n > 0 ? "\(kind.rawValue) \(n)" : nil
            }
            add("", "… and \(parsed.skipped.count - skippedShown) more (\(kinds.joined(separator: ", ")))")
        }
        if let maxCores = options.maxCores, clamped > 0 {
            add("", "\(clamped) jobs wider than \(maxCores) processors submitted with \(maxCores) cores")
        }
        let nodes = configuration.nodes.count
        let pools = droppedPools > 0 ? "; \(droppedPools) pool\(droppedPools == 1 ? "" : "s") not modelled" : ""
        add("site", "\(configuration.site.name): \(nodes) node\(nodes == 1 ? "" : "s"), \(slots) slots, all simulated; "
            + "jobs to queue \(queue)\(pools)")
        add("jobs", "\(result.submitted) submitted, \(result.rejected) rejected, \(result.started) started "
            + "(\(result.completed) completed, \(result.killedForWalltime) killed at walltime), "
            + "\(result.neverStarted) never started")
        add("backfilled", String(result.backfilled))
        let rejections = result.commonestRejections
        for (i, r) in rejections.prefix(Self.rejectionsShown).enumerated() {
            add(i == 0 ? "rejected" : "", "\(r.count)  \(r.limits)")
        }
        if rejections.count > Self.rejectionsShown {
            let rest = rejections.dropFirst(Self.rejectionsShown).reduce(0) { $0 + $1.count }
            add("", "\(rest)  (\(rejections.count - Self.rejectionsShown) other reasons)")
        }
        let perQueue = configuration.executionQueues.compactMap { q in result.queueJobs[q.name].map { "\(q.name) \($0)" } }
        add("queues", perQueue.isEmpty ? "-" : perQueue.joined(separator: ", "))
        add("makespan", "\(duration(result.makespan)) (\(number(result.makespan)) s)")
        add("wait", "mean \(duration(result.meanWait)), median \(duration(result.medianWait)), "
            + "p95 \(duration(result.p95Wait)), max \(duration(result.maxWait))")
        add("utilisation", String(format: "%.1f%%", result.utilization * 100))
        add("wall time", String(format: "%.3f s (parse %.3f s, replay %.3f s, %d scheduling cycles)",
                                parseSeconds + replaySeconds, parseSeconds, replaySeconds, result.cycles))

        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { label, value in
            label + String(repeating: " ", count: width - label.count + 2) + Self.clean(value)
        }.joined(separator: "\n") + "\n"
    }

    /// `1d2h3m4s`, to the second.
    func duration(_ seconds: Double) -> String { Quantities.formatWalltime(Int(seconds.rounded())) }

    func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v) }

    /// Control characters (from a trace path or a config name) shown as `?`.
    static func clean(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }

    // MARK: JSON

    struct JSONForm: Encodable {
        struct Rejection: Encodable {
            var limits: String
            var count: Int
        }

        struct Skipped: Encodable {
            var line: Int
            var kind: String
            var reason: String
        }

        var trace: String
        var jobsRead: Int
        var linesSkipped: Int
        /// The first skipped lines (at most 100).
        var skipped: [Skipped]
        var maxCores: Int?
        var clamped: Int
        var walltimeFactor: Double
        var site: String
        var nodes: Int
        var slots: Int
        var queue: String
        var poolsNotModelled: Int
        var submitted: Int
        var rejected: Int
        var rejections: [Rejection]
        var started: Int
        var completed: Int
        var killedForWalltime: Int
        var neverStarted: Int
        var backfilled: Int
        var queueJobs: [String: Int]
        var cycles: Int
        var makespan: Double
        var meanWait: Double
        var medianWait: Double
        var p95Wait: Double
        var maxWait: Double
        var utilization: Double
        var parseSeconds: Double
        var replaySeconds: Double

        // Spelled out rather than `.convertToSnakeCase`, which would also rewrite the queue
        // names used as keys of `queue_jobs`.
        enum CodingKeys: String, CodingKey {
            case trace, jobsRead = "jobs_read", linesSkipped = "lines_skipped", skipped, maxCores = "max_cores", clamped
            case walltimeFactor = "walltime_factor", site, nodes, slots, queue, poolsNotModelled = "pools_not_modelled"
            case submitted, rejected, rejections, started, completed, killedForWalltime = "killed_for_walltime"
            case neverStarted = "never_started", backfilled, queueJobs = "queue_jobs", cycles, makespan
            case meanWait = "mean_wait", medianWait = "median_wait", p95Wait = "p95_wait", maxWait = "max_wait"
            case utilization, parseSeconds = "parse_seconds", replaySeconds = "replay_seconds"
        }
    }

    func json() throws -> String {
        let form = JSONForm(
            trace: trace, jobsRead: parsed.jobs.count, linesSkipped: parsed.skipped.count,
            skipped: parsed.skipped.prefix(100).map { .init(line: $0.line, kind: $0.kind.rawValue, reason: $0.reason) },
            maxCores: options.maxCores, clamped: clamped, walltimeFactor: options.walltimeFactor,
            site: configuration.site.name, nodes: configuration.nodes.count, slots: slots, queue: queue,
            poolsNotModelled: droppedPools, submitted: result.submitted, rejected: result.rejected,
            rejections: result.commonestRejections.map { .init(limits: $0.limits, count: $0.count) },
            started: result.started, completed: result.completed, killedForWalltime: result.killedForWalltime,
            neverStarted: result.neverStarted, backfilled: result.backfilled, queueJobs: result.queueJobs,
            cycles: result.cycles, makespan: result.makespan, meanWait: result.meanWait, medianWait: result.medianWait,
            p95Wait: result.p95Wait, maxWait: result.maxWait, utilization: result.utilization,
            parseSeconds: parseSeconds, replaySeconds: replaySeconds)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(form), as: UTF8.self) + "\n"
    }
}
