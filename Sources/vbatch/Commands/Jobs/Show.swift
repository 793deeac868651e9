import ArgumentParser
import VBatchAPI
import VBatchClient
import VBatchCore

/// `vbatch show JOB [--json]`: every field of one job and its history.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one job in full, with its state history.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The job id.", valueName: "JOB"), transform: JobID.parse)
    var job: Int64

    @Flag(help: "Print the daemon's JSON.")
    var json = false

    func run() throws {
        let client = connection.client()
        if json { return Output.json(try client.getJSON(Route.job(job))) }
        Output.print(Self.render(try client.job(job)))
    }

    static func render(_ detail: JobDetail) -> String {
        let j = detail.job
        var fields: [(String, String)] = [
            ("id", String(j.id)),
            ("name", Format.text(j.name)),
            ("owner", Format.text(j.owner)),
            ("vo", Format.text(j.vo)),
            ("state", j.state.rawValue + (j.reason.map { $0.isEmpty ? "" : " (\(Format.text($0)))" } ?? "")),
        ]
        if let waiting = detail.waiting { fields.append(("waiting", Format.text(waiting))) }
        if let node = detail.node { fields.append(("node state", Format.text(node))) }
        fields += [
            ("queue", Format.text(j.queue)),
            ("submitted to", Format.text(j.submitQueue)),
            ("environment", Format.text(j.environment)),
            ("cores", String(j.cores)),
            ("memory", Format.memory(j.memoryMB)),
            ("walltime", Format.walltime(j.walltime)),
            ("submit time", Format.time(j.submitTime)),
            ("start time", Format.time(j.startTime)),
            ("end time", Format.time(j.endTime)),
        ]
        let paused = j.pausedSeconds ?? 0
        if let start = j.startTime {
            let end = j.endTime ?? start
            if j.endTime != nil, end >= start { fields.append(("run time", Format.walltime(Int(max(0, end - start - paused))))) }
        }
        // Suspended or saved: time that did not count against the walltime.
        if paused > 0 { fields.append(("paused", Format.walltime(Int(paused)))) }
        if let saved = j.savedNode { fields.append(("saved on", Format.text(saved))) }
        if let cpu = j.cpuTime { fields.append(("cpu time", Quantities.formatHMS(Int(cpu.rounded())))) }
        fields.append(("node", Format.text(j.node)))
        fields.append(("cpus", j.cpus.map { $0.map(String.init).joined(separator: ",") } ?? "-"))
        fields.append(("exit code", Format.optional(j.exitCode)))

        let width = fields.map(\.0.count).max() ?? 0
        var out = ""
        for (key, value) in fields {
            out += key + ":" + String(repeating: " ", count: width - key.count + 2) + value + "\n"
        }
        out += "\nhistory:\n"
        var t = Table([.init(title: "TIME"), .init(title: "STATE"), .init(title: "REASON", maxWidth: 200)])
        for e in detail.history { t.append([UTCTime.format(e.time), e.state.rawValue, e.reason]) }
        for line in t.render().split(separator: "\n") { out += "  " + line + "\n" }
        return out
    }
}
