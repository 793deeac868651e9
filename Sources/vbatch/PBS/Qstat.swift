import VBatchAPI
import VBatchClient
import VBatchCore

/// `qstat`: Torque's job, queue and server status displays.
///
/// - `qstat [-c] [job_id… | queue…]`: the default table (`Job ID  Name  User  Time Use S Queue`);
/// - `qstat -f [-1] [job_id… | queue…]`: every attribute, `Job Id:` blocks (wrapped at 77
///   columns unless `-1`);
/// - `qstat -a|-i|-r|-u USER[,USER] [-n [-1]] [-s]`: the alternative table;
/// - `qstat -Q [-f [-1]] [queue…]`, `qstat -q`, `qstat -B [-f]`: queues and the server.
///
/// Without operands it lists the caller's unfinished jobs (every user's for operators, like
/// Torque's `query_other_jobs`) and those finished in the last `$VBATCH_PBS_KEEP_COMPLETED`
/// seconds (default 300, like `keep_completed`). A job named by id is shown whatever its age.
/// An unknown id prints `qstat: Unknown Job Id Error ID.SERVER` and exits 153.
enum Qstat {
    static let usage = """
        usage:
          qstat [-f [-1]] [-c] [ job_identifier... | destination... ]
          qstat [-a|-i|-r] [-u user] [-n [-1]] [-s] [-c] [ job_identifier... | destination... ]
          qstat -Q [-f [-1]] [ destination... ]
          qstat -q [ destination... ]
          qstat -B [-f [-1]]
        """

    /// Seconds a finished job stays in listings (Torque's keep_completed).
    static var keepCompleted: Double {
        PBSContext.environment("VBATCH_PBS_KEEP_COMPLETED").flatMap(Double.init).map { max(0, $0) } ?? 300
    }

    struct Options {
        var full = false
        var oneLine = false
        var alternative = false
        var idleOnly = false
        var runningOnly = false
        var nodes = false
        var comments = false
        var hideCompleted = PBSContext.environment("PBS_QSTAT_NO_COMPLETE") != nil
        var users: [String] = []
        var queues = false
        var queueAlternative = false
        var server = false
        var operands: [String] = []
    }

    static func run(_ arguments: [String], _ context: PBSContext) -> Int32 {
        let options: Options
        do {
            options = try parse(arguments)
        } catch {
            PBSOutput.error(error.message)
            PBSOutput.error(usage)
            return 2
        }
        var output = ""
        var errors: [PBSError] = []
        if options.server {
            runServer(options, context, &output, &errors)
        } else if options.queues || options.queueAlternative {
            runQueues(options, context, &output, &errors)
        } else {
            runJobs(options, context, &output, &errors)
        }
        PBSOutput.print(output)
        for e in errors { e.report() }
        return errors.first?.status ?? 0
    }

    static func parse(_ arguments: [String]) throws(GetOpt.Failure) -> Options {
        var o = Options()
        var conflict = false
        for item in try GetOpt(spec: "1acefGilMnqQrRstu:xBW:").parse(arguments) {
            switch item {
            case .operand(let s): o.operands.append(s)
            case .option("1", _): o.oneLine = true
            case .option("a", _): o.alternative = true
            case .option("c", _): o.hideCompleted = true
            case .option("e", _), .option("t", _), .option("G", _), .option("M", _), .option("R", _), .option("l", _): break
            case .option("f", _): o.full = true
            case .option("i", _): o.alternative = true; o.idleOnly = true
            case .option("r", _): o.alternative = true; o.runningOnly = true
            case .option("n", _): o.alternative = true; o.nodes = true
            case .option("s", _): o.alternative = true; o.comments = true
            case .option("u", let list?):
                o.users += list.split(separator: ",").map { String($0.split(separator: "@").first ?? $0) }
            case .option("q", _): o.queueAlternative = true
            case .option("Q", _): o.queues = true
            case .option("B", _): o.server = true
            case .option("x", _): throw GetOpt.Failure(message: "qstat: -x (XML output) is not supported by vbatch")
            case .option("W", _): throw GetOpt.Failure(message: "qstat: -W is not supported by vbatch")
            default: break
            }
        }
        if o.full && o.alternative { conflict = true }
        if o.idleOnly && o.runningOnly { conflict = true }
        if o.oneLine && !(o.full || o.nodes) { conflict = true }
        if (o.queues || o.queueAlternative || o.server) && o.alternative { conflict = true }
        if o.queueAlternative && (o.full || o.queues || o.server) { conflict = true }
        if o.server && o.queues { conflict = true }
        if !o.users.isEmpty && !o.full { o.alternative = true }
        if conflict { throw GetOpt.Failure(message: "qstat: conflicting options.") }
        return o
    }

