#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import VBatchAPI
import VBatchClient
import VBatchCore

/// Torque's ways of printing values.
enum PBSFormat {
    /// Torque's default line size for `qstat -f`; `-1` makes it unlimited.
    static let lineSize = 77
    static let unlimitedLineSize = 65_536

    /// A time as `ctime(3)` prints it, in local time: `Thu Jan  4 10:00:00 2024`. Torque's
    /// `qstat -f` prints ctime, mtime, qtime, etime, start_time and comp_time this way.
    static func date(_ epochSeconds: Double) -> String {
        guard epochSeconds.isFinite, epochSeconds >= 0, epochSeconds < 253_402_300_800 else { return "-" }
        var t = time_t(epochSeconds.rounded(.down))
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return "-" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%a %b %e %H:%M:%S %Y", &parts)
        guard n > 0 else { return "-" }
        return PBSFormat.string(fromC: buffer)
    }

    /// The text of a NUL-terminated C buffer.
    static func string(fromC buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `HH:MM:SS`, hours unbounded (Torque's walltime and cput).
    static func hms(_ seconds: Int) -> String { Quantities.formatHMS(seconds) }

    /// `value` with control characters as spaces, so a hostile string cannot add lines (and
    /// so forge attributes) to output that scripts parse line by line.
    static func clean(_ value: String) -> String { PBSText.clean(value) }

    /// One `    name = value` line of `qstat -f`, wrapped as Torque's `prt_attr` wraps it:
    /// the value is split at commas; a piece that does not fit on the line starts a
    /// continuation line (a tab), and a piece longer than a line is cut every `lineSize`
    /// characters. No trailing newline.
    static func attribute(_ name: String, _ value: String, lineSize: Int = lineSize) -> String {
        var out = "    " + name + " = "
        var start = name.count + 7
        let pieces = value.split(separator: ",", omittingEmptySubsequences: true)
        var first = true
        for (i, piece) in pieces.enumerated() {
            if piece.count + start < lineSize {
                out += piece
                start += piece.count
            } else {
                if !first {
                    out += "\n\t"
                    start = 9
                }
                for ch in piece {
                    out.append(ch)
                    start += 1
                    if start > lineSize {
                        start = 8
                        out += "\n\t"
                    }
                }
            }
            if i < pieces.count - 1 {
                first = false
                out += ","
            }
        }
        return out
    }

    /// `text` padded with spaces (or cut) to `width`, like printf's `%-W.Ws`.
    static func left(_ text: String, _ width: Int, cut: Bool = true) -> String {
        if text.count >= width { return cut ? String(text.prefix(width)) : text }
        return text + String(repeating: " ", count: width - text.count)
    }

    /// Like printf's `%W.Ws`.
    static func right(_ text: String, _ width: Int, cut: Bool = true) -> String {
        if text.count >= width { return cut ? String(text.prefix(width)) : text }
        return String(repeating: " ", count: width - text.count) + text
    }
}

/// Text of a long listing (`qstat` over 10,000 jobs) built as bytes, with the cells padded
/// as ``PBSFormat/left(_:_:cut:)`` and ``PBSFormat/right(_:_:cut:)`` pad them but without a
/// String per cell: an ASCII cell (nearly all) is copied and padded byte by byte.
struct TextColumns {
    private var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// `text` padded with spaces (or cut) to `width` characters.
    mutating func left(_ text: String, _ width: Int, cut: Bool = true) {
        guard let n = Self.asciiCount(text) else { return append(PBSFormat.left(text, width, cut: cut)) }
        bytes.append(contentsOf: text.utf8.prefix(cut ? width : n))
        spaces(width - n)
    }

    /// `text` right-aligned in `width` characters (or cut).
    mutating func right(_ text: String, _ width: Int, cut: Bool = true) {
        guard let n = Self.asciiCount(text) else { return append(PBSFormat.right(text, width, cut: cut)) }
        spaces(width - n)
        bytes.append(contentsOf: text.utf8.prefix(cut ? width : n))
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func spaces(_ count: Int) {
        if count > 0 { bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: count)) }
    }

    /// The length of an ASCII text (a byte is a character), nil for any other.
    private static func asciiCount(_ text: String) -> Int? {
        let utf8 = text.utf8
        return utf8.allSatisfy({ $0 < 0x80 }) ? utf8.count : nil
    }
}

/// A vbatch job seen as a Torque job: its state letter, exit status and `qstat -f` attributes.
struct PBSJob {
    let info: JobInfo
    /// Time of the last recorded transition (from the job's history), when known.
    var lastEvent: Double?
    /// Why a waiting job has not started, when known (from the job's detail).
    var waiting: String?
    /// That a running job's node cannot be reached, and until when it keeps its slots.
    var nodeNote: String?

