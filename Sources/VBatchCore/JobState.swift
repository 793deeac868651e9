/// Where a job is in its life. Terminal states never change again.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Waiting in an execution queue.
    case queued
    /// Waiting, but held by its owner or an operator: never started until released.
    case held
    /// Placed on a node; its VM is being created.
    case starting
    /// Its payload runs in a VM.
    case running
    /// Its VM's vCPUs are paused by its owner or an operator: it keeps its slots, and its
    /// walltime does not count until it is resumed.
    case suspended
    /// Its VM's state is saved to a file on a node and its slots are free; it does not run
    /// until released (then it waits in its queue to be restored, on that node or another).
    case saved
    /// The payload ran and exited (any exit code); see the job's exit code.
    case completed
    /// The job could not run or was stopped by the system (walltime, boot failures, lost VM).
    case failed
    /// Cancelled by its owner or an operator.
    case cancelled

    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .cancelled: true
        default: false
        }
    }

    /// Holds slots on a node.
    public var isActive: Bool { self == .starting || self == .running || self == .suspended }

    /// Its walltime is not counting: its VM is paused or saved.
    public var isPaused: Bool { self == .suspended || self == .saved }

    /// PBS's one-letter state (`qstat`).
    public var pbsLetter: String {
        switch self {
        case .queued: "Q"
        case .held, .saved: "H"
        case .starting, .running: "R"
        case .suspended: "S"
        case .completed, .failed, .cancelled: "C"
        }
    }
}
