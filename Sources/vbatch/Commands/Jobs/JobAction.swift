import ArgumentParser
import VBatchAPI
import VBatchClient

/// The arguments of the commands that act on jobs by id (`cancel`, `hold`, `release`,
/// `suspend`, `resume`, `checkpoint`): the connection and one or more job ids.
struct JobTargets: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("Job ids.", valueName: "JOB"), transform: JobID.parse)
    var jobs: [Int64]

    func validate() throws {
        guard !jobs.isEmpty else { throw ValidationError("name at least one job id") }
    }

    /// Runs `action` on each job (``JobAction/run(_:client:_:)``).
    func run(_ action: (VBatchClient, Int64) throws(ClientError) -> JobInfo) throws {
        try JobAction.run(jobs, client: connection.client(), action)
    }
}

/// The shared body of the job commands: act on each job in turn, print `ID STATE` for each
/// success and one error line for each failure, fail if any failed.
enum JobAction {
    static func run(_ ids: [Int64], client: VBatchClient, _ action: (VBatchClient, Int64) throws(ClientError) -> JobInfo) throws {
        var failed = 0
        for id in ids {
            do {
                let job = try action(client, id)
                Output.print("\(job.id) \(job.state.rawValue)\n")
            } catch {
                if error.kind == .connect || error.kind == .transport { throw error }
                Output.error("job \(id): \(error.message)")
                failed += 1
            }
        }
        if failed > 0 { throw CLIError.silent }
    }
}

extension CLIError {
    /// Exit 1 after errors that have already been reported.
    static let silent = CLIError("", exitCode: 1)
}
