import VBatchCore

/// A job submission as the store records it: one script, run `count` times.
///
/// The daemon fills it after authentication and routing: `owner`, `uid` and `vo` come from
/// the caller's credentials, `queue` is the execution queue chosen by routing, and every
/// limit has its queue default applied.
public struct NewSubmission: Sendable, Equatable {
    public var name: String
    public var owner: String
    public var uid: Int
    public var vo: String?
    /// The queue named at submit (may be a routing queue).
    public var submitQueue: String
    /// The execution queue that holds the jobs.
    public var queue: String
    public var environment: String
    public var cores: Int
    public var memoryMB: Int
    /// Seconds.
    public var walltime: Int
    /// The payload, run inside the VM. Stored once per submission, shared by its array elements.
    public var script: String
    public var arguments: [String]
    public var variables: [String: String]
    /// Number of array elements (jobs) to create; at least 1.
    public var count: Int
    /// Submit in the held state.
    public var held: Bool
    public var submitTime: Double

    public init(name: String, owner: String, uid: Int, vo: String?, submitQueue: String, queue: String,
                environment: String, cores: Int, memoryMB: Int, walltime: Int, script: String,
                arguments: [String] = [], variables: [String: String] = [:], count: Int = 1, held: Bool = false,
                submitTime: Double) {
        self.name = name
        self.owner = owner
        self.uid = uid
        self.vo = vo
        self.submitQueue = submitQueue
        self.queue = queue
        self.environment = environment
        self.cores = cores
        self.memoryMB = memoryMB
        self.walltime = walltime
        self.script = script
        self.arguments = arguments
        self.variables = variables
        self.count = count
        self.held = held
        self.submitTime = submitTime
    }
}

/// One state change of one job, recorded with ``JobStore/record(_:)``.
///
/// `start_time` is set when the job enters an active state and has none yet; `end_time` is
/// set when it enters a terminal state. Going back to ``JobState/queued`` or
/// ``JobState/held`` without a `savedNode` (a requeue: run again from the start) clears node,
/// CPUs, start time and paused time. Time in ``JobState/suspended`` or ``JobState/saved``
/// (until the job runs again) is summed as paused time.
public struct Transition: Sendable, Equatable {
    public var id: Int64
    public var state: JobState
    /// Why; becomes the job's current reason and the event's reason.
    public var reason: String
    public var time: Double
    /// Set the job's node (nil leaves it unchanged).
    public var node: String?
    /// Set the host CPUs the job is pinned to (nil leaves them unchanged).
    public var cpus: [Int]?
    /// Set the payload's exit code (nil leaves it unchanged).
    public var exitCode: Int?
    /// Added to the job's start attempts (e.g. 1 when a VM is created for it).
    public var attemptsDelta: Int
    /// CPU seconds of a piece of the job's run (added to the job's) and largest resident
    /// memory (the job keeps the largest) the driver measured of its VM; nil leaves them
    /// unchanged. Summed over the pieces of its last run (a requeue starts a new run), they
    /// go into its accounting record.
    public var cpuTime: Double?
    public var maxRSSKiB: Int?
    /// The node holding the job's saved VM (set while it is saved or waits to be restored);
    /// nil clears it when the job runs again, ends or is requeued, and keeps it otherwise.
    public var savedNode: String?
    /// The move of its VM about to begin (recorded before it acts); nil when none is under way.
    public var move: JobMove?

    public init(id: Int64, state: JobState, time: Double, reason: String, node: String? = nil, cpus: [Int]? = nil,
                exitCode: Int? = nil, attemptsDelta: Int = 0, cpuTime: Double? = nil, maxRSSKiB: Int? = nil,
                savedNode: String? = nil, move: JobMove? = nil) {
        self.id = id
        self.state = state
        self.reason = reason
        self.time = time
        self.node = node
        self.cpus = cpus
        self.exitCode = exitCode
        self.attemptsDelta = attemptsDelta
        self.cpuTime = cpuTime
        self.maxRSSKiB = maxRSSKiB
        self.savedNode = savedNode
        self.move = move
    }
}

/// A move of a job's VM under way, as the store records it (`job.move`).
public enum JobMove: Sendable, Equatable {
    /// Saving its VM; `held`: it stays saved until released (a checkpoint), otherwise it is
    /// restored when slots free (preemption, drain).
    case save(held: Bool)
    case restore
    case migrate(node: String, cpus: [Int])

    /// `save`, `save:held`, `restore`, `migrate:NODE:CPUS`.
    public var stored: String {
        switch self {
        case .save(let held): held ? "save:held" : "save"
        case .restore: "restore"
        case .migrate(let node, let cpus): "migrate:\(node):\(Columns.encodeCPUs(cpus))"
        }
    }

