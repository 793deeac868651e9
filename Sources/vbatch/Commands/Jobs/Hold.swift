import ArgumentParser
import VBatchClient

/// `vbatch hold JOB...`
struct Hold: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold", abstract: "Hold jobs: queued ones will not start until released; running ones are saved (checkpoint).")

    @OptionGroup var targets: JobTargets

    func run() throws {
        try targets.run { (client, id) throws(ClientError) in try client.hold(id) }
    }
}
