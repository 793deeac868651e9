import Foundation
import VBatchCore
import VBatchDrivers

/// What `vbatch simulate` prints: the trace as read, the site as replayed, and the
/// simulation's report, as text or JSON.
struct ReplayReport {
    var trace: String
    /// The configuration replayed: its directory, and its site file when given apart.
    var source: String
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
    /// Slots of the largest node: no job wider than that can run (a VM never spans nodes).
    var widestNode: Int { configuration.nodes.map(\.slots).max() ?? 0 }
    /// Jobs of the trace wider than the widest node, as submitted (after `--max-cores`).
    var widerThanWidestNode: Int {
        let widest = widestNode
        return options.maxCores.map { $0 <= widest ? 0 : parsed.widerThan(widest) } ?? parsed.widerThan(widest)
    }

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
        if widerThanWidestNode > 0 {
            add("", "\(widerThanWidestNode) jobs wider than the widest node (\(widestNode) slots): refused (a VM never spans "
                + "nodes); --max-cores \(widestNode) runs them on one node")
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
        add("slowdown", String(format: "mean bounded slowdown %.2f (τ = %g s)", result.overall.meanBoundedSlowdown,
                               ReplayMetrics.slowdownThreshold))
        add("utilisation", String(format: "%.1f%%", result.utilization * 100))
        for (label, groups) in [("per queue", result.metrics(by: \.queue)), ("per VO", result.metrics(by: \.vo))] {
            for (i, name) in groups.keys.sorted().enumerated() {
                add(i == 0 ? label : "", "\(name): " + summary(groups[name]!))
            }
        }
        add("wall time", String(format: "%.3f s (parse %.3f s, replay %.3f s, %d scheduling cycles)",
                                parseSeconds + replaySeconds, parseSeconds, replaySeconds, result.cycles))

        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { label, value in
            label + String(repeating: " ", count: width - label.count + 2) + Self.clean(value)
        }.joined(separator: "\n") + "\n"
    }

    /// One queue's or VO's metrics on a line.
    func summary(_ m: ReplayMetrics) -> String {
        "\(m.jobs) jobs, \(m.started) started, \(m.backfilled) backfilled; wait mean \(duration(m.meanWait)), "
            + "median \(duration(m.medianWait)), p95 \(duration(m.p95Wait)); "
            + String(format: "slowdown %.2f; %.1f%% of the site", m.meanBoundedSlowdown, m.utilization * 100)
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
        struct Metrics: Encodable {
            var jobs: Int
            var started: Int
            var backfilled: Int
            var meanWait: Double
            var medianWait: Double
            var p95Wait: Double
            var maxWait: Double
            var meanBoundedSlowdown: Double
            var coreSeconds: Double
            var utilization: Double

            init(_ m: ReplayMetrics) {
                (jobs, started, backfilled) = (m.jobs, m.started, m.backfilled)
                (meanWait, medianWait, p95Wait, maxWait) = (m.meanWait, m.medianWait, m.p95Wait, m.maxWait)
                (meanBoundedSlowdown, coreSeconds, utilization) = (m.meanBoundedSlowdown, m.coreSeconds, m.utilization)
            }

            enum CodingKeys: String, CodingKey {
                case jobs, started, backfilled, meanWait = "mean_wait", medianWait = "median_wait", p95Wait = "p95_wait"
                case maxWait = "max_wait", meanBoundedSlowdown = "mean_bounded_slowdown", coreSeconds = "core_seconds"
                case utilization
            }
        }

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
        var source: String
        var jobsRead: Int
        var linesSkipped: Int
        /// The first skipped lines (at most 100).
        var skipped: [Skipped]
        var maxCores: Int?
        var clamped: Int
        var widestNode: Int
        var widerThanWidestNode: Int
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
        var meanBoundedSlowdown: Double
        var slowdownThreshold: Double
        var byQueue: [String: Metrics]
        var byVO: [String: Metrics]
        var parseSeconds: Double
        var replaySeconds: Double

        // Spelled out rather than `.convertToSnakeCase`, which would also rewrite the queue
        // names used as keys of `queue_jobs`.
        enum CodingKeys: String, CodingKey {
            case trace, source, jobsRead = "jobs_read", linesSkipped = "lines_skipped", skipped, maxCores = "max_cores", clamped
            case widestNode = "widest_node", widerThanWidestNode = "wider_than_widest_node"
            case walltimeFactor = "walltime_factor", site, nodes, slots, queue, poolsNotModelled = "pools_not_modelled"
            case submitted, rejected, rejections, started, completed, killedForWalltime = "killed_for_walltime"
            case neverStarted = "never_started", backfilled, queueJobs = "queue_jobs", cycles, makespan
            case meanWait = "mean_wait", medianWait = "median_wait", p95Wait = "p95_wait", maxWait = "max_wait"
            case utilization, meanBoundedSlowdown = "mean_bounded_slowdown", slowdownThreshold = "slowdown_threshold"
            case byQueue = "by_queue", byVO = "by_vo", parseSeconds = "parse_seconds", replaySeconds = "replay_seconds"
        }
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(form()), as: UTF8.self) + "\n"
    }

    func form() -> JSONForm {
        JSONForm(
            trace: trace, source: source, jobsRead: parsed.jobs.count, linesSkipped: parsed.skipped.count,
            skipped: parsed.skipped.prefix(100).map { .init(line: $0.line, kind: $0.kind.rawValue, reason: $0.reason) },
            maxCores: options.maxCores, clamped: clamped, widestNode: widestNode, widerThanWidestNode: widerThanWidestNode,
            walltimeFactor: options.walltimeFactor,
            site: configuration.site.name, nodes: configuration.nodes.count, slots: slots, queue: queue,
            poolsNotModelled: droppedPools, submitted: result.submitted, rejected: result.rejected,
            rejections: result.commonestRejections.map { .init(limits: $0.limits, count: $0.count) },
            started: result.started, completed: result.completed, killedForWalltime: result.killedForWalltime,
            neverStarted: result.neverStarted, backfilled: result.backfilled, queueJobs: result.queueJobs,
            cycles: result.cycles, makespan: result.makespan, meanWait: result.meanWait, medianWait: result.medianWait,
            p95Wait: result.p95Wait, maxWait: result.maxWait, utilization: result.utilization,
            meanBoundedSlowdown: result.overall.meanBoundedSlowdown, slowdownThreshold: ReplayMetrics.slowdownThreshold,
            byQueue: result.metrics(by: \.queue).mapValues(JSONForm.Metrics.init),
            byVO: result.metrics(by: \.vo).mapValues(JSONForm.Metrics.init),
            parseSeconds: parseSeconds, replaySeconds: replaySeconds)
    }
}