    // MARK: - Jobs

    static func runJobs(_ o: Options, _ context: PBSContext, _ output: inout String, _ errors: inout [PBSError]) {
        let lineSize = o.oneLine ? PBSFormat.unlimitedLineSize : PBSFormat.lineSize
        var header = true
        func show(_ jobs: [PBSJob]) {
            let shown = jobs.filter { wanted($0, o) }
            if shown.isEmpty { return }
            if o.full {
                for job in shown { output += job.fullDisplay(server: context.server, now: context.now, lineSize: lineSize) }
            } else if o.alternative {
                output += alternativeTable(shown, o, context, header: header)
                header = false
            } else {
                output += summaryTable(shown, context, header: header)
                header = false
            }
        }
        if o.operands.isEmpty {
            do {
                show(try listJobs(context))
            } catch {
                errors.append(error)
            }
            return
        }
        for operand in o.operands {
            if PBSJobID.looksLikeJobID(operand) {
                guard let id = PBSJobID.parse(operand) else {
                    errors.append(PBSError("qstat: illegally formed job identifier: \(PBSFormat.clean(operand))", status: 1))
                    continue
                }
                do {
                    let detail = try context.client.job(id)
                    show([PBSJob(info: detail.job, lastEvent: detail.history.last?.time, waiting: detail.waiting,
                                nodeNote: detail.node)])
                } catch {
                    errors.append(PBSError.about("qstat", context.fullID(id), error, server: context.server))
                    if error.kind == .connect { break }
                }
            } else {
                let queue = operand.split(separator: "@", omittingEmptySubsequences: false).first.map(String.init) ?? ""
                do {
                    let jobs = try listJobs(context)
                    show(queue.isEmpty ? jobs : jobs.filter { $0.info.queue == queue || $0.info.submitQueue == queue })
                } catch {
                    errors.append(error)
                    break
                }
            }
        }
    }

    static func wanted(_ job: PBSJob, _ o: Options) -> Bool {
        if o.hideCompleted && job.isFinished { return false }
        if !o.users.isEmpty && !o.users.contains(job.info.owner) { return false }
        let state = job.stateLetter
        if o.idleOnly && !["Q", "H", "W", "T", "E"].contains(state) { return false }
        if o.runningOnly && state != "R" { return false }
        return true
    }

    /// The caller's visible unfinished jobs, plus those finished within keep_completed,
    /// in id order. Everyone's for operators; a non-operator sees only their own (Torque
    /// with `query_other_jobs = False`).
    static func listJobs(_ context: PBSContext) throws(PBSError) -> [PBSJob] {
        // The daemon lists jobs in id order; most polls have nothing finished to merge in.
        var jobs = try visible(context, { (client, all) throws(ClientError) in try client.jobs(all: all) })
        let keep = keepCompleted
        if keep > 0 {
            let since = context.now - keep
            let finished = try visible(context, { (client, all) throws(ClientError) in
                try client.history(all: all, limit: 10_000, since: since)
            }).filter { ($0.endTime ?? $0.submitTime) >= since }
            if !finished.isEmpty {
                let ended = Set(finished.map(\.id))
                jobs = jobs.filter { !ended.contains($0.id) } + finished
                jobs.sort { $0.id < $1.id }
            }
        }
        return jobs.map { PBSJob(info: $0) }
    }