    /// Torque's `exit_status` of a cancelled job (256 + SIGTERM, what `qdel` of a running
    /// job leaves); BLAH's PBS scripts read it as "removed".
    static let cancelledExitStatus = 271
    /// Torque's JOB_EXEC_OVERLIMIT_WT: killed for exceeding its walltime.
    static let walltimeExitStatus = -11
    /// Torque's JOB_EXEC_FAIL1: the job could not be run.
    static let failedExitStatus = -1

    var id: Int64 { info.id }

    /// Q, H, R or C (vbatch never shows Torque's E, W, T or S).
    var stateLetter: String { info.state.pbsLetter }

    var isFinished: Bool { info.state.isTerminal }

    /// Whether the job was killed at its walltime (known only from the recorded reason).
    var killedForWalltime: Bool {
        info.state == .failed && (info.reason ?? "").contains("walltime")
    }

    /// `exit_status` of a finished job: the payload's exit code; 271 when cancelled; -11
    /// when killed at its walltime; else the exit code if one was recorded, or -1.
    var exitStatus: Int? {
        switch info.state {
        case .completed: return info.exitCode ?? 0
        case .cancelled: return Self.cancelledExitStatus
        case .failed: return killedForWalltime ? Self.walltimeExitStatus : (info.exitCode ?? Self.failedExitStatus)
        default: return nil
        }
    }

    /// Seconds the job has run (so far), if it started.
    func runSeconds(now: Double) -> Int? {
        guard let start = info.startTime else { return nil }
        let end = info.endTime ?? (isFinished ? start : now)
        return max(0, Int((end - start).rounded(.down)))
    }

    /// `resources_used.cput`: for a finished job the CPU time libvirt measured of its VM; while
    /// it runs, the CPU time it holds (run time × its pinned vCPUs), an upper bound of its use.
    func cpuSeconds(now: Double) -> Int? {
        if isFinished, let measured = info.cpuTime { return Int(measured.rounded()) }
        return runSeconds(now: now).map { $0 * max(1, info.cores) }
    }

    /// `node/cpu+node/cpu…`, one entry per vCPU (its host CPU), as Torque lists one per slot.
    var execHost: String? {
        guard let node = info.node else { return nil }
        let cpus = info.cpus ?? Array(0..<max(1, info.cores))
        return cpus.map { "\(node)/\($0)" }.joined(separator: "+")
    }

    var modificationTime: Double {
        lastEvent ?? max(info.submitTime, info.startTime ?? 0, info.endTime ?? 0)
    }

    /// The attributes of `qstat -f`, in Torque's order.
    func attributes(server: String, now: Double) -> [(String, String)] {
        let j = info
        var a: [(String, String)] = [
            ("Job_Name", j.name),
            ("Job_Owner", "\(j.owner)@\(server)"),
        ]
        if let cput = cpuSeconds(now: now), let wall = runSeconds(now: now) {
            a.append(("resources_used.cput", PBSFormat.hms(cput)))
            a.append(("resources_used.walltime", PBSFormat.hms(wall)))
        }
        a += [
            ("job_state", stateLetter),
            ("queue", j.queue),
            ("server", server),
            ("Checkpoint", "u"),
            ("ctime", PBSFormat.date(j.submitTime)),
        ]
        if let hosts = execHost { a.append(("exec_host", hosts)) }
        a += [
            ("Hold_Types", j.state == .held ? "u" : "n"),
            ("Join_Path", "n"),
            ("Keep_Files", "n"),
            ("Mail_Points", "a"),
            ("mtime", PBSFormat.date(modificationTime)),
            ("Priority", "0"),
            ("qtime", PBSFormat.date(j.submitTime)),
            ("Rerunable", "False"),
            ("Resource_List.mem", Quantities.formatMemory(j.memoryMB)),
            ("Resource_List.ncpus", String(j.cores)),
            ("Resource_List.nodect", "1"),
            ("Resource_List.nodes", "1:ppn=\(j.cores)"),
            ("Resource_List.walltime", PBSFormat.hms(j.walltime)),
            ("euser", j.owner),
            ("queue_type", "E"),
        ]
        // Maui and Moab put "Not Running: why" in a waiting job's comment; CEs show it.
        if let waiting {
            a.append(("comment", "Not Running: \(waiting)"))
        } else if let nodeNote {
            a.append(("comment", nodeNote))
        } else if let reason = j.reason, !reason.isEmpty {
            a.append(("comment", reason))
        }
        a.append(("etime", PBSFormat.date(j.submitTime)))
        if let status = exitStatus { a.append(("exit_status", String(status))) }
        if let start = j.startTime { a.append(("start_time", PBSFormat.date(start))) }
        if let end = j.endTime, isFinished { a.append(("comp_time", PBSFormat.date(end))) }
        a.append(("submit_host", server))
        a.append(("vbatch_environment", j.environment))
        if j.submitQueue != j.queue { a.append(("vbatch_submit_queue", j.submitQueue)) }
        return a.map { ($0.0, PBSFormat.clean($0.1)) }
    }

