import ArgumentParser
import VBatchClient

/// `vbatch cancel JOB...`
struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel jobs (queued, held or running; a running job's VM is destroyed).")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("Job ids.", valueName: "JOB"), transform: JobID.parse)
    var jobs: [Int64]

    func validate() throws {
        guard !jobs.isEmpty else { throw ValidationError("name at least one job id") }
    }

    func run() throws {
        try JobAction.run(jobs, client: connection.client()) { (client, id) throws(ClientError) in try client.cancel(id) }
    }
}