    private static func visible(_ context: PBSContext,
                                _ fetch: (VBatchClient, Bool) throws(ClientError) -> [JobInfo]) throws(PBSError) -> [JobInfo] {
        do {
            return try fetch(context.client, true)
        } catch where error.kind == .server && error.status == 403 {
            do {
                return try fetch(context.client, false)
            } catch {
                throw listError(error, context)
            }
        } catch {
            throw listError(error, context)
        }
    }

    private static func listError(_ error: ClientError, _ context: PBSContext) -> PBSError {
        if error.kind == .connect || error.kind == .transport { return .connect("qstat", context.server, error) }
        return PBSError("qstat: \(error.message)", status: 1)
    }

    /// Torque's default display.
    static func summaryTable(_ jobs: [PBSJob], _ context: PBSContext, header: Bool) -> String {
        var out = TextColumns(capacity: jobs.count * 96 + 200)
        if header {
            out.append("Job ID                    Name             User            Time Use S Queue\n")
            out.append("------------------------- ---------------- --------------- -------- - -----\n")
        }
        for job in jobs {
            let j = job.info
            let used = job.cpuSeconds(now: context.now).map(PBSFormat.hms) ?? "0"
            out.left(context.fullID(j.id), 25, cut: false)
            out.append(" ")
            out.left(shortName(PBSFormat.clean(j.name)), 16, cut: false)
            out.append(" ")
            out.left(PBSFormat.clean(j.owner), 15)
            out.append(" ")
            out.right(used, 8)
            out.append(" ")
            out.append(job.stateLetter)
            out.append(" ")
            out.left(PBSFormat.clean(j.queue), 15)
            out.append("\n")
        }
        return out.text
    }

    /// Torque shortens names longer than 16 characters to `...` and their tail (from a `/`
    /// if there is one).
    static func shortName(_ name: String) -> String {
        guard name.utf8.count > 16 else { return name } // at most 16 bytes: at most 16 characters
        let chars = Array(name)
        guard chars.count > 16 else { return name }
        var start = chars.count - 16 + 3
        let slash = chars[start...].firstIndex(of: "/")
        if let slash { start = slash }
        return String(("..." + String(chars[start...])).prefix(16))
    }

    /// Torque's alternative display (`-a`, `-i`, `-r`, `-u`, `-n`, `-s`).
    static func alternativeTable(_ jobs: [PBSJob], _ o: Options, _ context: PBSContext, header: Bool) -> String {
        var out = ""
        if header {
            out += "\n\(context.server): \n"
            out += "                                                                                  Req'd       Req'd       Elap\n"
            out += "Job ID                  Username    Queue    Jobname          SessID  NDS   TSK   Memory      Time    S   Time\n"
            out += "----------------------- ----------- -------- ---------------- ------ ----- ------ --------- --------- - ---------\n"
        }
        let blank = " -- "
        for job in jobs {
            let j = job.info
            let state = job.stateLetter
            var elapsed = blank
            if state != "Q" && state != "C" && state != "H", let seconds = job.runSeconds(now: context.now) {
                elapsed = PBSFormat.hms(seconds)
            }
            var line = PBSFormat.left(String(context.fullID(j.id).prefix(22)), 23) + " "
            line += PBSFormat.left(PBSFormat.clean(j.owner), 11) + " "
            line += PBSFormat.left(PBSFormat.clean(j.queue), 8) + " "
            line += PBSFormat.left(PBSFormat.clean(j.name), 16) + " "
            line += PBSFormat.right(blank, 6) + " "
            line += PBSFormat.right("1", 5) + " "
            line += PBSFormat.right(String(j.cores), 6) + " "
            line += PBSFormat.right(Quantities.formatMemory(j.memoryMB), 9) + " "
            line += PBSFormat.right(PBSFormat.hms(j.walltime), 9) + " "
            line += state + " "
            line += PBSFormat.right(elapsed, 9)
            out += line
            if o.nodes, let hosts = job.execHost {
                out += (o.oneLine ? "" : "\n") + "   " + hosts + "\n"
            } else {
                out += "\n"
            }
            if o.comments, let reason = j.reason, !reason.isEmpty {
                out += "   " + PBSFormat.clean(reason) + "\n"
            }
        }
        return out
    }

