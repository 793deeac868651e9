import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch output JOB [--file PATH] [--json]`: what a job printed and left behind.
struct ShowOutput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "output",
        abstract: "Print a job's stdout (to stdout) and stderr (to stderr), or one of its files.",
        discussion: """
            Without options: the payload's stdout and stderr, then the list of its output files \
            (what it left in $VBATCH_OUTPUT) on stderr. --file prints one file: output/NAME, stdout, \
            stderr, agent.log (the guest agent's log) or console.log (the VM's serial console).
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The job id.", valueName: "JOB"), transform: JobID.parse)
    var job: Int64

    @Option(name: .long, help: ArgumentHelp("Print this file of the job instead.", valueName: "PATH"))
    var file: String?

    @Flag(help: "Print the daemon's JSON (streams, exit code, file list).")
    var json = false

    func run() throws {
        let client = connection.client()
        if let file { return Output.bytes(try client.file(job, path: file)) }
        if json { return Output.json(try client.getJSON(Route.output(job))) }
        let output = try client.output(job)
        Output.bytes(Array(output.stdout.utf8))
        Output.bytes(Array(output.stderr.utf8), to: 2)
        if !output.files.isEmpty {
            Output.bytes(Array("vbatch: output files of job \(job): \(output.files.joined(separator: " "))\n".utf8), to: 2)
        }
    }
}
