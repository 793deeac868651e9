import Foundation
import Synchronization

/// Named moments in a job's life where a test build of vbatchd kills itself with SIGKILL,
/// for the crash matrix (docs/reliability.md, R1): each restart after one must find every
/// acknowledged job once, no VM left behind and none running twice.
///
/// `VBATCH_CRASH_AT=POINT[:N]` arms one point: the process dies the N-th time (default 1)
/// that point is reached. Only debug builds read it; in a release build `reach()` is empty,
/// so an operator's environment can never make the daemon kill itself.
public enum CrashPoint: String, CaseIterable, Sendable {
    /// A submission batch's rows are written but its transaction is not committed.
    case submitBatch = "submit"
    /// A submission is committed but not yet acknowledged to its client.
    case committed = "commit"
    /// A scheduling cycle's placements are recorded; no VM is started yet.
    case placed = "place"
    /// The job's volumes are made on its node; its domain is not defined (libvirt nodes).
    case disksPrepared = "prepare"
    /// The job's domain was created; its `running` is not yet reported (libvirt nodes).
    case defined = "define"
    /// The job's `running` is recorded.
    case running = "running"
    /// The driver reported the job's end; the end is not yet recorded.
    case ended = "end"
    /// The job's output disk is downloaded and unpacked; its volumes are not yet deleted (libvirt nodes).
    case collecting = "collect"

    /// Dies here if this point is armed and its count is reached (debug builds only).
    @inline(__always)
    public func reach() {
        #if DEBUG
        CrashSchedule.shared.reach(self)
        #endif
    }
}

#if DEBUG
/// The armed point (from the environment, read once) and how often it was reached.
private final class CrashSchedule: Sendable {
    static let shared = CrashSchedule(ProcessInfo.processInfo.environment["VBATCH_CRASH_AT"])

    private let armed: (point: CrashPoint, count: Int)?
    private let reached = Mutex(0)

    init(_ setting: String?) {
        guard let setting, !setting.isEmpty else { armed = nil; return }
        let parts = setting.split(separator: ":", maxSplits: 1).map(String.init)
        guard let point = CrashPoint(rawValue: parts[0]) else {
            fatalError("VBATCH_CRASH_AT=\(setting): no such crash point (\(CrashPoint.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        armed = (point, parts.count > 1 ? max(1, Int(parts[1]) ?? 1) : 1)
    }

    func reach(_ point: CrashPoint) {
        guard let armed, armed.point == point else { return }
        let count = reached.withLock { n in n += 1; return n }
        guard count == armed.count else { return }
        let note = "vbatchd: crash point \(point.rawValue) reached (\(count)): SIGKILL\n"
        FileHandle.standardError.write(Data(note.utf8))
        kill(getpid(), SIGKILL)
    }
}
#endif
