import VBatchAPI
import VBatchClient
import VBatchCore

/// `pbsnodes`: Torque's view of the worker nodes, and operators' way to take them offline.
///
/// - `pbsnodes [-a] [node…]`: each node as Torque prints it: the name at column 0, then
///   `     name = value` lines (5 spaces), a blank line after each node;
/// - `pbsnodes -x [node…]`: the same as one line of XML, `<Data><Node><name>…</Node></Data>`;
/// - `pbsnodes -l [STATE] [-n] [node…]`: `name state` lines of the nodes that are offline
///   (or in STATE: free, offline, job-exclusive, active, up, all, …), with the note if `-n`;
/// - `pbsnodes -o node… [-N "note"]`: take the nodes offline: vbatch drains them (running
///   jobs finish, no new job starts there; kept across daemon restarts);
/// - `pbsnodes -c node… [-N "note"]`: put them back in service;
/// - `pbsnodes -N "note" node…`: change the note of offline nodes (`-N n`: no reason).
///
/// `-o` and `-c` are for operators, like `vbatch node drain|resume`. An unknown node prints
/// `pbsnodes: Unknown node  MSG=cannot locate specified node` and exits 1, as Torque does.
enum Pbsnodes {
    static let usage = """
        usage:\tpbsnodes [-{c|l|o}] [-s server] [-n] [-N "note"] [-q] node ...
        \tpbsnodes [-{a|x}] [-s server] [-q] [node]
        """

    enum Mode {
        case show, list, offline, clear, note
    }

    struct Options {
        var mode = Mode.show
        var xml = false
        var quiet = false
        var listNotes = false
        var note: String?
        var version = false
        var operands: [String] = []
    }

    struct Failure: Error {
        var message: String
    }

    /// The state names `-l` takes as its first operand, as Torque's `NState` table.
    static let listStates = ["free", "offline", "down", "reserve", "job-exclusive", "job-sharing", "busy",
                             "state-unknown", "time-shared", "active", "all", "up"]

    static func run(_ arguments: [String], _ context: PBSContext) -> Int32 {
        let options: Options
        do {
            options = try parse(arguments)
        } catch {
            if !error.message.isEmpty { PBSOutput.error(error.message) }
            PBSOutput.error(usage)
            return 1
        }
        if options.version {
            PBSOutput.error("version: \(PBSServer.version)")
            return 0
        }
        switch options.mode {
        case .show, .list: return show(options, context)
        case .offline, .clear, .note: return mark(options, context)
        }
    }

    static func parse(_ arguments: [String]) throws(Failure) -> Options {
        var o = Options()
        let items: [GetOpt.Item]
        do {
            items = try GetOpt(spec: "acdlopqrs:x-:N:n").parse(arguments)
        } catch {
            throw Failure(message: "pbsnodes: \(error.message)")
        }
        for item in items {
            switch item {
            case .operand(let s):
                guard !s.isEmpty else { throw Failure(message: "") }
                o.operands.append(s)
            case .option("a", _): o.mode = .show
            case .option("c", _): o.mode = .clear
            case .option("l", _): o.mode = .list
            case .option("o", _): o.mode = .offline
            case .option("q", _): o.quiet = true
            case .option("s", _): break // one server: the local vbatchd
            case .option("x", _): o.mode = .show; o.xml = true
            case .option("n", _): o.listNotes = true
            case .option("N", let note?):
                // As Torque: -N alone sets the note; with -o or -c it goes with the change.
                if o.mode == .show { o.mode = .note }
                o.note = note == "n" ? "" : note
            case .option("r", _):
                throw Failure(message: "pbsnodes: -r (mark down) is not supported by vbatch: a node is down while its libvirtd cannot be reached; use -o to take a node offline, or vbatch node fence")
            case .option("d", _), .option("p", _):
                throw Failure(message: "pbsnodes: -d and -p are not supported by vbatch: nodes come from its site file")
            case .option("-", let word):
                guard word == "version" else {
                    throw Failure(message: "pbsnodes: unknown option --\(PBSFormat.clean(word ?? ""))")
                }
                o.version = true
            default: break
            }
        }
        if o.listNotes && o.mode != .list { throw Failure(message: "Error: -n requires -l") }
        if [.offline, .clear, .note].contains(o.mode) && o.operands.isEmpty {
            throw Failure(message: "pbsnodes: name the nodes to change")
        }
        return o
    }

