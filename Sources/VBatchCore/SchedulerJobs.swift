/// A job waiting in an execution queue, in the compact form the scheduler keeps in memory
/// (48 bytes; names, scripts and history stay in the store).
public struct PendingJob: Sendable, Equatable {
    public var id: Int64
    public var submitTime: Double
    /// Index into ``Scheduler/queues``.
    public var queue: Int32
    /// Index into ``Scheduler/environments``.
    public var environment: Int32
    /// Interned user, see ``Scheduler/user(named:)``.
    public var user: Int32
    /// Index into ``Scheduler/voNames`` (0 is "no VO").
    public var vo: Int32
    public var cores: Int32
    public var memoryMB: Int32
    public var walltime: Int32
    public var held: Bool
    /// The node holding its saved VM (-1: none): it resumes from there instead of starting anew.
    public var savedOn: Int32 = -1
    /// Walltime its earlier pieces used (a saved job); the rest is what it may still run.
    public var walltimeUsed: Int32 = 0

    public init(id: Int64, submitTime: Double, queue: Int32, environment: Int32, user: Int32, vo: Int32,
                cores: Int32, memoryMB: Int32, walltime: Int32, held: Bool = false) {
        self.id = id
        self.submitTime = submitTime
        self.queue = queue
        self.environment = environment
        self.user = user
        self.vo = vo
        self.cores = cores
        self.memoryMB = memoryMB
        self.walltime = walltime
        self.held = held
    }
}

/// A job holding slots on a node.
public struct RunningJob: Sendable, Equatable {
    public var job: PendingJob
    public var node: Int
    /// Slot indices on the node (not host CPU ids; see ``NodeConfig/cpus``).
    public var slots: [Int]
    /// When its walltime began counting: its first start, moved later by the time it was
    /// paused (suspended or saved).
    public var startTime: Double
    /// May be preempted now: its VM runs (not starting, suspended or moving). The engine sets it.
    public var preemptible = false
    /// Runs in a pooled VM (which cannot be saved or migrated).
    public var pooled = false
    /// Where it is migrating to: slots booked there until the move ends.
    public var moveTarget: MoveTarget?

    /// When the walltime runs out; the scheduler plans reservations with it.
    public var expectedEnd: Double { startTime + Double(job.walltime) }
}

/// The node and slots a job's VM is migrating to (booked while the move is under way).
public struct MoveTarget: Sendable, Equatable {
    public var node: Int
    public var nodeName: String
    public var slots: [Int]
    /// Host CPUs there, for its vCPUs.
    public var cpus: [Int]
}

/// A scheduler decision to stop a running job so that a waiting one of a queue that preempts
/// its queue can start: the engine carries it out in the preempting queue's `mode`.
public struct Preemption: Sendable, Equatable {
    public var victim: Int64
    /// The waiting job it makes room for.
    public var forJob: Int64
    public var node: Int
    public var nodeName: String
    public var mode: ExecutionQueue.PreemptMode
}

/// A decision of one scheduling cycle: start this job on this node with these host CPUs.
public struct Placement: Sendable, Equatable {
    public var jobID: Int64
    public var node: Int
    public var nodeName: String
    /// Host CPU ids to pin the job's vCPUs to; no other running job holds any of them.
    public var cpus: [Int]
    public var slots: [Int]
    /// Started ahead of the reserved head job without delaying it.
    public var backfilled: Bool
    /// The idle pooled VM the job takes over, if any (no boot needed).
    public var pooledVM: Int64?
    /// The node holding the job's saved VM: the job is restored from there, not started anew.
    public var restoreFrom: Int? = nil
}

/// A pre-booted VM of a pool, holding its slots and memory on a node.
public struct PoolVM: Sendable, Equatable {
    public var id: Int64
    /// Index into ``Configuration/pools``.
    public var pool: Int
    public var node: Int
    public var slots: [Int]
    /// Host CPUs its vCPUs are pinned to.
    public var cpus: [Int]
    /// Booted and waiting for a job (false while it boots).
    public var ready: Bool
}

/// The EASY reservation: the highest-priority job that could not start, and where and when
/// it will. Later jobs may start only if they do not delay it.
public struct Reservation: Sendable, Equatable {
    public var jobID: Int64
    public var node: Int
    public var startTime: Double
}

/// What a scheduling cycle decided.
public struct CycleResult: Sendable {
    public var placements: [Placement] = []
    public var reservation: Reservation?
    /// Running jobs to stop for waiting jobs of queues that preempt theirs.
    public var preemptions: [Preemption] = []
    /// Pending jobs the cycle looked at.
    public var considered = 0

    public init() {}
}
