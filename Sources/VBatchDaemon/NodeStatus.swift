import VBatchAPI
import VBatchCore

/// What the engine knows of a worker node beyond its slots: whether its hypervisor answers,
/// and whether an operator or the daemon took it out of service. A node takes new jobs only
/// when nothing here says otherwise; jobs already on it keep their slots whatever happens.
struct NodeStatus: Sendable {
    enum Link: Sendable, Equatable {
        /// Not reached yet since vbatchd started: no job is placed on it.
        case connecting
        case up
        /// Its connection failed or dropped: no new job goes there, its VMs' fate is unknown.
        case unreachable(reason: String, since: Double)
    }

    var link: Link = .connecting
    /// The site file disables it, or an operator drained it: why.
    var drained: String?
    /// How the operator's drain empties it (nil: not drained by an operator).
    var drainMode: DrainMode?
    /// Its jobs are being moved off now (``Engine/emptyNode(_:)``).
    var emptying = false
    /// An operator fenced it (its VMs declared gone): why.
    var fenced: String?
    /// The daemon took it out after consecutive VM start failures: why.
    var failedOut: String?
    var consecutiveStartFailures = 0

    var schedulable: Bool { link == .up && drained == nil && fenced == nil && failedOut == nil }

    /// `connecting`, `up` or `unreachable`, for the API.
    var linkName: String {
        switch link {
        case .connecting: "connecting"
        case .up: "up"
        case .unreachable: "unreachable"
        }
    }

    /// The first reason the node takes no job, for `vbatch nodes` and `pbsnodes`.
    var note: String? {
        if let fenced { return fenced }
        if case .unreachable(let reason, let since) = link {
            return "unreachable since \(CivilDate.timestamp(ofEpochSeconds: since) + " UTC"): \(reason)"
        }
        if link == .connecting { return "not reached yet since vbatchd started" }
        return drained ?? failedOut
    }
}