    // MARK: - Showing nodes

    static func show(_ o: Options, _ context: PBSContext) -> Int32 {
        let all: [NodeInfo]
        do {
            all = try context.client.nodes()
        } catch {
            return fail(o, failure(error, context))
        }
        var operands = o.operands
        var filter = "down-offline-unknown"
        if o.mode == .list, let first = operands.first,
           let state = listStates.first(where: { $0.lowercased() == first.lowercased() }) {
            filter = state
            operands.removeFirst()
        }
        // Nodes in the order asked for; Torque stops at the first unknown one (after printing
        // the ones before it, except in XML, which is printed at the end).
        var selected: [NodeInfo] = []
        var unknown: PBSError?
        if operands.isEmpty {
            selected = all
        } else {
            for name in operands {
                guard let node = all.first(where: { $0.name == name }) else {
                    unknown = unknownNode()
                    break
                }
                selected.append(node)
            }
        }
        var output = ""
        if o.mode == .list {
            for node in selected.map(PBSNode.init) where matches(node.state, filter) {
                if o.listNotes, let note = node.info.note {
                    output += PBSFormat.left(PBSFormat.clean(node.info.name), 20) + " " + PBSFormat.left(node.state, 26) + " "
                        + PBSFormat.clean(note) + "\n"
                } else {
                    output += PBSFormat.left(PBSFormat.clean(node.info.name), 20) + " " + node.state + "\n"
                }
            }
        } else {
            let details = PBSNode.Details.fetch(context, for: selected)
            if o.xml {
                if unknown == nil {
                    output = "<Data>" + selected.map { PBSNode($0).xml(details, context) }.joined() + "</Data>\n"
                }
            } else {
                for node in selected { output += PBSNode(node).display(details, context) }
            }
        }
        PBSOutput.print(output)
        if let unknown { return fail(o, unknown) }
        return 0
    }

    /// Torque's `filterbystate` on a node's state string.
    static func matches(_ state: String, _ filter: String) -> Bool {
        func has(_ word: String) -> Bool { state.contains(word) }
        switch filter {
        case "all": return true
        case "active": return has("busy") || has("job-exclusive") || has("job-sharing")
        case "up": return !has("down") && !has("offline") && !has("state-unknown")
        case "down": return has("down") || has("state-unknown")
        case "free", "offline", "reserve", "job-exclusive", "job-sharing", "busy", "state-unknown", "time-shared":
            return has(filter)
        default: return has("down") || has("offline") || has("state-unknown")
        }
    }

    // MARK: - Marking nodes

    static func mark(_ o: Options, _ context: PBSContext) -> Int32 {
        var status: Int32 = 0
        var current: [NodeInfo]?
        if o.mode == .note {
            do {
                current = try context.client.nodes()
            } catch {
                return fail(o, failure(error, context))
            }
        }
        for name in o.operands {
            let change: NodeStateRequest
            let what: String
            switch o.mode {
            case .offline:
                change = NodeStateRequest(enabled: false, reason: o.note.flatMap { $0.isEmpty ? nil : $0 })
                what = "Error marking node \(PBSFormat.clean(name)) - "
            case .clear:
                change = NodeStateRequest(enabled: true, reason: o.note.flatMap { $0.isEmpty ? nil : $0 })
                what = "Error marking node \(PBSFormat.clean(name)) - "
            default:
                what = "Error setting note attribute for \(PBSFormat.clean(name)) - "
                guard let node = current?.first(where: { $0.name == name }) else {
                    if !o.quiet { PBSOutput.error(what + "Unknown node  MSG=cannot locate specified node") }
                    if status == 0 { status = 1 }
                    continue
                }
                guard !node.enabled else {
                    if !o.quiet {
                        PBSOutput.error(what + "vbatch keeps a note only for a node that is offline (pbsnodes -o -N \"note\" \(PBSFormat.clean(name)))")
                    }
                    if status == 0 { status = 1 }
                    continue
                }
                change = NodeStateRequest(enabled: false, reason: o.note.flatMap { $0.isEmpty ? nil : $0 })
            }
            do {
                _ = try context.client.setNode(name, change)
            } catch {
                if error.kind == .connect || error.kind == .transport {
                    return fail(o, failure(error, context))
                }
                if !o.quiet { PBSOutput.error(what + reason(error)) }
                if status == 0 { status = 1 }
            }
        }
        return status
    }

