import ArgumentParser
import VBatchClient

/// `vbatch cancel JOB...`
struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel jobs (queued, held, saved or running; a running job's VM is destroyed).")

    @OptionGroup var targets: JobTargets

    func run() throws {
        try targets.run { (client, id) throws(ClientError) in try client.cancel(id) }
    }
}
