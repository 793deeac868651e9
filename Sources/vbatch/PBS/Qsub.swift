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

/// `qsub [options] [script]`: submits a job script (a file, or standard input) and prints its
/// id as Torque does, `ID.SERVER`.
///
/// Options come from the command line and from `#PBS` directives at the top of the script
/// (before its first command); the command line wins. Supported: `-q`, `-N`, `-l`
/// (walltime, nodes=1[:ppn=N][:property], ncpus/procs, mem, vmem, pmem, pvmem; cput and file
/// are accepted and ignored; `environment=NAME` picks the VM image, a vbatch extension),
/// `-o`, `-e`, `-j`, `-v`, `-V`, `-h`, `-S`, `-F`, `-d`/`-w` (PBS_O_INITDIR), `-z`, `-C`;
/// `-A`, `-c`, `-k`, `-m`,
/// `-M`, `-p`, `-r`, `-u`, `-W group_list/umask/x=…` are accepted and ignored. `-I`, `-t`,
/// `-a`, `-W depend/stagein/stageout` are refused: vbatch cannot honour them.
///
/// A job runs in its own VM, which sees none of the submit host's files: `-o`/`-e` are
/// recorded in the job's environment (`VBATCH_PBS_OUTPUT`, `VBATCH_PBS_ERROR`,
/// `VBATCH_PBS_JOIN`) and the streams stay in the job's spool (`vbatch output ID`).
enum Qsub {
    static let usage = """
        usage: qsub [-a date_time] [-A account_string] [-b secs] [-c checkpoint_options]
             [-C directive_prefix] [-d path] [-D path] [-e path] [-f] [-F arguments] [-h]
             [-j oe|eo|n] [-k keep] [-l resource_list] [-m mail_options] [-M user_list]
             [-N jobname] [-o path] [-p priority] [-q queue] [-r y|n] [-S path]
             [-u user_list] [-v variable_list] [-V] [-w path] [-W additional_attributes]
             [-z] [script]
        """

    static let spec = "a:A:b:c:C:d:D:e:fF:hIj:k:l:m:M:nN:o:p:P:q:r:S:t:T:u:v:VW:w:Xxz"

    /// The options of one source (command line or directives).
    struct Options {
        var queue: String?
        var name: String?
        var resources: [(String, String)] = []
        var output: String?
        var error: String?
        var join: String?
        var variables: [String] = []
        var exportAll = false
        var hold = false
        var shell: String?
        var arguments: String?
        var workdir: String?
        var quiet = false
        var prefix: String?
        var operands: [String] = []
    }

    struct Failure: Error {
        var message: String
        var status: Int32 = 1
    }

    static func run(_ arguments: [String], _ context: PBSContext) -> Int32 {
        do {
            let id = try submit(arguments, context)
            if let id { PBSOutput.print(id + "\n") }
            return 0
        } catch {
            PBSOutput.error(error.message)
            if error.status == 2 { PBSOutput.error(usage) }
            return error.status
        }
    }

    /// Submits and returns the id to print (nil with `-z`).
    static func submit(_ arguments: [String], _ context: PBSContext) throws(Failure) -> String? {
        let command = try parse(arguments, source: "command line")
        guard command.operands.count <= 1 else {
            throw Failure(message: "qsub: too many arguments: \(command.operands.dropFirst().map(PBSFormat.clean).joined(separator: " ")) (script arguments go in -F)", status: 2)
        }
        let path = command.operands.first ?? "-"
        if path != "-", let problem = ScriptFile.precheck(path) { throw Failure(message: "qsub: \(problem)") }
        var script: String
        do {
            script = try ScriptFile.read(path)
        } catch {
            throw Failure(message: "qsub: \(error.message)")
        }
        let prefix = command.prefix ?? PBSContext.environment("PBS_DPREFIX") ?? "#PBS"
        let directives = try parse(directiveArguments(script, prefix: prefix), source: "script directive")
        let o = merge(command, over: directives)

        var request = SubmitRequest(queue: "", script: script)
        let resources = try Resources.parse(o.resources)
        request.walltime = resources.walltime
        request.cores = resources.cores
        request.memoryMB = resources.memoryMB
        request.environment = resources.environment
        request.held = o.hold

        // Queue: -q, `queue@server` or `@server`; else the site's default.
        var queue = o.queue.map { String($0.split(separator: "@", omittingEmptySubsequences: false).first ?? "") } ?? ""
        if queue.isEmpty { queue = try defaultQueue(context) }
        request.queue = queue

        if let name = o.name {
            guard InputLimits.isSafeName(name) else {
                throw Failure(message: "qsub: illegal -N value (letters, digits and ._+-@=,: starting with a letter or digit, at most \(InputLimits.maxNameLength))")
            }
            request.name = name
        } else {
            request.name = defaultName(path)
        }

        if let shell = o.shell, !script.hasPrefix("#!") {
            let first = shell.split(separator: ",").first.map(String.init) ?? shell
            script = "#!" + (first.split(separator: "@").first.map(String.init) ?? first) + "\n" + script
        } else if !script.hasPrefix("#!") {
            // vbatch execs the script; without an interpreter line it would not run.
            script = "#!/bin/sh\n" + script
        }
        request.script = script
        if let args = o.arguments {
            do {
                request.arguments = try ShellWords.split(args)
            } catch {
                throw Failure(message: "qsub: -F: \(error.message)")
            }
        }
        request.variables = try variables(o, request: request, context: context)

        let response: SubmitResponse
        do {
            response = try context.client.submit(request)
        } catch {
            switch error.kind {
            case .connect, .transport: throw Failure(message: PBSError.connect("qsub", context.server, error).message)
            default: throw Failure(message: "qsub: submit error (\(error.message))")
            }
        }
        guard let id = response.ids.first else { throw Failure(message: "qsub: submit error (no job id returned)") }
        return o.quiet ? nil : context.fullID(id)
    }