    /// The daemon's refusal in Torque's words: `Unauthorized Request  MSG=…` (PBSE_PERM),
    /// `Unknown node  MSG=cannot locate specified node` (PBSE_UNKNODE).
    static func reason(_ error: ClientError) -> String {
        switch error.status {
        case 403: return "Unauthorized Request  MSG=\(error.message)"
        case 404: return "Unknown node  MSG=cannot locate specified node"
        default: return error.message
        }
    }

    static func unknownNode() -> PBSError {
        PBSError("pbsnodes: Unknown node  MSG=cannot locate specified node", status: 1)
    }

    static func failure(_ error: ClientError, _ context: PBSContext) -> PBSError {
        if error.kind == .connect || error.kind == .transport { return .connect("pbsnodes", context.server, error) }
        return PBSError("pbsnodes: \(error.message)", status: 1)
    }

    /// Reports `error` (unless `-q`) and returns its status.
    static func fail(_ o: Options, _ error: PBSError) -> Int32 {
        if !o.quiet { error.report() }
        return error.status
    }
}

/// A vbatch worker node seen as a Torque node.
struct PBSNode {
    let info: NodeInfo

    init(_ info: NodeInfo) { self.info = info }

    /// No further job fits: every slot is taken and no pooled VM waits for a job (a job of a
    /// pool's environment starts in one of its idle VMs).
    var isFull: Bool {
        info.freeSlots == 0 && !info.jobs.isEmpty && info.pools.allSatisfy { $0.idle == 0 }
    }

    /// `free`, `job-exclusive` (no slot free), `offline` (drained, fenced, or taken out of
    /// service after failed VM starts), `down` (its libvirtd cannot be reached, or has not been
    /// yet), or combinations such as `down,offline` and `offline,job-exclusive`.
    var state: String {
        var words: [String] = []
        if info.link != "up" { words.append("down") }
        if !info.enabled || info.fenced { words.append("offline") }
        if isFull { words.append("job-exclusive") }
        return words.isEmpty ? "free" : words.joined(separator: ",")
    }

    /// What the attributes need beyond the node: the queues (for `properties`) and the
    /// running jobs the caller may see (for the slots in `jobs`).
    struct Details {
        var queues: [QueueInfo] = []
        var jobs: [Int64: JobInfo] = [:]

        /// Everyone's running jobs for an operator; a user sees their own (others' jobs are
        /// listed without their CPUs).
        static func fetch(_ context: PBSContext, for nodes: [NodeInfo]) -> Details {
            var details = Details()
            details.queues = (try? context.client.queues()) ?? []
            if nodes.contains(where: { !$0.jobs.isEmpty }) {
                let jobs = (try? context.client.jobs(all: true)) ?? (try? context.client.jobs(all: false)) ?? []
                for job in jobs { details.jobs[job.id] = job }
            }
            return details
        }
    }

    /// `properties`: the queues whose jobs may run on the node, then the environments (VM
    /// images) it is limited to. Sites tag Torque nodes with queue names so that ARC's PBS
    /// backend, which counts a queue's CPUs on the nodes whose properties name it, finds them.
    func properties(_ queues: [QueueInfo]) -> [String] {
        var names: [String] = []
        for queue in queues where serves(queue, queues) { names.append(queue.name) }
        for environment in info.environments ?? [] where !names.contains(environment) { names.append(environment) }
        return names
    }

