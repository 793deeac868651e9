import VBatchAPI
import VBatchClient
import VBatchCore

/// `qmgr -c COMMAND`: the reading half of Torque's administrator command, which grid CEs
/// and monitoring scripts call.
///
/// - `list server [attribute,…]`: `Server NAME`, then tab-indented `name = value` lines
///   (`server_state`, `scheduling`, `total_jobs`, `state_count`, `default_queue`,
///   `keep_completed`, `pbs_version`: ARC's PBS backend reads `pbs_version`) and a blank line;
/// - `list queue [name,…] [attribute,…]`, `list node [name,…] [attribute,…]`: the same for
///   queues (as `qstat -f -Q`) and nodes (as `pbsnodes`); without names, all of them;
/// - `print server`, `print queue [name,…]`, `print node [name,…]`: the attributes an
///   administrator sets, as the qmgr commands that would set them.
///
/// Words may be abbreviated as in Torque (`qmgr -c "l s"`). vbatch's queues and nodes are
/// configured in its files, so `create`, `delete`, `set`, `unset` and `active` are refused.
/// Unlike Torque's qmgr, which exits 0 unless given `-a`, every failure exits non-zero:
/// 1 for a malformed command, 2 for one refused or naming an unknown object, 3 when vbatchd
/// cannot be reached.
enum Qmgr {
    static let usage = "Usage: qmgr [-a] [-c command] [-e] [-n] [-z] [server...]"

    static let help = """
        vbatch's qmgr reads the batch system's configuration; it does not change it.
        Commands (words may be abbreviated, e.g. "l s"):
          list server [attribute,...]
          list queue [name,...] [attribute,...]
          list node [name,...] [attribute,...]
          print server | print queue [name,...] | print node [name,...]
        Queues and nodes are configured in vbatch's files (docs/configuration.md); take a node
        offline with pbsnodes -o or vbatch node drain, stop a queue with vbatch queue stop.
        """

    enum Object: String {
        case server, queue, node
    }

    struct Request: Equatable {
        var print: Bool
        var object: Object
        var names: [String]
        var attributes: [String]
    }

    enum Command: Equatable {
        case nothing
        case help
        case request(Request)
    }

    struct Failure: Error {
        var message: String
        var status: Int32
    }

    static func run(_ arguments: [String], _ context: PBSContext) -> Int32 {
        var command: String?
        var echo = false, checkOnly = false, silent = false
        do {
            for item in try GetOpt(spec: "ac:enz").parse(arguments) {
                switch item {
                case .option("c", let text?): command = text
                case .option("e", _): echo = true
                case .option("n", _): checkOnly = true
                case .option("z", _): silent = true
                default: break // -a (every failure already exits non-zero); servers: there is one
                }
            }
        } catch {
            PBSOutput.error("qmgr: \(error.message)")
            PBSOutput.error(usage)
            return 1
        }
        func report(_ failure: Failure) -> Int32 {
            if !silent { PBSOutput.error(failure.message) }
            return failure.status
        }
        guard let command else {
            return report(Failure(message: "qmgr: vbatch's qmgr runs one command given with -c, e.g. qmgr -c \"list server\"\n\(usage)",
                                  status: 1))
        }
        if echo { PBSOutput.print(command + "\n") }
        do {
            switch try parse(command) {
            case .nothing: return 0
            case .help:
                PBSOutput.print(help + "\n")
                return 0
            case .request(let request):
                if checkOnly { return 0 }
                var output = ""
                let failures = execute(request, context, &output)
                PBSOutput.print(output)
                for failure in failures where !silent { PBSOutput.error(failure.message) }
                return failures.first?.status ?? 0
            }
        } catch {
            return report(error)
        }
    }

    // MARK: - Parsing

    static let operations = ["create", "delete", "set", "unset", "list", "print", "active", "help", "quit", "exit"]

