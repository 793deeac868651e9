import ArgumentParser
import Foundation
import VBatchConfig
import VBatchCore
import VBatchDrivers

// vbatch-simulate: the implementation of `vbatch simulate`.
//
// `vbatch simulate` checks its arguments, then execs this program (installed next to
// `vbatch`) with them, so the configuration loader and the scheduler stay out of the
// per-job `vbatch` binary. Errors are `vbatch: error: …` lines, as from `vbatch`.

/// Replays an SWF trace against the operator's configuration on simulated nodes.
@main
struct VBatchSimulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vbatch-simulate",
        abstract: "The implementation of `vbatch simulate` (see vbatch simulate --help).")

    @Argument(help: ArgumentHelp("The trace, in Standard Workload Format.", valueName: "TRACE.swf"))
    var trace: String

    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration directory; twice: compare two.", valueName: "DIR"))
    var directories: [String] = []

    @Option(name: .customLong("site"), help: ArgumentHelp("Site file; twice: compare two.", valueName: "FILE"))
    var siteFiles: [String] = []

    @Option(help: ArgumentHelp("Queue every job is submitted to.", valueName: "Q"))
    var queue: String?

    @Option(help: ArgumentHelp("Cores of a job wider than N processors.", valueName: "N"))
    var maxCores: Int?

    @Option(help: ArgumentHelp("Walltime = run time × F for jobs without a requested time.", valueName: "F"))
    var walltimeFactor: Double = 1.5

    @Option(help: ArgumentHelp("Every job's VO.", valueName: "VO"))
    var vo: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: ArgumentHelp("Write one CSV row per job to FILE.", valueName: "FILE.csv"))
    var jobs: String?

    @Option(help: ArgumentHelp("Write SVG charts into DIR.", valueName: "DIR"))
    var plot: String?

    /// Trace lines listed in the report when some were skipped.
    static let skippedShown = 5

    func validate() throws {
        if let maxCores, maxCores < 1 { throw ValidationError("--max-cores must be at least 1") }
        if !(walltimeFactor > 0 && walltimeFactor.isFinite) { throw ValidationError("--walltime-factor must be a number above 0") }
        if directories.count > 2 || siteFiles.count > 2 {
            throw ValidationError("at most two configurations are compared (--config and --site at most twice each)")
        }
    }

    /// `vbatch: error: …` lines and exit 1 for failures of the run; help and usage errors
    /// as ArgumentParser prints them.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let errors as ConfigErrors {
            fail(errors.errors.map(\.description))
        } catch let error as ToolError {
            fail([error.description])
        } catch {
            exit(withError: error)
        }
    }

    static func fail(_ lines: [String]) -> Never {
        for line in lines {
            let clean = String(line.unicodeScalars.map { $0.value < 0x20 && $0 != "\t" ? " " : Character($0) })
            FileHandle.standardError.write(Data(("vbatch: error: " + clean + "\n").utf8))
        }
        Foundation.exit(1)
    }

    func run() throws {
        // One configuration, or two: `--config A --config B`, or one directory with two site files.
        let sites = try (0..<max(directories.count, siteFiles.count, 1)).map { i in
            try SiteUnderTest(directory: configDirectory(directories.isEmpty ? nil : directories[min(i, directories.count - 1)]),
                              siteFile: siteFiles.isEmpty ? nil : siteFiles[min(i, siteFiles.count - 1)], command: self)
        }
        guard let data = FileManager.default.contents(atPath: trace) else {
            throw ToolError("cannot read trace \(trace)")
        }
        let clock = ContinuousClock()
        let parseStart = clock.now
        let parsed = data.withUnsafeBytes { SWFTrace(parsingUTF8: $0.bindMemory(to: UInt8.self)) }
        guard !parsed.jobs.isEmpty else {
            let first = parsed.skipped.first.map { " (\($0))" } ?? ""
            throw ToolError("no jobs in \(trace): \(parsed.skipped.count) line(s) skipped\(first)")
        }
        let parseTime = clock.now - parseStart
        let reports = sites.map { $0.replay(parsed, trace: trace, walltimeFactor: walltimeFactor, maxCores: maxCores, vo: vo,
                                            parseSeconds: parseTime.seconds) }
        let names = reports.count == 1 ? [""] : ["A", "B"]
        if let jobs { try JobsCSV.write(zip(names, reports).map { ($0, $1.result.jobs) }, to: jobs) }
        if let plot { _ = try ReplayPlots.write(zip(names, reports).map { .init(name: $0, report: $1.result) }, to: plot) }
        let text: String
        if reports.count == 2 {
            let comparison = ComparisonReport(a: reports[0], b: reports[1])
            text = json ? try comparison.json() : comparison.text()
        } else {
            text = json ? try reports[0].json() : reports[0].text(skippedShown: Self.skippedShown)
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// One configuration as the replay runs it: loaded, every node simulated, pools dropped,
    /// the queue and VO checked.
    struct SiteUnderTest {
        var source: String
        var configuration: Configuration
        var queue: String
        var droppedPools: Int

        init(directory: String, siteFile: String?, command: VBatchSimulate) throws {
            configuration = try ConfigLoader.load(directory: directory, siteFile: siteFile)
            // A what-if of the operator's real queues and nodes: every node runs simulated VMs.
            for i in configuration.nodes.indices { configuration.nodes[i].uri = "sim://" }
            droppedPools = configuration.pools.count
            configuration.pools = []
            queue = try command.chooseQueue(configuration)
            if let vo = command.vo, !configuration.vos.contains(where: { $0.name == vo }) {
                let names = configuration.vos.map(\.name).joined(separator: ", ")
                throw ToolError("no VO \(vo) in the site file (defined: \(names.isEmpty ? "none" : names))")
            }
            source = directory + (siteFile.map { ", site file \($0)" } ?? "")
        }

        func replay(_ parsed: SWFTrace, trace: String, walltimeFactor: Double, maxCores: Int?, vo: String?,
                    parseSeconds: Double) -> ReplayReport {
            let clock = ContinuousClock()
            let start = clock.now
            let options = SWFTrace.ReplayOptions(queue: queue, walltimeFactor: walltimeFactor, maxCores: maxCores, vo: vo)
            let arrivals = parsed.arrivals(options, configuration: configuration)
            let arrivalsTime = clock.now - start
            let replayStart = clock.now
            let result = SiteSimulation(configuration: configuration).run(arrivals)
            let replayTime = clock.now - replayStart
            return ReplayReport(trace: trace, source: source, parsed: parsed, configuration: configuration, queue: queue,
                                options: options, droppedPools: droppedPools, result: result,
                                parseSeconds: parseSeconds + arrivalsTime.seconds, replaySeconds: replayTime.seconds)
        }
    }

    /// DIR, absolute: `--config`, else `$VBATCH_CONFIG`, else the current directory.
    func configDirectory(_ directory: String?) -> String {
        let dir = directory ?? ProcessInfo.processInfo.environment["VBATCH_CONFIG"] ?? "."
        let full = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }

    /// `--queue`, which must exist, else the site's default entry point.
    func chooseQueue(_ configuration: Configuration) throws -> String {
        if let queue {
            guard configuration.queue(named: queue) != nil else {
                throw ToolError("no queue \(queue) in the configuration (defined: "
                    + configuration.queues.map(\.name).joined(separator: ", ") + ")")
            }
            return queue
        }
        guard let queue = SWFTrace.defaultQueue(in: configuration) else {
            throw ToolError("the configuration defines no queue")
        }
        return queue
    }
}

/// A failure reported as one `vbatch: error:` line.
struct ToolError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
