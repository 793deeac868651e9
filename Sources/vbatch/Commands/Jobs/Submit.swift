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

    mutating func validate() throws {
        do {
            _ = try ResourceList.parse(resources)
            _ = try JobVariables.parse(variables, lookup: Self.environmentValue)
        } catch let e as ResourceList.ParseError {
            throw ValidationError(e.message)
        } catch let e as JobVariables.ParseError {
            throw ValidationError(e.message)
        }
        guard (1...API.maxArrayCount).contains(count) else {
            throw ValidationError("--count must be from 1 to \(API.maxArrayCount), not \(count)")
        }
        try Self.checkText(queue, "-q QUEUE")
        if let environment { try Self.checkText(environment, "--env") }
        if let name { try Self.checkText(name, "-N NAME") }
        for argument in arguments where argument.utf8.contains(0) {
            throw ValidationError("script arguments must not contain NUL bytes")
        }
        if let problem = ScriptFile.precheck(script) { throw ValidationError(problem) }
    }

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
        let response = try connection.client().submit(request)
        var out = ""
        for id in response.ids {
            out += String(id)
            out += "\n"
        }
        Output.print(out)
    }

    private static func checkText(_ value: String, _ option: String) throws {
        guard !value.isEmpty else { throw ValidationError("\(option) must not be empty") }
        guard !value.utf8.contains(0) else { throw ValidationError("\(option) must not contain NUL bytes") }
    }

    private static func environmentValue(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