    /// A command as Torque's qmgr parses it: `operation object [names] [attributes]`.
    static func parse(_ text: String) throws(Failure) -> Command {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else { return .nothing }
        // Torque takes the first operation the word abbreviates.
        guard let operation = operations.first(where: { $0.hasPrefix(first) }) else {
            throw Failure(message: "qmgr: Illegal operation: \(PBSFormat.clean(first))\nTry 'help' if you are having trouble.", status: 1)
        }
        switch operation {
        case "help": return .help
        case "quit", "exit": return .nothing
        case "list", "print": break
        default:
            throw Failure(message: "qmgr: vbatch does not support \(operation): queues and nodes are configured in vbatch's files "
                          + "(docs/configuration.md); take a node offline with pbsnodes -o, stop a queue with vbatch queue stop",
                          status: 2)
        }
        guard words.count > 1 else { throw Failure(message: "qmgr: No object type given", status: 1) }
        guard let object = [Object.server, .queue, .node].first(where: { $0.rawValue.hasPrefix(words[1]) }) else {
            throw Failure(message: "qmgr: Illegal object type: \(PBSFormat.clean(words[1])).", status: 1)
        }
        var rest = Array(words.dropFirst(2))
        var names: [String] = []
        if let word = rest.first, !isAttributeList(word, object) {
            for name in word.split(separator: ",", omittingEmptySubsequences: false) {
                // `name@server`: there is one server.
                let bare = String(name.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)[0])
                guard !bare.isEmpty || object == .server else {
                    throw Failure(message: "qmgr: syntax error - checklist failed", status: 1)
                }
                names.append(bare)
            }
            rest.removeFirst()
            // Server names select the server, and vbatch is the only one.
            if object == .server { names = [] }
        }
        var attributes: [String] = []
        for piece in rest.joined(separator: " ").split(separator: ",") {
            let name = piece.drop { $0 == " " }.prefix { $0 != " " && $0 != "=" && $0 != "+" && $0 != "-" }
            guard !name.isEmpty else { throw Failure(message: "qmgr: Syntax error - cannot locate attribute", status: 1) }
            attributes.append(String(name))
        }
        return .request(Request(print: operation == "print", object: object, names: names, attributes: attributes))
    }

    /// Attribute names of each object, to tell `list server pbs_version` (an attribute)
    /// from `list queue grid` (a name), as Torque's `is_attr` does.
    static let knownAttributes: [Object: Set<String>] = [
        .server: ["server_state", "scheduling", "total_jobs", "state_count", "default_queue", "keep_completed", "pbs_version",
                  "acl_hosts", "managers", "operators", "log_events", "mail_from", "query_other_jobs", "scheduler_iteration",
                  "node_check_rate", "tcp_timeout", "next_job_number", "server_name"],
        .queue: ["queue_type", "max_queuable", "Priority", "total_jobs", "state_count", "max_running", "max_user_run",
                 "route_destinations", "enabled", "started"],
        .node: ["state", "power_state", "np", "properties", "ntype", "jobs", "status", "note", "mom_service_port",
                "mom_manager_port"],
    ]

    static func isAttributeList(_ word: String, _ object: Object) -> Bool {
        let known = knownAttributes[object] ?? []
        return word.split(separator: ",").allSatisfy { piece in
            known.contains(String(piece)) || piece.hasPrefix("resources_")
                || (object == .queue && (piece.hasPrefix("vbatch_") || piece.hasPrefix("acl_")))
        }
    }

    // MARK: - Running

    /// Runs a request, appending its output; returns the failures (reported after it).
    static func execute(_ request: Request, _ context: PBSContext, _ output: inout String) -> [Failure] {
        do {
            switch request.object {
            case .server:
                let server = try serverStatus(context)
                if request.print {
                    if request.attributes.isEmpty {
                        output += printQueues(try queues(context), context)
                    }
                    output += "#\n# Set server attributes.\n#\n"
                    for (name, value) in select(server.attributes(), request.attributes) where PBSServer.settable.contains(name) {
                        output += setCommands("server", name, value)
                    }
                } else {
                    output += "Server \(context.server)\n"
                    for (name, value) in select(server.attributes(), request.attributes) { output += line(name, value) }
                    output += "\n"
                }
                return []
            case .queue:
                let all = try queues(context)
                var failures: [Failure] = []
                var shown: [QueueInfo] = []
                for name in request.names {
                    if let queue = all.first(where: { $0.name == name }) {
                        shown.append(queue)
                    } else {
                        failures.append(Failure(message: "qmgr obj=\(PBSFormat.clean(name)) svr=\(context.server): Unknown queue MSG=cannot locate queue",
                                                status: 2))
                    }
                }
                if request.names.isEmpty { shown = all }
                if request.print {
                    if !shown.isEmpty { output += printQueues(shown, context, attributes: request.attributes) }
                } else {
                    for queue in shown {
                        output += "Queue \(PBSFormat.clean(queue.name))\n"
                        for (name, value) in select(queueAttributes(queue), request.attributes) { output += line(name, value) }
                        output += "\n"
                    }
                }
                return failures
            case .node:
                let all = try nodes(context)
                var failures: [Failure] = []
                var shown: [NodeInfo] = []
                for name in request.names {
                    if let node = all.first(where: { $0.name == name }) {
                        shown.append(node)
                    } else {
                        failures.append(Failure(message: "qmgr obj=\(PBSFormat.clean(name)) svr=\(context.server): Unknown node  MSG=cannot locate specified node",
                                                status: 2))
                    }
                }
                if request.names.isEmpty { shown = all }
                let details = PBSNode.Details.fetch(context, for: shown)
                if request.print && !shown.isEmpty { output += "#\n# Create nodes and set their properties.\n#\n" }
                for node in shown {
                    let attributes = select(PBSNode(node).attributes(details, context), request.attributes)
                    let name = PBSFormat.clean(node.name)
                    if request.print {
                        output += "#\n# Create and define node \(name)\n#\ncreate node \(name)\n"
                        for (attribute, value) in attributes where nodeSettable.contains(attribute) {
                            output += setCommands("node \(name)", attribute, value)
                        }
                    } else {
                        output += "Node \(name)\n"
                        for (attribute, value) in attributes { output += line(attribute, value) }
                        output += "\n"
                    }
                }
                return failures
            }
        } catch {
            return [error]
        }
    }

    /// Queue attributes an administrator sets (not the counts, nor vbatch's own).
    static func queueSettable(_ name: String) -> Bool {
        ["queue_type", "max_queuable", "Priority", "max_running", "max_user_run", "route_destinations", "enabled", "started"]
            .contains(name) || name.hasPrefix("resources_max.") || name.hasPrefix("resources_default.")
    }

    static let nodeSettable: Set<String> = ["state", "np", "properties", "ntype", "note"]

    /// The queues as `qstat -f -Q` shows them, names cleaned.
    static func queueAttributes(_ queue: QueueInfo) -> [(String, String)] {
        Qstat.queueAttributes(queue).map { ($0.0, PBSFormat.clean($0.1)) }
    }

    /// `print queue`: a `create queue` block per queue.
    static func printQueues(_ queues: [QueueInfo], _ context: PBSContext, attributes: [String] = []) -> String {
        var out = "#\n# Create queues and set their attributes.\n#\n"
        for queue in queues {
            let name = PBSFormat.clean(queue.name)
            out += "#\n# Create and define queue \(name)\n#\ncreate queue \(name)\n"
            for (attribute, value) in select(queueAttributes(queue), attributes) where queueSettable(attribute) {
                out += setCommands("queue \(name)", attribute, value)
            }
        }
        return out
    }

    /// The attributes asked for (`resources_max` selects every `resources_max.*`), or all.
    static func select(_ attributes: [(String, String)], _ names: [String]) -> [(String, String)] {
        guard !names.isEmpty else { return attributes }
        return attributes.filter { attribute in names.contains { attribute.0 == $0 || attribute.0.hasPrefix($0 + ".") } }
    }

    /// One `\tname = value` line of a listing, wrapped as Torque's qmgr wraps it: before a
    /// comma-separated piece that would reach column 80, on a line indented to the value.
    static func line(_ name: String, _ value: String) -> String {
        let indent = name.count + 8 + 3
        var out = "\t\(name) = "
        var column = indent
        let pieces = value.split(separator: ",", omittingEmptySubsequences: false)
        for (i, piece) in pieces.enumerated() {
            var text = piece
            column += text.count + 1
            if i > 0 && column >= 80 {
                out += "\n" + String(repeating: " ", count: indent)
                column = text.count + indent
                text = text.drop { $0 == " " || $0 == "\t" }
            }
            out += text
            if i < pieces.count - 1 { out += "," }
        }
        return out + "\n"
    }

    /// `set OBJECT name = a`, then `set OBJECT name += b` for each further comma-separated
    /// piece, as Torque's `print` writes a list.
    static func setCommands(_ object: String, _ name: String, _ value: String) -> String {
        value.split(separator: ",", omittingEmptySubsequences: false).enumerated().map { i, piece in
            "set \(object) \(name) \(i == 0 ? "=" : "+=") \(piece)\n"
        }.joined()
    }

    // MARK: - The daemon

    static func serverStatus(_ context: PBSContext) throws(Failure) -> PBSServer {
        do {
            return try PBSServer.status("qmgr", context)
        } catch {
            throw Failure(message: error.message, status: error.message.contains("cannot connect") ? 3 : 2)
        }
    }

    static func queues(_ context: PBSContext) throws(Failure) -> [QueueInfo] {
        do {
            return try context.client.queues()
        } catch {
            throw failure(error, context)
        }
    }

    static func nodes(_ context: PBSContext) throws(Failure) -> [NodeInfo] {
        do {
            return try context.client.nodes()
        } catch {
            throw failure(error, context)
        }
    }

    static func failure(_ error: ClientError, _ context: PBSContext) -> Failure {
        if error.kind == .connect || error.kind == .transport {
            return Failure(message: PBSError.connect("qmgr", context.server, error).message, status: 3)
        }
        return Failure(message: "qmgr: \(error.message)", status: 2)
    }
}
