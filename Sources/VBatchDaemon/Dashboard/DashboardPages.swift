import Foundation
import VBatchAPI
import VBatchCore
import VBatchStore

/// The dashboard's pages, rendered on the server. Each page is a layout around a `<main>`
/// whose contents the browser replaces when live updates arrive (`?fragment=1` returns
/// just those contents), so the HTML is written in one place only.
enum DashboardPages {
    enum Tab: String { case overview, jobs, nodes }

    /// The full document around `main`.
    static func layout(title: String, tab: Tab?, caller: Caller, site: String, main: String) -> String {
        func link(_ t: Tab, _ label: String, _ href: String) -> String {
            "<a href=\"\(href)\"\(t == tab ? " class=\"active\" aria-current=\"page\"" : "")>\(label)</a>"
        }
        let role = caller.isOperator ? "operator" : caller.authority.scopeName
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.escape(title)) · vbatch \(HTML.escape(site))</title>
            <link rel="icon" href="data:,">
            <link rel="stylesheet" href="/ui/static/app.css">
            <script src="/ui/static/app.js" defer></script>
            </head><body data-operator="\(caller.isOperator ? "1" : "0")">
            <header class="topbar"><span class="brand">vbatch <small>\(HTML.escape(site))</small></span>
            <nav>\(link(.overview, "Overview", "/ui/"))\(link(.jobs, "Jobs", "/ui/jobs"))\(link(.nodes, "Nodes", "/ui/nodes"))</nav>
            <span class="who"><span id="live" class="live" title="live updates">●</span>
            \(HTML.escape(caller.user)) <span class="badge role">\(role)</span>
            <form method="post" action="/ui/logout"><button class="link">sign out</button></form></span></header>
            <main id="main">\(main)</main>
            <div id="toast" role="status"></div>
            </body></html>
            """
    }

    // MARK: - Overview

    static func overview(_ data: DashboardOverview, caller: Caller, configuration: Configuration) -> String {
        let snapshot = data.snapshot
        func jobs(_ state: JobState) -> Int { snapshot.jobs.filter { $0.state == state }.map(\.jobs).reduce(0, +) }
        let nodes = snapshot.nodes
        let up = nodes.filter { $0.state == .up }.count
        let drained = nodes.filter { $0.state == .drained || $0.state == .draining }.count
        let unreachable = nodes.filter { [.unreachable, .connecting, .fenced, .failed].contains($0.state) }.count
        let slots = nodes.map(\.slots).reduce(0, +), used = nodes.map(\.usedSlots).reduce(0, +)
        let cycleAge = snapshot.lastCycle.map { max(0, snapshot.time - $0) }
        let tiles = [
            tile("Nodes", "\(up) up", "\(drained) drained · \(unreachable) unreachable", alert: unreachable > 0),
            tile("Slots", "\(used) / \(slots)", slots > 0 ? "\(used * 100 / slots)% in use" : "no slots"),
            tile("Jobs", "\(jobs(.queued)) queued", "\(jobs(.running) + jobs(.starting)) running · \(jobs(.held) + jobs(.saved)) held"),
            tile("Starts", "\(data.startsLastMinute)/min", "in the last minute"),
            tile("Scheduler", cycleAge.map { HTML.duration($0) + " ago" } ?? "not yet", "last scheduling cycle",
                 alert: (cycleAge ?? 0) > 60),
        ].joined()
        return """
            <section class="tiles" id="tiles">\(tiles)</section>
            <section class="card"><h2>CPU map</h2>\(cpuMap(snapshot, caller: caller, configuration: configuration, actions: false))</section>
            <div class="columns">
            <section class="card"><h2>Queues</h2>\(queueTree(data.queues))</section>
            <section class="card"><h2>Fair share</h2>\(fairShare(snapshot, configuration: configuration))</section>
            </div>
            <section class="card"><h2>Last 24 hours</h2>\(lastDay(data.lastDay, now: snapshot.time))</section>
            """
    }

    static func tile(_ title: String, _ value: String, _ detail: String, alert: Bool = false) -> String {
        """
        <div class="tile\(alert ? " alert" : "")"><div class="tile-title">\(HTML.escape(title))</div>\
        <div class="tile-value">\(HTML.escape(value))</div><div class="tile-detail">\(HTML.escape(detail))</div></div>
        """
    }

    /// Every node as a strip of its host CPUs, coloured by the VO of the job pinned there.
    static func cpuMap(_ snapshot: SiteSnapshot, caller: Caller, configuration: Configuration, actions: Bool) -> String {
        var rows = ""
        for node in snapshot.nodes {
            var cells = ""
            for cpu in node.cpus {
                var classes = ["cpu"]
                var style = ""
                var title = "CPU \(cpu.cpu)"
                var data = "data-cpu=\"\(cpu.cpu)\""
                if let job = cpu.job {
                    let visible = caller.isOperator || cpu.owner == caller.user
                    let vo = cpu.vo ?? ""
                    style = " style=\"background:\(HTML.colour(vo: vo, configuration: configuration))\""
                    classes.append("busy")
                    data += " data-vo=\"\(HTML.escape(vo.isEmpty ? SiteMetrics.noVO : vo))\""
                    title += ": " + (visible ? "job \(job) of \(cpu.owner ?? "?"), " : "a job of ") + "VO \(vo.isEmpty ? "none" : vo)"
                        + (cpu.queue.map { ", queue \($0)" } ?? "")
                    if visible { data += " data-job=\"\(job)\"" }
                }
                if let pool = cpu.pool {
                    classes.append("pooled")
                    if let state = cpu.poolState { classes.append("pool-\(state)") }
                    title += cpu.job == nil ? ": \(cpu.poolState ?? "") pooled VM of pool \(pool)" : " (pooled VM of \(pool))"
                    data += " data-pool=\"\(HTML.escape(pool))\""
                }
                let cell = "<span class=\"\(classes.joined(separator: " "))\"\(style) \(data) title=\"\(HTML.escape(title))\"></span>"
                if let job = cpu.job, caller.isOperator || cpu.owner == caller.user {
                    cells += "<a href=\"/ui/jobs/\(job)\">\(cell)</a>"
                } else {
                    cells += cell
                }
            }
            var action = ""
            if actions && caller.isOperator {
                let name = HTML.escape(node.name)
                action = node.state == .drained || node.state == .draining || node.state == .failed
                    ? "<button class=\"btn\" data-action=\"resume-node\" data-node=\"\(name)\">Resume</button>"
                    : "<button class=\"btn warn\" data-action=\"drain-node\" data-node=\"\(name)\">Drain…</button>"
            }
            rows += """
                <div class="node-row" data-node="\(HTML.escape(node.name))" data-state="\(node.state.rawValue)">\
                <div class="node-name">\(HTML.escape(node.name)) <span class="badge node-\(node.state.rawValue)">\(node.state.rawValue)</span></div>\
                <div class="strip">\(cells)</div>\
                <div class="node-use">\(node.usedSlots)/\(node.slots) slots · \(node.freeMemoryMB / 1024) of \(node.memoryMB / 1024) GiB free</div>\
                <div class="node-note">\(HTML.escape(node.note ?? ""))</div><div class="node-actions">\(action)</div></div>
                """
        }
        var legend = configuration.vos.map { vo in
            "<span class=\"legend-item\" data-vo=\"\(HTML.escape(vo.name))\"><span class=\"swatch\" style=\"background:\(HTML.colour(vo: vo.name, configuration: configuration))\"></span>\(HTML.escape(vo.name))</span>"
        }
        legend.append("<span class=\"legend-item\" data-vo=\"none\"><span class=\"swatch\" style=\"background:\(HTML.noVOColour)\"></span>no VO</span>")
        legend.append("<span class=\"legend-item\"><span class=\"swatch cpu pooled pool-idle\"></span>idle pooled VM</span>")
        legend.append("<span class=\"legend-item\"><span class=\"swatch cpu pooled pool-booting\"></span>booting pooled VM</span>")
        legend.append("<span class=\"legend-item\"><span class=\"swatch cpu\"></span>free</span>")
        return "<div class=\"cpumap\" id=\"cpumap\">\(rows)</div><div class=\"legend\">\(legend.joined())</div>"
    }

    /// Routing queues with the execution queues they feed, then the execution queues no routing queue feeds.
    static func queueTree(_ queues: [QueueInfo]) -> String {
        let execution = Dictionary(queues.filter { $0.kind == "execution" }.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var fed = Set<String>()
        func executionItem(_ q: QueueInfo) -> String {
            var limits: [String] = []
            if let w = q.walltimeMax { limits.append("walltime ≤ \(Quantities.formatWalltime(w))") }
            if let c = q.maxCores { limits.append("≤ \(c) cores") }
            if let r = q.maxRunning { limits.append("≤ \(r) running") }
            if let r = q.maxRunningPerUser { limits.append("≤ \(r) per user") }
            if let v = q.vos { limits.append("VOs " + v.joined(separator: ", ")) }
            let state = !q.enabled ? "<span class=\"badge node-drained\">disabled</span>"
                : !q.started ? "<span class=\"badge node-drained\">stopped</span>" : ""
            return """
                <li class="queue" data-queue="\(HTML.escape(q.name))"><a href="/ui/jobs?queue=\(HTML.query(q.name))">\(HTML.escape(q.name))</a> \(state)\
                <span class="counts">\(q.queued - (q.held ?? 0)) queued · \(q.running) running · \(q.held ?? 0) held</span>\
                <div class="limits">\(HTML.escape(limits.joined(separator: " · ")))</div>\
                \(q.note.map { "<div class=\"note\">\(HTML.escape($0))</div>" } ?? "")</li>
                """
        }
        var html = "<ul class=\"tree\">"
        for q in queues where q.kind == "routing" {
            html += "<li class=\"routing\" data-queue=\"\(HTML.escape(q.name))\"><strong>\(HTML.escape(q.name))</strong> <span class=\"muted\">routing</span>"
                + (q.enabled ? "" : " <span class=\"badge node-drained\">disabled</span>")
                + (q.note.map { "<div class=\"note\">\(HTML.escape($0))</div>" } ?? "") + "<ul>"
            for name in q.destinations ?? [] {
                if let e = execution[name] {
                    fed.insert(name)
                    html += executionItem(e)
                }
            }
            html += "</ul></li>"
        }
        for q in queues where q.kind == "execution" && !fed.contains(q.name) { html += executionItem(q) }
        return html + "</ul>"
    }

    static func fairShare(_ snapshot: SiteSnapshot, configuration: Configuration) -> String {
        var rows = ""
        for share in snapshot.fairShare where !share.vo.isEmpty || share.usage > 0 || share.runningCores > 0 {
            let name = share.vo.isEmpty ? "no VO" : share.vo
            let colour = HTML.colour(vo: share.vo, configuration: configuration)
            rows += """
                <tr><td><span class="swatch" style="background:\(colour)"></span>\(HTML.escape(name))</td>\
                <td class="bars"><div class="fs-bar share" style="width:\(percent(share.share))%"></div>\
                <div class="fs-bar usage" style="width:\(percent(share.usageFraction))%;background:\(colour)"></div></td>\
                <td class="num">\(percent(share.share))%</td><td class="num">\(percent(share.usageFraction))%</td>\
                <td class="num">\(String(format: "%.2f", share.factor))</td><td class="num">\(share.runningCores)</td></tr>
                """
        }
        return """
            <table class="grid"><thead><tr><th>VO</th><th>share / usage</th><th class="num">share</th>\
            <th class="num">usage</th><th class="num">factor</th><th class="num">cores</th></tr></thead><tbody>\(rows)</tbody></table>
            """
    }

    static func percent(_ fraction: Double) -> Int { Int((fraction * 100).rounded()) }

    static func lastDay(_ summary: FinishedSummary, now: Double) -> String {
        let completed = summary.outcomes["completed"] ?? 0, failed = summary.outcomes["failed"] ?? 0
        let cancelled = summary.outcomes["cancelled"] ?? 0
        let peak = max(1, summary.hours.map { $0.completed + $0.failed + $0.cancelled }.max() ?? 1)
        let firstHour = (now / 3600).rounded(.down) * 3600 - 23 * 3600
        var byStart: [Double: FinishedSummary.Hour] = [:]
        for hour in summary.hours { byStart[hour.start] = hour }
        var bars = ""
        for h in 0..<24 {
            let start = firstHour + Double(h) * 3600
            let hour = byStart[start] ?? .init(start: start, completed: 0, failed: 0, cancelled: 0)
            func segment(_ n: Int, _ kind: String) -> String {
                n == 0 ? "" : "<div class=\"seg \(kind)\" style=\"height:\(n * 100 / peak)%\"></div>"
            }
            let label = CivilDate.timestamp(ofEpochSeconds: start).split(separator: " ").last.map { String($0.prefix(5)) } ?? ""
            bars += "<div class=\"hour\" title=\"\(label) UTC: \(hour.completed) completed, \(hour.failed) failed, \(hour.cancelled) cancelled\">"
                + segment(hour.cancelled, "cancelled") + segment(hour.failed, "failed") + segment(hour.completed, "completed") + "</div>"
        }
        return """
            <div class="history"><div class="history-figures">\
            \(tile("Completed", "\(completed)", "ended with their payload's exit"))\
            \(tile("Failed", "\(failed)", "walltime, start or node failures", alert: failed > 0))\
            \(tile("Cancelled", "\(cancelled)", "by users or operators"))\
            \(tile("Wait p50 / p95", "\(HTML.duration(summary.waitP50)) / \(HTML.duration(summary.waitP95))", "submission to start"))\
            </div><div class="hours" aria-label="jobs ended per hour">\(bars)</div></div>
            """
    }

    // MARK: - Jobs

    /// Filters and sort order of the job list, from the query string.
    struct JobFilter {
        var state = "", queue = "", vo = "", user = "", node = ""
        var sort = "id", descending = true

        init(_ query: [String: String]) {
            state = query["state"] ?? ""
            queue = query["queue"] ?? ""
            vo = query["vo"] ?? ""
            user = query["user"] ?? ""
            node = query["node"] ?? ""
            sort = query["sort"].flatMap { Self.columns.contains($0) ? $0 : nil } ?? "id"
            descending = (query["dir"] ?? "desc") != "asc"
        }

        static let columns = JobQuery.Order.allCases.map(\.rawValue)

        /// The store query for this filter: active jobs and those that ended since `endedSince`.
        func storeQuery(endedSince: Double, limit: Int) -> JobQuery {
            JobQuery(owner: user.nonEmpty, state: state.nonEmpty, queue: queue.nonEmpty, vo: vo.nonEmpty, node: node.nonEmpty,
                     endedSince: endedSince, order: JobQuery.Order(rawValue: sort) ?? .id, descending: descending,
                     limit: limit)
        }

        /// The query string with `changes` applied.
        func query(_ changes: [String: String] = [:]) -> String {
            var items = ["state": state, "queue": queue, "vo": vo, "user": user, "node": node, "sort": sort,
                         "dir": descending ? "desc" : "asc"]
            for (k, v) in changes { items[k] = v }
            return items.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
                .map { "\($0.key)=\(HTML.query($0.value))" }.joined(separator: "&")
        }
    }

    /// Rows the job list shows at most; the count above it says how many match.
    static let jobListLimit = 500

    static func jobs(_ shown: [DashboardJob], total: Int, filter: JobFilter, caller: Caller, configuration: Configuration,
                     now: Double) -> String {
        func options(_ name: String, _ values: [String], _ selected: String, _ anyLabel: String) -> String {
            "<select name=\"\(name)\" aria-label=\"\(name)\"><option value=\"\">\(anyLabel)</option>"
                + values.map { "<option\($0 == selected ? " selected" : "")>\(HTML.escape($0))</option>" }.joined() + "</select>"
        }
        let states = ["active"] + JobState.allCases.map(\.rawValue)
        let form = """
            <form class="filters" id="filters" method="get" action="/ui/jobs">\
            \(options("state", states, filter.state, "any state"))\
            \(options("queue", configuration.queues.map(\.name), filter.queue, "any queue"))\
            \(options("vo", configuration.vos.map(\.name) + ["none"], filter.vo, "any VO"))\
            <input name="user" placeholder="user" value="\(HTML.escape(filter.user))" aria-label="user">\
            \(options("node", configuration.nodes.map(\.name), filter.node, "any node"))\
            <input type="hidden" name="sort" value="\(filter.sort)"><input type="hidden" name="dir" value="\(filter.descending ? "desc" : "asc")">\
            <button class="btn">Filter</button> <a class="link" href="/ui/jobs">clear</a>\
            <span class="muted">\(total) job\(total == 1 ? "" : "s")\(total > shown.count ? ", the first \(shown.count) shown" : "")</span></form>
            """
        func header(_ column: String, _ label: String) -> String {
            let active = filter.sort == column
            let dir = active && filter.descending ? "asc" : "desc"
            let arrow = active ? (filter.descending ? " ▾" : " ▴") : ""
            return "<th><a href=\"/ui/jobs?\(filter.query(["sort": column, "dir": dir]))\" data-sort=\"\(column)\">\(label)\(arrow)</a></th>"
        }
        var rows = ""
        for entry in shown {
            let job = entry.job
            let when: String
            switch job.state {
            case .queued, .held, .saved: when = "waiting " + HTML.duration(now - job.submitTime)
            case .starting, .running, .suspended: when = "started " + HTML.duration(now - (job.startTime ?? now)) + " ago"
            default: when = "ended " + HTML.duration(now - (job.endTime ?? now)) + " ago"
            }
            let why = entry.waiting ?? job.reason ?? ""
            rows += """
                <tr data-job="\(job.id)" data-state="\(job.state.rawValue)"><td><a href="/ui/jobs/\(job.id)">\(job.id)</a></td>\
                <td>\(HTML.escape(job.name))</td><td>\(HTML.escape(job.owner))</td>\
                <td><span class="swatch" style="background:\(HTML.colour(vo: job.vo, configuration: configuration))"></span>\(HTML.escape(job.vo ?? "none"))</td>\
                <td>\(HTML.escape(job.queue))</td><td>\(HTML.stateBadge(job.state.rawValue))</td><td class="num">\(job.cores)</td>\
                <td>\(HTML.escape(job.node ?? ""))</td><td>\(HTML.escape(when))</td><td class="reason">\(HTML.escape(why))</td></tr>
                """
        }
        return """
            \(form)<section class="card"><table class="grid jobs" id="jobs"><thead><tr>\
            \(header("id", "Job"))\(header("name", "Name"))\(header("owner", "Owner"))\(header("vo", "VO"))\
            \(header("queue", "Queue"))\(header("state", "State"))\(header("cores", "Cores"))\(header("node", "Node"))\
            \(header("submitted", "When"))<th>Why</th></tr></thead><tbody>\(rows)</tbody></table>\
            \(shown.isEmpty ? "<p class=\"muted empty\">No jobs match.</p>" : "")</section>
            """
    }

    // MARK: - One job

    static func job(_ detail: JobDetail, output: JobOutput?, console: String?, caller: Caller, configuration: Configuration) -> String {
        let job = detail.job
        var actions: [String] = []
        func action(_ name: String, _ label: String, warn: Bool = false) {
            actions.append("<button class=\"btn\(warn ? " warn" : "")\" data-action=\"\(name)\" data-job=\"\(job.id)\">\(label)</button>")
        }
        switch job.state {
        case .queued: action("hold", "Hold")
        case .held, .saved: action("release", "Release")
        case .running, .suspended: action("hold", "Hold (save VM)")
        default: break
        }
        if !job.state.isTerminal { action("cancel", "Cancel", warn: true) }
        func field(_ name: String, _ value: String) -> String {
            "<dt>\(HTML.escape(name))</dt><dd>\(HTML.escape(value))</dd>"
        }
        let fields = [
            field("Owner", job.owner), field("VO", job.vo ?? "none"),
            field("Queue", job.submitQueue == job.queue ? job.queue : "\(job.submitQueue) → \(job.queue)"),
            field("Environment", job.environment),
            field("Asked for", "\(job.cores) core\(job.cores == 1 ? "" : "s"), \(job.memoryMB) MB, walltime \(Quantities.formatWalltime(job.walltime))"),
            field("Node", job.node.map { n in n + (job.cpus.map { " (CPUs " + $0.map(String.init).joined(separator: ",") + ")" } ?? "") } ?? "–"),
            field("Submitted", HTML.time(job.submitTime)), field("Started", HTML.time(job.startTime)),
            field("Ended", HTML.time(job.endTime)), field("Exit code", job.exitCode.map(String.init) ?? "–"),
            field("CPU time", job.cpuTime.map { HTML.duration($0) } ?? "–"),
        ].joined()
        let timeline = detail.history.map { event in
            "<li data-state=\"\(event.state.rawValue)\"><time>\(HTML.time(event.time))</time> \(HTML.stateBadge(event.state.rawValue)) \(HTML.escape(event.reason))</li>"
        }.joined()
        var outputs = ""
        if let output {
            outputs += "<h3>stdout</h3><pre class=\"log\" id=\"stdout\">\(HTML.escape(output.stdout.isEmpty ? "(empty)" : output.stdout))</pre>"
            outputs += "<h3>stderr</h3><pre class=\"log\" id=\"stderr\">\(HTML.escape(output.stderr.isEmpty ? "(empty)" : output.stderr))</pre>"
            if !output.files.isEmpty {
                outputs += "<h3>Files</h3><ul class=\"files\">" + output.files.map { path in
                    "<li><a href=\"/v1/jobs/\(job.id)/files?path=\(HTML.query(path))\" download>\(HTML.escape(path))</a></li>"
                }.joined() + "</ul>"
            }
        }
        let waiting = detail.waiting.map { "<p class=\"waiting\"><strong>Waiting:</strong> \(HTML.escape($0))</p>" } ?? ""
        return """
            <section class="card job" data-job="\(job.id)" data-state="\(job.state.rawValue)">\
            <h1>Job \(job.id) <small>\(HTML.escape(job.name))</small> \(HTML.stateBadge(job.state.rawValue))\
            <span class="actions">\(actions.joined())</span></h1>\
            \(waiting)<p class="reason">\(HTML.escape(job.reason ?? ""))</p>\
            <dl class="fields">\(fields)</dl></section>\
            <div class="columns"><section class="card"><h2>Timeline</h2><ol class="timeline" id="timeline">\(timeline)</ol></section>\
            <section class="card"><h2>Output</h2>\(outputs.isEmpty ? "<p class=\"muted\">No output yet.</p>" : outputs)</section></div>\
            <section class="card"><h2>Console</h2><pre class="log console" id="console">\(HTML.escape(console ?? "(no console log)"))</pre></section>
            """
    }

    // MARK: - Nodes

    static func nodes(_ snapshot: SiteSnapshot, caller: Caller, configuration: Configuration) -> String {
        var pools = ""
        for pool in snapshot.pools {
            pools += "<tr><td>\(HTML.escape(pool.pool))</td><td>\(HTML.escape(pool.node))</td><td class=\"num\">\(pool.idle)</td>"
                + "<td class=\"num\">\(pool.booting)</td><td class=\"num\">\(pool.busy)</td></tr>"
        }
        let poolTable = pools.isEmpty ? "<p class=\"muted\">No pools configured.</p>" : """
            <table class="grid"><thead><tr><th>Pool</th><th>Node</th><th class="num">idle</th><th class="num">booting</th>\
            <th class="num">busy</th></tr></thead><tbody>\(pools)</tbody></table>
            """
        let drainForm = caller.isOperator ? """
            <dialog id="drain-dialog"><form method="dialog" id="drain-form"><h3>Drain <span id="drain-node"></span></h3>\
            <label>Reason <input name="reason" required placeholder="why (shown to everyone)"></label>\
            <label>Running jobs <select name="mode">\
            <option value="finish">finish where they are</option><option value="save">are saved, resume elsewhere</option>\
            <option value="migrate">migrate live to other nodes</option><option value="requeue">are requeued</option></select></label>\
            <menu><button value="cancel" class="btn">Cancel</button><button value="drain" class="btn warn" id="drain-confirm">Drain</button></menu>\
            </form></dialog>
            """ : ""
        return """
            <section class="card"><h2>CPU map</h2>\(cpuMap(snapshot, caller: caller, configuration: configuration, actions: true))</section>\
            <section class="card"><h2>Pooled VMs</h2>\(poolTable)</section>\(drainForm)
            """
    }
}

extension Caller.Authority {
    /// `socket`, `relay` or the token's scope, for the header's badge.
    var scopeName: String {
        switch self {
        case .token(_, let scope): scope.rawValue
        case .relay: "relay"
        case .socket: "local"
        }
    }
}
