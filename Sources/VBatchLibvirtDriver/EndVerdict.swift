import Foundation
import VBatchDrivers

/// How a job's run ended, as its node agent decided after collecting the output, kept in
/// the job's spool until the end is recorded. The agent writes it before it deletes the
/// run's volumes, so a vbatchd killed between the two finds the verdict after its restart
/// instead of a job with no output disk (which would look lost and run again).
enum EndVerdict {
    /// In the job's spool; not one of the guest contract's names, so never listed as output.
    static let fileName = ".vbatch-end"

    static func write(_ outcome: JobOutcome, to path: String) {
        let line: String
        switch outcome {
        case .exited(let code): line = "exited \(code)"
        case .walltimeExceeded: line = "walltime"
        case .cancelled: line = "cancelled"
        case .startFailed(let reason): line = "start-failed \(reason)"
        case .lost(let reason): line = "lost \(reason)"
        case .outputNotStored(let code, let reason): line = "output-not-stored \(code.map(String.init) ?? "-") \(reason)"
        }
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(line.utf8)) else { return }
        rename(temporary, path)
    }

    static func read(_ path: String) -> JobOutcome? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let word = text.prefix { $0 != " " }
        let rest = String(text.dropFirst(word.count + 1))
        switch word {
        case "exited": return Int(rest).map { .exited(code: $0) }
        case "walltime": return .walltimeExceeded
        case "cancelled": return .cancelled
        case "start-failed": return .startFailed(reason: rest)
        case "lost": return .lost(reason: rest)
        case "output-not-stored":
            let code = rest.prefix { $0 != " " }
            return .outputNotStored(exitCode: Int(code), reason: String(rest.dropFirst(code.count + 1)))
        default: return nil
        }
    }

    /// Forgets the verdict of an earlier run when a new run of the job starts.
    static func discard(inSpool spool: String) { unlink(spool + "/" + fileName) }
}