    /// Whether the node runs jobs of `queue`: an execution queue when it lists the node (or
    /// no nodes) and shares an environment with it; a routing queue when one of its
    /// destinations does.
    func serves(_ queue: QueueInfo, _ all: [QueueInfo]) -> Bool {
        if queue.kind == "routing" {
            return (queue.destinations ?? []).contains { name in
                all.first { $0.name == name && $0.kind != "routing" }.map { serves($0, all) } ?? false
            }
        }
        if let nodes = queue.nodes, !nodes.contains(info.name) { return false }
        guard let wanted = queue.environments, let allowed = info.environments else { return true }
        return !Set(wanted).isDisjoint(with: allowed)
    }

    /// `jobs`: `slot/ID.SERVER` for each vCPU of each running job, its host CPU as in the
    /// job's `exec_host`, `, `-separated (Torque 4's form: one entry per slot). A job the
    /// caller may not see gets one entry, at the lowest number no other entry uses.
    func jobSlots(_ jobs: [Int64: JobInfo], _ context: PBSContext) -> [String] {
        var entries: [(slot: Int, id: Int64)] = []
        var hidden: [Int64] = []
        for id in info.jobs {
            if let cpus = jobs[id]?.cpus, !cpus.isEmpty {
                entries += cpus.map { ($0, id) }
            } else {
                hidden.append(id)
            }
        }
        var used = Set(entries.map(\.slot))
        var next = 0
        for id in hidden {
            while used.contains(next) { next += 1 }
            entries.append((next, id))
            used.insert(next)
        }
        return entries.sorted { ($0.slot, $0.id) < ($1.slot, $1.id) }.map { "\($0.slot)/\(context.fullID($0.id))" }
    }

    /// `status`, the part of a Torque MOM's report that vbatch knows: the time, the jobs,
    /// `state=free` (the node answers), the slots as `ncpus`, and the memory jobs may use
    /// on it as `physmem` and `totmem`, what is not booked as `availmem` (all in kb).
    func status(_ context: PBSContext) -> String {
        let jobs = info.jobs.map(context.fullID).joined(separator: " ")
        return "rectime=\(Int(context.now)),jobs=\(jobs),state=free,ncpus=\(info.slots),physmem=\(info.memoryMB * 1024)kb,"
            + "availmem=\(info.freeMemoryMB * 1024)kb,totmem=\(info.memoryMB * 1024)kb"
    }

    /// The attributes in Torque's order; `properties`, `jobs` and `note` only when set; then
    /// `vbatch_image_cache` for libvirt nodes (parsers of Torque's output skip unknown keys).
    func attributes(_ details: Details, _ context: PBSContext) -> [(String, String)] {
        var a: [(String, String)] = [
            ("state", state),
            ("power_state", "Running"),
            ("np", String(info.slots)),
        ]
        let properties = properties(details.queues)
        if !properties.isEmpty { a.append(("properties", properties.joined(separator: ","))) }
        a.append(("ntype", "cluster"))
        let slots = jobSlots(details.jobs, context)
        if !slots.isEmpty { a.append(("jobs", slots.joined(separator: ", "))) }
        a.append(("status", status(context)))
        if let note = info.note, !note.isEmpty { a.append(("note", note)) }
        // vbatch's own: what the node has in its image cache (libvirt nodes only).
        if let cache = info.cache {
            a.append(("vbatch_image_cache", Quantities.formatMemory(Int(cache.bytes >> 20)) + " of "
                + Quantities.formatMemory(Int(cache.capBytes >> 20)) + (cache.images.isEmpty ? "" : ": " + cache.images.joined(separator: ", "))))
        }
        return a.map { ($0.0, PBSFormat.clean($0.1)) }
    }

    /// `pbsnodes -a`: the name, `     name = value` lines, a blank line.
    func display(_ details: Details, _ context: PBSContext) -> String {
        var out = PBSFormat.clean(info.name) + "\n"
        for (name, value) in attributes(details, context) { out += "     \(name) = \(value)\n" }
        return out + "\n"
    }

    /// `pbsnodes -x`: `<Node><name>…</name><state>…</state>…</Node>`.
    func xml(_ details: Details, _ context: PBSContext) -> String {
        var out = "<Node><name>\(XMLText.escape(PBSFormat.clean(info.name)))</name>"
        for (name, value) in attributes(details, context) { out += "<\(name)>\(XMLText.escape(value))</\(name)>" }
        return out + "</Node>"
    }

}
