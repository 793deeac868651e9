import ArgumentParser
import VBatchClient

/// `vbatch suspend JOB…`: pause running jobs' VMs; they keep their slots.
struct Suspend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suspend", abstract: "Pause running jobs: their VMs stop, keeping their CPUs and memory; walltime stops counting.")

    @OptionGroup var targets: JobTargets

    func run() throws {
        try targets.run { (client, id) throws(ClientError) in try client.suspend(id) }
    }
}

/// `vbatch resume JOB…`: let suspended jobs run on.
struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Let suspended jobs run on where they stopped.")

    @OptionGroup var targets: JobTargets

    func run() throws {
        try targets.run { (client, id) throws(ClientError) in try client.resume(id) }
    }
}

/// `vbatch checkpoint JOB…`: save running jobs' VMs and free their slots until released.
struct Checkpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Save running jobs' VMs to their nodes and free their slots; vbatch release restores them.",
        discussion: """
            A saved job keeps everything its VM had in memory and on its disks. Released, it waits in its \
            queue and is restored where it fits: on the node it was saved on, or on another one (its state \
            file and disks are moved there). Time spent saved does not count against its walltime.
            """)

    @OptionGroup var targets: JobTargets

    func run() throws {
        try targets.run { (client, id) throws(ClientError) in try client.checkpoint(id) }
    }
}