    // MARK: - Queues and server

    static func runQueues(_ o: Options, _ context: PBSContext, _ output: inout String, _ errors: inout [PBSError]) {
        let all: [QueueInfo]
        do {
            all = try context.client.queues()
        } catch {
            errors.append(listError(error, context))
            return
        }
        var queues: [QueueInfo] = []
        if o.operands.isEmpty {
            queues = all
        } else {
            for operand in o.operands {
                let name = operand.split(separator: "@", omittingEmptySubsequences: false).first.map(String.init) ?? ""
                if name.isEmpty {
                    queues += all
                } else if let q = all.first(where: { $0.name == name }) {
                    queues.append(q)
                } else {
                    errors.append(.unknownQueue("qstat", name))
                }
            }
        }
        if o.queueAlternative {
            output += queueAlternativeTable(queues, context)
        } else if o.full {
            let lineSize = o.oneLine ? PBSFormat.unlimitedLineSize : PBSFormat.lineSize
            for q in queues {
                output += "Queue: \(q.name)\n"
                for (name, value) in queueAttributes(q) { output += PBSFormat.attribute(name, PBSFormat.clean(value), lineSize: lineSize) + "\n" }
                output += "\n"
            }
        } else if !queues.isEmpty {
            output += queueTable(queues)
        }
    }

    static func queueAttributes(_ q: QueueInfo) -> [(String, String)] {
        let routing = q.kind == "routing"
        var a: [(String, String)] = [("queue_type", routing ? "Route" : "Execution")]
        if let v = q.maxQueued { a.append(("max_queuable", String(v))) }
        if let v = q.priority { a.append(("Priority", String(v))) }
        let held = q.held ?? 0
        a.append(("total_jobs", String(q.queued + q.running)))
        a.append(("state_count", "Transit:0 Queued:\(q.queued - held) Held:\(held) Waiting:0 Running:\(q.running) Exiting:0 Complete:0"))
        if let v = q.maxRunning { a.append(("max_running", String(v))) }
        if let v = q.maxMemoryMB { a.append(("resources_max.mem", Quantities.formatMemory(v))) }
        if let v = q.maxCores {
            a.append(("resources_max.ncpus", String(v)))
            // Torque's largest job in processors, which ARC publishes as the queue's MaxSlotsPerJob.
            a.append(("resources_max.procct", String(v)))
        }
        if let v = q.walltimeMax { a.append(("resources_max.walltime", PBSFormat.hms(v))) }
        if let v = q.walltimeDefault { a.append(("resources_default.walltime", PBSFormat.hms(v))) }
        if let v = q.maxRunningPerUser { a.append(("max_user_run", String(v))) }
        if let d = q.destinations, !d.isEmpty { a.append(("route_destinations", d.joined(separator: ","))) }
        if let vos = q.vos, !vos.isEmpty { a.append(("vbatch_vos", vos.joined(separator: ","))) }
        if let envs = q.environments, !envs.isEmpty { a.append(("vbatch_environments", envs.joined(separator: ","))) }
        if let v = q.maxJobsPerNode { a.append(("vbatch_max_jobs_per_node", String(v))) }
        a.append(("enabled", q.enabled ? "True" : "False"))
        a.append(("started", q.started ? "True" : "False"))
        return a
    }

