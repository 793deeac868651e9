#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch submit SCRIPT -q QUEUE [-l …] [--env ENV] [--count N] [-N NAME] [--hold] [-v VAR=VALUE …] [-- ARGS…]`
struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a job script; prints the new job id(s), one per line.",
        discussion: """
            Resources: -l walltime=2h,cores=2,mem=2gb (PBS's nodes=1:ppn=N is read as cores=N). \
            Walltimes: 3600, 90m, 2h, 1h30m, HH:MM:SS. Memory: 512mb, 2gb, or a number of MiB.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The job script, or - to read it from standard input.", valueName: "SCRIPT"))
    var script: String

    @Option(name: [.customShort("q"), .long], help: ArgumentHelp("The queue to submit to.", valueName: "QUEUE"))
    var queue: String

    @Option(name: [.customShort("l"), .customLong("resources")],
            help: ArgumentHelp("Resources: walltime=…,cores=…,mem=… (repeatable).", valueName: "LIST"))
    var resources: [String] = []

    @Option(name: .customLong("env"),
            help: ArgumentHelp("The execution environment (VM image) to run in.", valueName: "ENV"))
    var environment: String?

    @Option(help: ArgumentHelp("Submit an array of N identical jobs in one transaction.", valueName: "N"))
    var count: Int = 1

    @Option(name: [.customShort("N"), .long],
            help: ArgumentHelp("The job name (default: the script's file name, or STDIN).", valueName: "NAME"))
    var name: String?

    @Flag(help: "Submit the job held: it does not start until released.")
    var hold = false

    @Option(name: [.customShort("v"), .customLong("variable")], help: ArgumentHelp(
        "An environment variable for the payload: VAR=VALUE, or VAR to pass on its current value (repeatable).",
        valueName: "VAR=VALUE"))
    var variables: [String] = []

    @Argument(parsing: .postTerminator, help: ArgumentHelp("Arguments passed to the script (after --).", valueName: "ARGS"))
    var arguments: [String] = []

    /// What was asked, as plain values.
    var job: SubmitJob {
        SubmitJob(socket: connection.socket, script: script, queue: queue, resources: resources, environment: environment,
                  count: count, name: name, hold: hold, variables: variables, arguments: arguments)
    }

    mutating func validate() throws {
        if let problem = job.problem() { throw ValidationError(problem) }
    }

    func run() throws {
        try job.run()
    }
}

/// `vbatch submit`'s request as plain values, however its command line was read: by
/// ArgumentParser (``Submit``), or by ``PlainArguments`` on the per-job path.
struct SubmitJob: Equatable {
    var socket: String?
    var script: String
    var queue: String
    var resources: [String] = []
    var environment: String?
    var count = 1
    var name: String?
    var hold = false
    var variables: [String] = []
    var arguments: [String] = []

    /// Why the request cannot be sent as it is (the command's usage errors), or nil.
    func problem() -> String? {
        do {
            _ = try ResourceList.parse(resources)
            _ = try JobVariables.parse(variables, lookup: Self.environmentValue)
        } catch let e as ResourceList.ParseError {
            return e.message
        } catch let e as JobVariables.ParseError {
            return e.message
        } catch {
            return "\(error)"
        }
        guard (1...API.maxArrayCount).contains(count) else {
            return "--count must be from 1 to \(API.maxArrayCount), not \(count)"
        }
        if let p = Self.textProblem(queue, "-q QUEUE") { return p }
        if let environment, let p = Self.textProblem(environment, "--env") { return p }
        if let name, let p = Self.textProblem(name, "-N NAME") { return p }
        if arguments.contains(where: { $0.utf8.contains(0) }) { return "script arguments must not contain NUL bytes" }
        return ScriptFile.precheck(script)
    }

    /// Reads the script, submits it, and prints the new job ids, one per line.
    func run() throws {
        let resources: ResourceList
        let variables: [String: String]
        do {
            resources = try ResourceList.parse(self.resources)
            variables = try JobVariables.parse(self.variables, lookup: Self.environmentValue)
        } catch {
            throw CLIError("\(error)", exitCode: 64)
        }
        let text = try ScriptFile.read(script)
        let request = SubmitRequest(
            name: name ?? ScriptFile.defaultName(script), queue: queue, cores: resources.cores,
            memoryMB: resources.memoryMB, walltime: resources.walltime, environment: environment, script: text,
            arguments: arguments, variables: variables, count: count, held: hold)
        let response = try VBatchClient(socketOption: socket).submit(request)
        var out = ""
        for id in response.ids {
            out += String(id)
            out += "\n"
        }
        Output.print(out)
    }

    private static func textProblem(_ value: String, _ option: String) -> String? {
        if value.isEmpty { return "\(option) must not be empty" }
        if value.utf8.contains(0) { return "\(option) must not contain NUL bytes" }
        return nil
    }

    private static func environmentValue(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

// The plain reader in an extension, so that the struct keeps its memberwise initializer.
extension SubmitJob {
    /// `vbatch submit`'s options, for ``PlainArguments``.
    static let plainOptions: [PlainArguments.Option] = [
        .value("--socket"), .value("-q", "--queue"), .values("-l", "--resources"), .value("--env"), .value("--count"),
        .value("-N", "--name"), .flag("--hold"), .values("-v", "--variable"),
    ]

    /// The request a plain command line asks for; nil for anything ArgumentParser must read.
    init?(plain arguments: [String]) {
        guard let p = PlainArguments(arguments, options: Self.plainOptions, maxPositionals: 1, takesTerminator: true),
              let script = p.positionals.first, let queue = p.value("--queue") else { return nil }
        var count = 1
        if let text = p.value("--count") {
            guard let n = Int(text) else { return nil }
            count = n
        }
        self.init(socket: p.value("--socket"), script: script, queue: queue, resources: p.values["--resources"] ?? [],
                  environment: p.value("--env"), count: count, name: p.value("--name"), hold: p.flags.contains("--hold"),
                  variables: p.values["--variable"] ?? [], arguments: p.afterTerminator)
    }
}
