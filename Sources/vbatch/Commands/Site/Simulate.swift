import ArgumentParser

/// `vbatch simulate TRACE.swf [--config DIR] [--site FILE] [--queue Q] [--max-cores N]
/// [--walltime-factor F] [--vo VO] [--json]`: a what-if replay of a workload trace against
/// the operator's queues and nodes, on simulated VMs, without vbatchd.
///
/// `vbatch-simulate` (a ``CompanionTool``) does the work once the arguments are checked:
/// the configuration loader and the scheduler stay out of the per-job `vbatch` binary.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay an SWF workload trace against this site's queues and nodes (what-if, simulated VMs).",
        discussion: """
            Loads the configuration (--config DIR, else $VBATCH_CONFIG, else the current directory) as \
            vbatchd would, replaces every node's uri by sim://, and replays TRACE (Standard Workload \
            Format) on a virtual clock through the real router and scheduler: each job is submitted at its \
            submit time to --queue (default: the first routing queue, else the first execution queue) as \
            user u<uid>, with its processors as cores and, when the trace has no requested time, a \
            walltime of its run time × --walltime-factor rounded up to a minute; it runs for its logged \
            run time. Prints jobs read and skipped (with line numbers), rejected (with the commonest \
            reasons), completed, killed at walltime, backfilled, makespan, waits, utilisation and the \
            replay's own wall time. See docs/configuration.md.
            """)

    @Argument(help: ArgumentHelp("The trace, in Standard Workload Format.", valueName: "TRACE.swf"))
    var trace: String

    @OptionGroup var config: LocalConfigOptions

    @Option(help: ArgumentHelp("Queue every job is submitted to.", valueName: "Q"))
    var queue: String?

    @Option(help: ArgumentHelp("Submit jobs wider than N processors with N cores (a VM never spans nodes).",
                               valueName: "N"))
    var maxCores: Int?

    @Option(help: ArgumentHelp("Walltime = run time × F (rounded up to a minute) for jobs without a requested time "
                               + "(default 1.5).", valueName: "F"))
    var walltimeFactor: Double?

    @Option(help: ArgumentHelp("Submit every job as a member of this VO (default: the site's VO of user u<uid> or "
                               + "group g<gid>, if any).", valueName: "VO"))
    var vo: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        if let maxCores, maxCores < 1 { throw ValidationError("--max-cores must be at least 1") }
        if let walltimeFactor, !(walltimeFactor > 0 && walltimeFactor.isFinite) {
            throw ValidationError("--walltime-factor must be a number above 0")
        }
        if trace.isEmpty { throw ValidationError("TRACE must not be empty") }
    }

    func run() throws {
        var arguments = config.forwarded
        if let queue { arguments += ["--queue", queue] }
        if let maxCores { arguments += ["--max-cores", String(maxCores)] }
        if let walltimeFactor { arguments += ["--walltime-factor", String(walltimeFactor)] }
        if let vo { arguments += ["--vo", vo] }
        if json { arguments.append("--json") }
        try CompanionTool.simulate.exec(arguments + ["--", trace])
    }
}
