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
    public var startTime: Double

    /// When the walltime runs out; the scheduler plans reservations with it.
    public var expectedEnd: Double { startTime + Double(job.walltime) }
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
    /// Pending jobs the cycle looked at.
    public var considered = 0

    public init() {}
}