    public init?(stored: String) {
        switch stored {
        case "save": self = .save(held: false)
        case "save:held": self = .save(held: true)
        case "restore": self = .restore
        default:
            let parts = stored.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "migrate", !parts[1].isEmpty, let cpus = Columns.decodeCPUs(String(parts[2]))
            else { return nil }
            self = .migrate(node: String(parts[1]), cpus: cpus)
        }
    }
}

/// A non-terminal job in the compact form the daemon needs to rebuild the scheduler at start.
public struct ActiveJob: Sendable, Equatable {
    public var id: Int64
    public var owner: String
    public var vo: String?
    public var queue: String
    public var environment: String
    public var cores: Int
    public var memoryMB: Int
    public var walltime: Int
    public var state: JobState
    public var submitTime: Double
    public var startTime: Double?
    public var node: String?
    public var cpus: [Int]?
    public var attempts: Int
    /// The node holding its saved VM, if it has one.
    public var savedNode: String?
    /// Time it spent paused (suspended or saved) in finished pauses, and when the current one began.
    public var pausedSeconds: Double
    public var pausedSince: Double?
    /// The move of its VM that was under way.
    public var move: JobMove?

    public init(id: Int64, owner: String, vo: String?, queue: String, environment: String, cores: Int,
                memoryMB: Int, walltime: Int, state: JobState, submitTime: Double, startTime: Double?,
                node: String?, cpus: [Int]?, attempts: Int, savedNode: String? = nil, pausedSeconds: Double = 0,
                pausedSince: Double? = nil, move: JobMove? = nil) {
        self.id = id
        self.owner = owner
        self.vo = vo
        self.queue = queue
        self.environment = environment
        self.cores = cores
        self.memoryMB = memoryMB
        self.walltime = walltime
        self.state = state
        self.submitTime = submitTime
        self.startTime = startTime
        self.node = node
        self.cpus = cpus
        self.attempts = attempts
        self.savedNode = savedNode
        self.pausedSeconds = pausedSeconds
        self.pausedSince = pausedSince
        self.move = move
    }

    /// When its walltime began counting, paused time left out: the walltime runs out
    /// `walltime` seconds of running after this (for a paused job, as of `now`).
    public func walltimeStart(now: Double) -> Double? {
        startTime.map { $0 + pausedSeconds + (pausedSince.map { max(0, now - $0) } ?? 0) }
    }
}

/// An operator's run-time setting of one node or queue flag (drain a node, stop a queue),
/// which overrides the configuration files until changed again.
public struct AdminSetting: Sendable, Equatable {
    public enum Kind: String, Sendable { case node, queue }
    /// `enabled` (nodes: drained or not; queues: accepting), `started` (queues), `fenced`
    /// (nodes: an operator declared its VMs gone).
    public enum Flag: String, Sendable { case enabled, started, fenced }

    public var kind: Kind
    public var name: String
    public var flag: Flag
    public var value: Bool
    /// Why (shown by `vbatch nodes` / `vbatch queues`).
    public var reason: String
    public var changedBy: String
    public var time: Double
    /// A drain's mode (`finish`, `save`, `migrate`, `requeue`): how it empties the node.
    public var mode: String?

    public init(kind: Kind, name: String, flag: Flag, value: Bool, reason: String, changedBy: String, time: Double,
                mode: String? = nil) {
        self.kind = kind
        self.name = name
        self.flag = flag
        self.value = value
        self.reason = reason
        self.changedBy = changedBy
        self.time = time
        self.mode = mode
    }
}

/// The SQLite settings in effect on the store's writer connection (for checks and tests).
public struct StoreSettings: Sendable, Equatable {
    /// `wal` when write-ahead logging is on.
    public var journalMode: String
    /// 2 is `FULL`: every commit is fsynced before it is acknowledged.
    public var synchronous: Int
    public var foreignKeys: Bool
    /// Negative values are KiB, positive values pages.
    public var cacheSize: Int
}

/// Errors the store raises itself (SQLite errors come through as GRDB's `DatabaseError`).
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// A submission the store refuses before touching the database.
    case invalidSubmission(String)
    /// A row that does not decode (a database edited by hand, or corrupt).
    case corruptRow(String)
    /// A write failed because the filesystem of the store's directory is full: nothing of
    /// it was recorded. `freeBytes` is what the filesystem had left for the daemon then.
    case full(directory: String, freeBytes: Int64?, detail: String)

    public var description: String {
        switch self {
        case .invalidSubmission(let why): "invalid submission: \(why)"
        case .corruptRow(let why): "corrupt job store row: \(why)"
        case .full(let directory, let free, _):
            "vbatchd's state directory is full (\(free.map(StoreSpace.formatted) ?? "nothing") free in \(directory))"
        }
    }
}
