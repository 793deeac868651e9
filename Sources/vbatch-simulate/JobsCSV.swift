import Foundation
import VBatchDrivers

/// `vbatch simulate --jobs FILE.csv`: one row per job of the replay, in submission order,
/// for a spreadsheet or a plotting script (RFC 4180: comma-separated, fields with commas,
/// quotes or line breaks quoted). Times are seconds on the trace's clock; empty fields are
/// values the job does not have (no start for a refused job).
enum JobsCSV {
    static let header = ["trace_id", "queue", "vo", "cores", "submit", "start", "end", "wait", "bounded_slowdown",
                         "backfilled", "outcome", "reason"]

    /// The rows of one replay (`name` empty), or of two with a leading `configuration` column (A, B).
    static func text(_ replays: [(name: String, jobs: [ReplayJob])]) -> String {
        let named = replays.contains { !$0.name.isEmpty }
        var out = ((named ? ["configuration"] : []) + header).joined(separator: ",") + "\r\n"
        out.reserveCapacity(replays.reduce(0) { $0 + $1.jobs.count } * 64)
        for (name, jobs) in replays {
            for job in jobs { out += ((named ? [name] : []) + fields(job)).map(quoted).joined(separator: ",") + "\r\n" }
        }
        return out
    }

    /// One job's fields, in ``header``'s order.
    static func fields(_ job: ReplayJob) -> [String] {
        [
            job.traceID.map(String.init) ?? "", job.queue ?? "", job.vo ?? "", String(job.cores),
            number(job.submit), job.start.map(number) ?? "", job.end.map(number) ?? "", job.wait.map(number) ?? "",
            job.boundedSlowdown.map { String(format: "%.4f", $0) } ?? "", job.backfilled ? "1" : "0",
            job.outcome.rawValue, job.reason ?? "",
        ]
    }

    /// Writes the rows to `path`, replacing the file.
    static func write(_ replays: [(name: String, jobs: [ReplayJob])], to path: String) throws {
        do {
            try Data(text(replays).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ToolError("cannot write --jobs \(path): \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
    }

    /// Whole seconds without a fraction, others as Swift prints them.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func quoted(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