    // MARK: - Options

    static func parse(_ arguments: [String], source: String) throws(Failure) -> Options {
        var o = Options()
        let items: [GetOpt.Item]
        do {
            items = try GetOpt(spec: spec).parse(arguments)
        } catch {
            throw Failure(message: "qsub: \(source): \(error.message)", status: 2)
        }
        for item in items {
            switch item {
            case .operand(let s): o.operands.append(s)
            case .option(let letter, let value):
                let v = value ?? ""
                switch letter {
                case "q": o.queue = v
                case "N": o.name = v
                case "l":
                    for piece in splitList(v) where !piece.isEmpty {
                        let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                        let key = String(parts[0]).lowercased()
                        guard parts.count == 2, !parts[1].isEmpty else {
                            throw Failure(message: "qsub: illegal -l value: \(PBSFormat.clean(piece)) (write resource=value)")
                        }
                        o.resources.append((key, String(parts[1])))
                    }
                case "o": o.output = v
                case "e": o.error = v
                case "j":
                    guard ["oe", "eo", "n"].contains(v) else { throw Failure(message: "qsub: illegal -j value: \(PBSFormat.clean(v))", status: 2) }
                    o.join = v
                case "v": o.variables += splitList(v)
                case "V": o.exportAll = true
                case "h": o.hold = true
                case "S": o.shell = v
                case "F": o.arguments = v
                case "d", "w": o.workdir = v
                case "z": o.quiet = true
                case "C": o.prefix = v
                case "I": throw Failure(message: "qsub: interactive jobs (-I) are not supported by vbatch", status: 2)
                case "t": throw Failure(message: "qsub: job arrays (-t) are not supported by vbatch", status: 2)
                case "a": throw Failure(message: "qsub: deferred start (-a) is not supported by vbatch", status: 2)
                case "W":
                    for attribute in splitList(v) {
                        let key = attribute.split(separator: "=", maxSplits: 1).first.map { String($0).lowercased() } ?? ""
                        if ["depend", "stagein", "stageout"].contains(key) {
                            throw Failure(message: "qsub: -W \(key) is not supported by vbatch (a job runs in its own VM; see docs/grid-ce.md)", status: 2)
                        }
                    }
                default: break // A b c D f k m M n p P r T u X x: accepted, nothing to do in vbatch.
                }
            }
        }
        return o
    }

    /// Command-line options over those of the script's directives.
    static func merge(_ command: Options, over script: Options) -> Options {
        var o = command
        o.queue = command.queue ?? script.queue
        o.name = command.name ?? script.name
        let given = Set(command.resources.map(\.0))
        o.resources = script.resources.filter { !given.contains($0.0) } + command.resources
        o.output = command.output ?? script.output
        o.error = command.error ?? script.error
        o.join = command.join ?? script.join
        o.variables = script.variables + command.variables
        o.exportAll = command.exportAll || script.exportAll
        o.hold = command.hold || script.hold
        o.shell = command.shell ?? script.shell
        o.arguments = command.arguments ?? script.arguments
        o.workdir = command.workdir ?? script.workdir
        o.quiet = command.quiet || script.quiet
        return o
    }

