import ArgumentParser
import VBatchClient

/// `vbatch hold JOB...`
struct Hold: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold", abstract: "Hold queued jobs: they will not start until released.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("Job ids.", valueName: "JOB"), transform: JobID.parse)
    var jobs: [Int64]

    func validate() throws {
        guard !jobs.isEmpty else { throw ValidationError("name at least one job id") }
    }

    func run() throws {
        try JobAction.run(jobs, client: connection.client()) { (client, id) throws(ClientError) in try client.hold(id) }
    }
}
