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

    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration directory.", valueName: "DIR"))
    var directory: String?

    @Option(name: .customLong("site"), help: ArgumentHelp("Site file.", valueName: "FILE"))
    var siteFile: String?

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

    /// Trace lines listed in the report when some were skipped.
    static let skippedShown = 5

    func validate() throws {
        if let maxCores, maxCores < 1 { throw ValidationError("--max-cores must be at least 1") }
        if !(walltimeFactor > 0 && walltimeFactor.isFinite) { throw ValidationError("--walltime-factor must be a number above 0") }
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
        let clock = ContinuousClock()
        var configuration = try ConfigLoader.load(directory: configDirectory, siteFile: siteFile)
        // A what-if of the operator's real queues and nodes: every node runs simulated VMs.
        for i in configuration.nodes.indices { configuration.nodes[i].uri = "sim://" }
        let pools = configuration.pools.count
        configuration.pools = []

        let queueName = try chooseQueue(configuration)
        if let vo, !configuration.vos.contains(where: { $0.name == vo }) {
            let names = configuration.vos.map(\.name).joined(separator: ", ")
            throw ToolError("no VO \(vo) in the site file (defined: \(names.isEmpty ? "none" : names))")
        }
        guard let data = FileManager.default.contents(atPath: trace) else {
            throw ToolError("cannot read trace \(trace)")
        }

        let parseStart = clock.now
        let parsed = data.withUnsafeBytes { SWFTrace(parsingUTF8: $0.bindMemory(to: UInt8.self)) }
        guard !parsed.jobs.isEmpty else {
            let first = parsed.skipped.first.map { " (\($0))" } ?? ""
            throw ToolError("no jobs in \(trace): \(parsed.skipped.count) line(s) skipped\(first)")
        }
        let options = SWFTrace.ReplayOptions(queue: queueName, walltimeFactor: walltimeFactor, maxCores: maxCores, vo: vo)
        let arrivals = parsed.arrivals(options, configuration: configuration)
        let parseTime = clock.now - parseStart

        let replayStart = clock.now
        let result = SiteSimulation(configuration: configuration).run(arrivals)
        let replayTime = clock.now - replayStart

        let report = ReplayReport(
            trace: trace, parsed: parsed, configuration: configuration, queue: queueName, options: options,
            droppedPools: pools, result: result, parseSeconds: parseTime.seconds, replaySeconds: replayTime.seconds)
        FileHandle.standardOutput.write(Data((json ? try report.json() : report.text(skippedShown: Self.skippedShown)).utf8))
    }

    /// DIR, absolute: `--config`, else `$VBATCH_CONFIG`, else the current directory.
    var configDirectory: String {
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
