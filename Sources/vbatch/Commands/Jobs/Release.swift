import ArgumentParser
import VBatchClient

/// `vbatch release JOB...`
struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Release held jobs back into their queue.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("Job ids.", valueName: "JOB"), transform: JobID.parse)
    var jobs: [Int64]

    func validate() throws {
        guard !jobs.isEmpty else { throw ValidationError("name at least one job id") }
    }

    func run() throws {
        try JobAction.run(jobs, client: connection.client()) { (client, id) throws(ClientError) in try client.release(id) }
    }
}