    /// The words of the script's directive lines: the lines starting with `prefix` among the
    /// leading blank and comment lines (Torque stops at the first command).
    static func directiveArguments(_ script: String, prefix: String) throws(Failure) -> [String] {
        var words: [String] = []
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
            let text = line.hasSuffix("\r") ? line.dropLast() : line
            if text.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            if text.hasPrefix(prefix) {
                var rest = text.dropFirst(prefix.count)
                guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { continue }
                rest = rest.drop { $0 == " " || $0 == "\t" }
                do {
                    var lineWords = try ShellWords.split(String(rest))
                    if let comment = lineWords.firstIndex(where: { $0.hasPrefix("#") }) { lineWords.removeSubrange(comment...) }
                    words += lineWords
                } catch {
                    throw Failure(message: "qsub: directive error: \(PBSFormat.clean(String(text))): \(error.message)")
                }
                continue
            }
            if text.hasPrefix("#") { continue }
            break
        }
        return words
    }

    /// Splits a Torque list (`a=1,b=2`) at commas outside single or double quotes.
    static func splitList(_ text: String) -> [String] {
        var items: [String] = []
        var current = ""
        var quote: Character?
        for ch in text {
            if let q = quote {
                if ch == q { quote = nil }
                current.append(ch)
            } else if ch == "'" || ch == "\"" {
                quote = ch
                current.append(ch)
            } else if ch == "," {
                items.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        items.append(current)
        return items
    }

    /// A value without one pair of enclosing quotes (`'a,b'` → `a,b`).
    static func unquote(_ value: String) -> String {
        guard value.count >= 2, let first = value.first, first == "'" || first == "\"", value.last == first else { return value }
        return String(value.dropFirst().dropLast())
    }

    // MARK: - The job's environment

    /// Variables not taken by `-V`: they describe the submit host's session, not the job's.
    static let notExported: Set<String> = ["HOME", "PWD", "OLDPWD", "SHLVL", "_", "VBATCH_SOCKET"]

    static func variables(_ o: Options, request: SubmitRequest, context: PBSContext) throws(Failure) -> [String: String] {
        var vars: [String: String] = [:]
        if o.exportAll {
            var p = environ
            while let entry = p.pointee {
                let text = String(cString: entry)
                if let eq = text.firstIndex(of: "=") {
                    let name = String(text[..<eq])
                    if InputLimits.isVariableName(name), !notExported.contains(name) {
                        vars[name] = String(text[text.index(after: eq)...])
                    }
                }
                p += 1
            }
        }
        for item in o.variables where !item.isEmpty {
            if let eq = item.firstIndex(of: "=") {
                let name = String(item[..<eq])
                guard InputLimits.isVariableName(name) else {
                    throw Failure(message: "qsub: illegal -v value: '\(PBSFormat.clean(name))' is not a variable name")
                }
                vars[name] = unquote(String(item[item.index(after: eq)...]))
            } else {
                guard InputLimits.isVariableName(item) else {
                    throw Failure(message: "qsub: illegal -v value: '\(PBSFormat.clean(item))' is not a variable name")
                }
                if let value = PBSContext.environment(item) ?? (getenv(item).map { String(cString: $0) }) {
                    vars[item] = value
                }
            }
        }
        for (name, value) in vars where value.utf8.contains(0) {
            throw Failure(message: "qsub: the value of \(name) contains a NUL byte")
        }
        // What Torque gives every job about where it came from.
        let cwd = currentDirectory()
        func set(_ name: String, _ value: String?) { if let value { vars[name] = value } }
        set("PBS_O_HOST", context.server)
        set("PBS_O_SERVER", context.server)
        set("PBS_O_QUEUE", request.queue)
        set("PBS_O_WORKDIR", cwd)
        set("PBS_O_INITDIR", o.workdir.map { absolute($0, cwd) })
        set("PBS_O_HOME", PBSContext.environment("HOME"))
        // A CE's job manager may run qsub with a bare environment: the account's name then.
        set("PBS_O_LOGNAME", PBSContext.environment("LOGNAME") ?? PBSContext.environment("USER")
            ?? getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } })
        set("PBS_O_PATH", PBSContext.environment("PATH"))
        set("PBS_O_SHELL", PBSContext.environment("SHELL"))
        set("PBS_O_MAIL", PBSContext.environment("MAIL"))
        set("PBS_O_LANG", PBSContext.environment("LANG"))
        set("PBS_JOBNAME", request.name)
        set("PBS_QUEUE", request.queue)
        set("PBS_ENVIRONMENT", "PBS_BATCH")
        // Where the streams were asked to go (vbatch keeps them in the spool; see docs/grid-ce.md).
        set("VBATCH_PBS_OUTPUT", o.output.map { pathWithHost($0, cwd: cwd, server: context.server) })
        set("VBATCH_PBS_ERROR", o.error.map { pathWithHost($0, cwd: cwd, server: context.server) })
        set("VBATCH_PBS_JOIN", o.join)
        return vars
    }

    /// Torque records `-o`/`-e` as `host:/absolute/path`.
    static func pathWithHost(_ path: String, cwd: String, server: String) -> String {
        if let colon = path.firstIndex(of: ":"), !path[..<colon].contains("/") {
            let host = path[..<colon]
            return "\(host):" + absolute(String(path[path.index(after: colon)...]), cwd)
        }
        return "\(server):" + absolute(path, cwd)
    }

    static func absolute(_ path: String, _ cwd: String) -> String {
        path.hasPrefix("/") ? path : (cwd.hasSuffix("/") ? cwd : cwd + "/") + path
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return PBSContext.environment("PWD") ?? "/" }
        return PBSFormat.string(fromC: buffer)
    }

    /// The script's file name, made a valid job name (`STDIN` for standard input, as Torque).
    static func defaultName(_ path: String) -> String {
        let base = ScriptFile.defaultName(path)
        var name = ""
        for scalar in base.unicodeScalars.prefix(InputLimits.maxNameLength) {
            let ok = scalar.isASCII && (isAlnum(scalar) || "._+-@=,:".unicodeScalars.contains(scalar))
            name.unicodeScalars.append(ok ? scalar : "_")
        }
        if let first = name.unicodeScalars.first, !isAlnum(first) { name = "J" + String(name.dropFirst()) }
        return InputLimits.isSafeName(name) ? name : "STDIN"
    }

    private static func isAlnum(_ s: Unicode.Scalar) -> Bool {
        (s.value >= 48 && s.value <= 57) || (s.value >= 65 && s.value <= 90) || (s.value >= 97 && s.value <= 122)
    }

    /// `$VBATCH_PBS_DEFAULT_QUEUE`, else the site's only routing queue, else its only queue.
    static func defaultQueue(_ context: PBSContext) throws(Failure) -> String {
        if let q = PBSContext.environment("VBATCH_PBS_DEFAULT_QUEUE") { return q }
        let queues: [QueueInfo]
        do {
            queues = try context.client.queues()
        } catch {
            switch error.kind {
            case .connect, .transport: throw Failure(message: PBSError.connect("qsub", context.server, error).message)
            default: throw Failure(message: "qsub: submit error (\(error.message))")
            }
        }
        if let queue = defaultQueue(among: queues) { return queue }
        throw Failure(message: "qsub: submit error (No default queue specified MSG=name a queue with -q or set VBATCH_PBS_DEFAULT_QUEUE)")
    }

    /// `$VBATCH_PBS_DEFAULT_QUEUE`, else the only enabled routing queue among `queues`, else
    /// the only queue; nil when none of these applies. The server's `default_queue`.
    static func defaultQueue(among queues: [QueueInfo]) -> String? {
        if let q = PBSContext.environment("VBATCH_PBS_DEFAULT_QUEUE") { return q }
        let routing = queues.filter { $0.kind == "routing" && $0.enabled }
        if routing.count == 1 { return routing[0].name }
        if queues.count == 1 { return queues[0].name }
        return nil
    }

    // MARK: - Resources

    /// `-l` resources, PBS-style.
    struct Resources {
        var walltime: Int?
        var cores: Int?
        var memoryMB: Int?
        var environment: String?

        /// Resources accepted and ignored: they constrain nothing vbatch schedules.
        static let ignored: Set<String> = ["cput", "pcput", "file", "naccesspolicy", "qos", "epilogue", "prologue", "nice", "other"]

        static func parse(_ list: [(String, String)]) throws(Failure) -> Resources {
            var r = Resources()
            var memory: [String: Int] = [:]
            var cores: Int?
            for (key, value) in list {
                switch key {
                case "walltime":
                    let text = value.split(separator: ".").first.map(String.init) ?? value
                    guard let seconds = Quantities.parseWalltime(text), seconds > 0 else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  walltime: \(PBSFormat.clean(value)))")
                    }
                    r.walltime = seconds
                case "nodes":
                    cores = try parseNodes(value)
                case "ncpus", "procs", "ppn":
                    guard let n = Int(value), n >= 1, n <= InputLimits.maxCores else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  \(key): \(PBSFormat.clean(value)))")
                    }
                    cores = n
                case "mem", "vmem", "pmem", "pvmem":
                    guard let mb = parseSize(value), mb >= 1 else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  \(key): \(PBSFormat.clean(value)))")
                    }
                    memory[key] = mb
                case "environment", "env":
                    guard InputLimits.isSafeName(value, maxLength: 64) else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  environment: \(PBSFormat.clean(value)))")
                    }
                    r.environment = value
                default:
                    if ignored.contains(key) { continue }
                    throw Failure(message: "qsub: submit error (Unknown resource type  MSG=vbatch does not provide resource \(PBSFormat.clean(key)))")
                }
            }
            r.cores = cores
            let perProcess = max(1, cores ?? 1)
            r.memoryMB = memory["mem"] ?? memory["vmem"] ?? memory["pmem"].map { $0 * perProcess } ?? memory["pvmem"].map { $0 * perProcess }
            return r
        }

        /// `nodes=1`, `nodes=1:ppn=N`: one VM on one node. Node properties (`nodes=1:ppn=2:bigmem`,
        /// as ARC's `queue_node_string` adds) are accepted and ignored: vbatch's queues say
        /// which nodes serve them. More nodes, and `key=value` specs other than ppn, are refused.
        static func parseNodes(_ value: String) throws(Failure) -> Int? {
            let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts[0] == "1" else {
                if let n = Int(parts[0]), n > 1 {
                    throw Failure(message: "qsub: submit error (Job exceeds queue resource limits MSG=nodes=\(n): a vbatch job is one VM on one node; ask for nodes=1:ppn=N)")
                }
                throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  nodes: \(PBSFormat.clean(value)) (only nodes=1[:ppn=N]))")
            }
            var ppn: Int?
            for property in parts.dropFirst() {
                if property.lowercased().hasPrefix("ppn=") {
                    guard let n = Int(property.dropFirst(4)), n >= 1, n <= InputLimits.maxCores else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  nodes: \(PBSFormat.clean(value)))")
                    }
                    ppn = n
                } else if property.isEmpty || property.contains("=")
                    || !property.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }) {
                    throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  nodes: \(PBSFormat.clean(value)) (only nodes=1[:ppn=N][:property]))")
                }
            }
            return ppn ?? 1
        }

        /// PBS sizes: a number with b, kb, mb, gb, tb (or words: w, kw, mw, gw, tw, 8 bytes),
        /// in MiB rounded up. A bare number is bytes, as in PBS.
        static func parseSize(_ text: String) -> Int? {
            let s = text.lowercased()
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 15, let n = Int(digits) else { return nil }
            var unit = s.dropFirst(digits.count)
            var wordSize = 1
            if unit.hasSuffix("w") {
                wordSize = 8
                unit = unit.dropLast()
            } else if unit.hasSuffix("b") {
                unit = unit.dropLast()
            }
            let shift: Int
            switch unit {
            case "": shift = 0
            case "k": shift = 10
            case "m": shift = 20
            case "g": shift = 30
            case "t": shift = 40
            default: return nil
            }
            let bytes = Double(n) * Double(wordSize) * Double(1 << shift)
            let mb = (bytes / 1_048_576).rounded(.up)
            guard mb <= Double(Quantities.maxMemoryMB) else { return nil }
            return Int(mb)
        }
    }
}

/// POSIX shell word splitting without expansion: blanks separate words; single quotes,
/// double quotes (with `\"`, `\\`, `\$` and `` \` `` escapes) and backslashes quote.
enum ShellWords {
    struct Failure: Error {
        var message: String
    }

    static func split(_ text: String) throws(Failure) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var chars = text.makeIterator()
        while let ch = chars.next() {
            switch ch {
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                var closed = false
                while let c = chars.next() {
                    if c == "'" { closed = true; break }
                    current.append(c)
                }
                if !closed { throw Failure(message: "unterminated single quote") }
            case "\"":
                inWord = true
                var closed = false
                while let c = chars.next() {
                    if c == "\"" { closed = true; break }
                    if c == "\\" {
                        guard let n = chars.next() else { break }
                        if "\"\\$`".contains(n) { current.append(n) } else if n != "\n" { current.append(c); current.append(n) }
                        continue
                    }
                    current.append(c)
                }
                if !closed { throw Failure(message: "unterminated double quote") }
            case "\\":
                inWord = true
                if let n = chars.next(), n != "\n" { current.append(n) }
            default:
                inWord = true
                current.append(ch)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
