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

    // The parsing itself is VBatchClient's (QsubArguments), where vbatch-fuzz reaches it.
    typealias Options = QsubArguments.Options
    typealias Failure = QsubArguments.Failure
    typealias Resources = QsubArguments.Resources

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
        try QsubArguments.parse(arguments, source: source)
    }

    static func merge(_ command: Options, over script: Options) -> Options { QsubArguments.merge(command, over: script) }

    static func directiveArguments(_ script: String, prefix: String) throws(Failure) -> [String] {
        try QsubArguments.directiveArguments(script, prefix: prefix)
    }

    static func unquote(_ value: String) -> String { QsubArguments.unquote(value) }

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
}