    /// Torque's `qstat -Q`.
    static func queueTable(_ queues: [QueueInfo]) -> String {
        func row(_ c: [String]) -> String {
            PBSFormat.left(c[0], 16, cut: false) + " " + PBSFormat.right(c[1], 5, cut: false) + " " + PBSFormat.right(c[2], 6, cut: false)
                + c[3...10].map { " " + PBSFormat.right($0, 5, cut: false) }.joined()
                + " " + PBSFormat.left(c[11], 1, cut: false) + " " + PBSFormat.right(c[12], 5, cut: false) + "\n"
        }
        var out = row(["Queue", "Max", "Tot", "Ena", "Str", "Que", "Run", "Hld", "Wat", "Trn", "Ext", "T", "Cpt"])
        out += row(["----------------", "---", "----", "--", "--", "---", "---", "---", "---", "---", "---", "-", "---"])
        for q in queues {
            out += row([
                PBSFormat.clean(q.name), String(q.maxRunning ?? 0), String(q.queued + q.running),
                q.enabled ? "yes" : "no", q.started ? "yes" : "no", String(q.queued - (q.held ?? 0)), String(q.running),
                String(q.held ?? 0), "0", "0", "0", q.kind == "routing" ? "R" : "E", "0",
            ])
        }
        return out
    }

    /// Torque's `qstat -q`.
    static func queueAlternativeTable(_ queues: [QueueInfo], _ context: PBSContext) -> String {
        var out = "\nserver: \(context.server)\n\n"
        out += "Queue            Memory CPU Time Walltime Node  Run Que Lm  State\n"
        out += "---------------- ------ -------- -------- ----  --- --- --  -----\n"
        var run = 0, que = 0
        for q in queues {
            out += PBSFormat.left(PBSFormat.clean(q.name), 16) + " "
            out += PBSFormat.right(q.maxMemoryMB.map(Quantities.formatMemory) ?? "--  ", 6) + " "
            out += PBSFormat.right("--   ", 8) + " "
            out += PBSFormat.right(q.walltimeMax.map(PBSFormat.hms) ?? "--   ", 8) + " "
            out += PBSFormat.right("-- ", 5) + " "
            out += PBSFormat.right(String(q.running), 3) + " " + PBSFormat.right(String(q.queued), 3) + " "
            out += PBSFormat.right(q.maxRunning.map(String.init) ?? "--   ", 2) + "   "
            out += (q.enabled ? "E" : "D") + " " + (q.started ? "R" : "S") + "\n"
            run += q.running
            que += q.queued
        }
        out += "                                               ----- -----\n"
        out += "                                               " + PBSFormat.right(String(run), 5, cut: false) + " "
            + PBSFormat.right(String(que), 5, cut: false) + "\n"
        return out
    }

    /// Torque's `qstat -B [-f]`: the same counts and attributes as `qmgr -c "list server"`.
    static func runServer(_ o: Options, _ context: PBSContext, _ output: inout String, _ errors: inout [PBSError]) {
        let server: PBSServer
        do {
            server = try PBSServer.status("qstat", context)
        } catch {
            errors.append(error)
            return
        }
        if o.full {
            let lineSize = o.oneLine ? PBSFormat.unlimitedLineSize : PBSFormat.lineSize
            output += "Server: \(context.server)\n"
            for (name, value) in server.attributes() { output += PBSFormat.attribute(name, value, lineSize: lineSize) + "\n" }
            output += "\n"
        } else {
            func row(_ c: [String]) -> String {
                PBSFormat.left(c[0], 16, cut: false) + c[1...9].map { " " + PBSFormat.right($0, 5, cut: false) }.joined()
                    + " " + PBSFormat.left(c[10], 10, cut: false) + "\n"
            }
            output += row(["Server", "Max", "Tot", "Que", "Run", "Hld", "Wat", "Trn", "Ext", "Com", "Status"])
            output += row(["----------------", "---", "---", "---", "---", "---", "---", "---", "---", "---", "----------"])
            output += row([context.server, "0", String(server.total), String(server.queued), String(server.running), String(server.held),
                           "0", "0", "0", String(server.complete), "Active"])
        }
    }
}
