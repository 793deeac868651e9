import ArgumentParser
import VBatchClient

/// `vbatch release JOB...`
struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Release held jobs back into their queue (saved ones are restored where they fit).")

    @OptionGroup var targets: JobTargets

    func run() throws {
        try targets.run { (client, id) throws(ClientError) in try client.release(id) }
    }
}