    /// The whole `qstat -f` block: `Job Id:` line, attributes, and the blank line after.
    func fullDisplay(server: String, now: Double, lineSize: Int) -> String {
        var out = "Job Id: \(id).\(server)\n"
        for (name, value) in attributes(server: server, now: now) {
            out += PBSFormat.attribute(name, value, lineSize: lineSize)
            out += "\n"
        }
        out += "\n"
        return out
    }
}

/// The batch server as Torque's `qstat -B [-f]` and `qmgr -c "list server"` show it.
struct PBSServer {
    /// `pbs_version`: the Torque release whose output the commands follow. It starts with a
    /// digit and has no `NAME_` prefix, so ARC's PBS backend takes the server for Torque
    /// (a `PBSPro_…` version would make it PBS Pro, an unknown `NAME_…` one unsupported).
    static let version = "6.1.3"

    var queued = 0
    var held = 0
    var running = 0
    var complete = 0
    /// The queue `qsub` uses without `-q`, if the site has one.
    var defaultQueue: String?

    var total: Int { queued + held + running + complete }

    /// Torque's `state_count`.
    var stateCount: String {
        "Transit:0 Queued:\(queued) Held:\(held) Waiting:0 Running:\(running) Exiting:0 Complete:\(complete)"
    }

    /// The server's counts. An operator's call counts every job by state, finished ones within
    /// keep_completed as `Complete`; for anyone else (who may not list other users' jobs)
    /// the queues' counts are used.
    static func status(_ command: String, _ context: PBSContext) throws(PBSError) -> PBSServer {
        let queues: [QueueInfo]
        do {
            queues = try context.client.queues()
        } catch {
            throw failure(command, error, context)
        }
        var server = PBSServer(defaultQueue: Qsub.defaultQueue(among: queues))
        do {
            for job in try context.client.jobs(all: true) {
                switch job.state {
                case .queued: server.queued += 1
                case .held, .saved: server.held += 1
                case .starting, .running, .suspended: server.running += 1
                case .completed, .failed, .cancelled: break // counted from the history below
                }
            }
            let keep = Qstat.keepCompleted
            if keep > 0 {
                let finished = try context.client.history(all: true, limit: 1000)
                server.complete += finished.filter { ($0.endTime ?? $0.submitTime) >= context.now - keep }.count
            }
        } catch where error.kind == .server && error.status == 403 {
            server.held = queues.reduce(0) { $0 + ($1.held ?? 0) }
            server.queued = queues.reduce(0) { $0 + $1.queued } - server.held
            server.running = queues.reduce(0) { $0 + $1.running }
        } catch {
            throw failure(command, error, context)
        }
        return server
    }

    private static func failure(_ command: String, _ error: ClientError, _ context: PBSContext) -> PBSError {
        if error.kind == .connect || error.kind == .transport { return .connect(command, context.server, error) }
        return PBSError("\(command): \(error.message)", status: 1)
    }

    /// The server's attributes, in Torque's order.
    func attributes() -> [(String, String)] {
        var a: [(String, String)] = [
            ("server_state", "Active"),
            ("scheduling", "True"),
            ("total_jobs", String(total)),
            ("state_count", stateCount),
        ]
        if let queue = defaultQueue { a.append(("default_queue", PBSFormat.clean(queue))) }
        a.append(("keep_completed", String(Int(Qstat.keepCompleted))))
        a.append(("pbs_version", Self.version))
        return a
    }

    /// Attributes an administrator sets (`qmgr -c "print server"` prints only these).
    static let settable: Set<String> = ["scheduling", "default_queue", "keep_completed"]
}
