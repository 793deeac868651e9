import ArgumentParser

/// `vbatch`: the user's and the CE's command line to vbatchd.
struct VBatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vbatch",
        abstract: "Submit and manage jobs on a vbatch site, where every job runs in its own VM.",
        discussion: "Talks to vbatchd over its Unix socket: --socket PATH, else $VBATCH_SOCKET, else /run/vbatch/vbatchd.sock.",
        version: "0.1.0",
        subcommands: [
            Submit.self, Status.self, Show.self, ShowOutput.self, Cancel.self, Hold.self, Release.self,
            Suspend.self, Resume.self, Checkpoint.self, History.self,
            Queues.self, Nodes.self, WhoAmI.self, Accounting.self, NodeControl.self, QueueControl.self, Reload.self, Config.self,
            Token.self, Relay.self, Image.self, Simulate.self, Diag.self,
        ]
    )
}
