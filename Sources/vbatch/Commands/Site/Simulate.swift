import ArgumentParser

/// `vbatch simulate TRACE.swf [--config DIR [--config DIR]] [--site FILE [--site FILE]] [--queue Q]
/// [--max-cores N] [--walltime-factor F] [--vo VO] [--json] [--jobs FILE.csv] [--plot DIR]`: a what-if replay of a workload trace against
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
            reasons), completed, killed at walltime, backfilled, makespan, waits, bounded slowdown \
            (τ = 10 s), utilisation, the same per execution queue and per VO, and the replay's own wall \
            time. --jobs writes one CSV row per job (trace id, queue, VO, cores, submit, start, end, wait, \
            bounded slowdown, backfilled, outcome and why); --plot DIR draws SVG charts. With two --config \
            (or two --site), the same trace runs against both and the report shows them side by side with \
            the differences (the CSV gains a configuration column, the charts overlay both). See \
            docs/simulate.md.
            """)

    @Argument(help: ArgumentHelp("The trace, in Standard Workload Format.", valueName: "TRACE.swf"))
    var trace: String

    @Option(name: .customLong("config"),
            help: ArgumentHelp("Configuration directory (queues/, images/, site.toml); default $VBATCH_CONFIG, else the "
                               + "current directory. Given twice: the trace against both, side by side.", valueName: "DIR"))
    var directories: [String] = []

    @Option(name: .customLong("site"),
            help: ArgumentHelp("Site file (default DIR/site.toml, else DIR/queues/site.toml). Given twice: the trace "
                               + "against both, side by side.", valueName: "FILE"))
    var siteFiles: [String] = []

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

    @Option(help: ArgumentHelp("Also write one CSV row per job to FILE.", valueName: "FILE.csv"))
    var jobs: String?

    @Option(help: ArgumentHelp("Also draw SVG charts into DIR: utilisation and queue length over time, waits per "
                               + "queue and per VO.", valueName: "DIR"))
    var plot: String?

    func validate() throws {
        if let maxCores, maxCores < 1 { throw ValidationError("--max-cores must be at least 1") }
        if let walltimeFactor, !(walltimeFactor > 0 && walltimeFactor.isFinite) {
            throw ValidationError("--walltime-factor must be a number above 0")
        }
        if trace.isEmpty { throw ValidationError("TRACE must not be empty") }
        if jobs?.isEmpty == true { throw ValidationError("--jobs must not be empty") }
        if plot?.isEmpty == true { throw ValidationError("--plot must not be empty") }
        if directories.count > 2 || siteFiles.count > 2 {
            throw ValidationError("at most two configurations can be compared (--config and --site at most twice each)")
        }
    }

    func run() throws {
        var arguments = directories.flatMap { ["--config", $0] } + siteFiles.flatMap { ["--site", $0] }
        if let queue { arguments += ["--queue", queue] }
        if let maxCores { arguments += ["--max-cores", String(maxCores)] }
        if let walltimeFactor { arguments += ["--walltime-factor", String(walltimeFactor)] }
        if let vo { arguments += ["--vo", vo] }
        if json { arguments.append("--json") }
        if let jobs { arguments += ["--jobs", jobs] }
        if let plot { arguments += ["--plot", plot] }
        try CompanionTool.simulate.exec(arguments + ["--", trace])
    }
}
