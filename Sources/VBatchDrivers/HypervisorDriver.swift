import VBatchCore

/// Everything a driver needs to run one job in its own VM on one node.
public struct LaunchSpec: Sendable, Equatable {
    public var jobID: Int64
    public var node: NodeConfig
    /// Host CPUs reserved for this job alone; vCPU i is pinned to `cpus[i]`.
    public var cpus: [Int]
    public var memoryMB: Int
    public var walltime: Int
    public var environment: ImageConfig
    /// Where the job's disks, console log and collected outputs live on the daemon's host.
    public var spoolDirectory: String
    /// The script, its arguments and environment (what the job disk carries).
    public var payload: JobPayload
    /// Size of the output disk the guest writes its results to.
    public var outputDiskMB: Int
    /// The idle pooled VM (from ``HypervisorDriver/bootPoolVM(_:)``) the job takes over; its
    /// disks are hot-plugged into it instead of booting a new VM.
    public var pooledVM: Int64?
    /// Walltime its VM already ran before it was saved (a restore): the limit counts on from there.
    public var walltimeUsed: Double = 0
    /// For the simulated driver: how long the payload runs and how it exits.
    public var simulatedRuntime: Double?
    public var simulatedExitCode: Int?
    /// For the simulated driver in real time: bytes of stdout the payload leaves in the spool
    /// (with its `exit_code`); nil: it leaves nothing there.
    public var simulatedOutputBytes: Int?

    public init(jobID: Int64, node: NodeConfig, cpus: [Int], memoryMB: Int, walltime: Int, environment: ImageConfig,
                spoolDirectory: String, payload: JobPayload = JobPayload(name: "job", script: ""),
                outputDiskMB: Int = OutputDisk.defaultSizeMB, simulatedRuntime: Double? = nil, simulatedExitCode: Int? = nil,
                simulatedOutputBytes: Int? = nil) {
        self.jobID = jobID
        self.node = node
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.walltime = walltime
        self.environment = environment
        self.spoolDirectory = spoolDirectory
        self.payload = payload
        self.outputDiskMB = outputDiskMB
        self.pooledVM = nil
        self.simulatedRuntime = simulatedRuntime
        self.simulatedExitCode = simulatedExitCode
        self.simulatedOutputBytes = simulatedOutputBytes
    }
}

/// A VM to boot ahead of any job, for a pool: it waits for a job disk to be hot-plugged.
public struct PoolVMSpec: Sendable, Equatable {
    public var id: Int64
    public var node: NodeConfig
    public var cpus: [Int]
    public var memoryMB: Int
    public var environment: ImageConfig
    /// Holds its console log, output disk (and overlay) until a job takes it.
    public var spoolDirectory: String
    /// Its output disk is attached at boot, sized for any queue offering the environment.
    public var outputDiskMB: Int

    public init(id: Int64, node: NodeConfig, cpus: [Int], memoryMB: Int, environment: ImageConfig, spoolDirectory: String,
                outputDiskMB: Int = OutputDisk.defaultSizeMB) {
        self.id = id
        self.node = node
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.environment = environment
        self.spoolDirectory = spoolDirectory
        self.outputDiskMB = outputDiskMB
    }
}

/// How a job's VM ended.
public enum JobOutcome: Sendable, Equatable {
    /// The payload exited with this code.
    case exited(code: Int)
    /// Killed at the walltime limit (after the ACPI grace period).
    case walltimeExceeded
    /// Destroyed on request (cancel).
    case cancelled
    /// The VM could not be created or booted; the job may be retried elsewhere.
    case startFailed(reason: String)
    /// The VM disappeared without reporting (host failure, lost domain).
    case lost(reason: String)
    /// The payload ran to its end (with `exitCode`, when the driver could read it) but its
    /// output could not be stored in the job's spool (e.g. a full filesystem); it is not run again.
    case outputNotStored(exitCode: Int?, reason: String)
}

/// What a job's VM used, as the hypervisor measured it (for accounting).
public struct JobUsage: Sendable, Equatable {
    /// CPU time of the VM, all vCPUs together.
    public var cpuSeconds: Double
    /// Largest resident memory of the VM's process seen, if the hypervisor reports it.
    public var maxRSSKiB: Int?

    public init(cpuSeconds: Double, maxRSSKiB: Int? = nil) {
        self.cpuSeconds = cpuSeconds
        self.maxRSSKiB = maxRSSKiB
    }
}

/// What a driver reports about the jobs and nodes it runs.
public enum DriverEvent: Sendable, Equatable {
    /// The VM is up on `node` and the payload is starting.
    case running(jobID: Int64, node: String, time: Double)
    /// After a daemon restart: the job's VM was found still running on `node` and is watched again.
    case reattached(jobID: Int64, node: String, time: Double)
    /// The VM on `node` is gone; the job is over (or must be retried, for `startFailed`).
    /// `usage` is what its VM used, when the driver measured it.
    case ended(jobID: Int64, node: String, outcome: JobOutcome, time: Double, usage: JobUsage? = nil)
    /// After a daemon restart: the save of the job's VM on `node`, under way when the daemon
    /// stopped, completed; its state file and disks are there.
    case saved(jobID: Int64, node: String, time: Double)
    /// After a daemon restart: the live migration of the job's VM, under way when the daemon
    /// stopped, completed; the VM runs on `node` now.
    case migrated(jobID: Int64, node: String, time: Double)
    /// A pooled VM booted and waits for a job.
    case poolVMReady(id: Int64, time: Double)
    /// A pooled VM is gone before any job took it (boot failure, destroyed).
    case poolVMGone(id: Int64, reason: String, time: Double)
    /// The node answers and its VMs were compared with the jobs the driver runs there (its
    /// adopted jobs settled, VMs of jobs it no longer runs destroyed): it may take jobs.
    case nodeUp(node: String, time: Double)
    /// The node cannot be reached: no new VM may go there; its VMs' fate is unknown.
    case nodeUnreachable(node: String, reason: String, time: Double)
}

/// A move of a job's VM under way: recorded before it starts, so that a daemon restarted in
/// the middle finds exactly one copy of the VM.
public enum VMMove: Sendable, Equatable {
    /// Its VM is being saved to a state file on its node.
    case saving
    /// Its VM is being restored on the job's node from the state file saved on `from`.
    case restoring(from: String)
    /// Its VM is migrating live to the node `to`, where its vCPUs are pinned to `cpus`.
    case migrating(to: String, cpus: [Int])
}

/// A job that had a VM when the daemon last ran, handed back to the driver after a restart.
public struct AdoptedJob: Sendable, Equatable {
    public var spec: LaunchSpec
    /// When the VM's walltime began (paused time excluded): it keeps counting from there.
    public var startedAt: Double
    /// Paused (suspended) when the daemon stopped.
    public var suspended: Bool
    /// The move that was under way, if any.
    public var move: VMMove?

    public init(spec: LaunchSpec, startedAt: Double, suspended: Bool = false, move: VMMove? = nil) {
        self.spec = spec
        self.startedAt = startedAt
        self.suspended = suspended
        self.move = move
    }
}

/// A job whose VM is saved on `node`: its state file and disks stay there until it is restored
/// or ends.
public struct SavedJob: Sendable, Equatable {
    public var jobID: Int64
    public var node: String

    public init(jobID: Int64, node: String) {
        self.jobID = jobID
        self.node = node
    }
}

/// What a save or migration reports about the piece of the job's run that ended with it.
public struct VMPiece: Sendable, Equatable {
    /// What the VM used on the node it left (accounting sums the pieces).
    public var usage: JobUsage?
    /// Walltime the job has used so far, over all pieces.
    public var walltimeUsed: Double

    public init(usage: JobUsage?, walltimeUsed: Double) {
        self.usage = usage
        self.walltimeUsed = walltimeUsed
    }
}

/// What a node keeps in its image cache, for `vbatch nodes`.
public struct NodeCacheSummary: Sendable, Equatable {
    /// The cached files, each named by the catalogue entries it serves (`testguest kernel`)
    /// or, if this daemon has not used it yet, by its digest (`sha256:1f2e…`).
    public var images: [String]
    /// Bytes of all cached image files.
    public var bytes: UInt64
    /// The cache's cap (least recently used images beyond it are removed when unused).
    public var capBytes: UInt64
    /// Files uploaded to the node since the daemon started.
    public var uploads: Int
    /// Uploads under way, with their progress: `testguest kernel 45% of 13.5mb`.
    public var transfers: [String]

    public init(images: [String], bytes: UInt64, capBytes: UInt64, uploads: Int = 0, transfers: [String] = []) {
        self.images = images
        self.bytes = bytes
        self.capBytes = capBytes
        self.uploads = uploads
        self.transfers = transfers
    }
}

/// The interface between the engine and a hypervisor: start, stop, report.
///
/// Drivers never decide anything: the scheduler core chose the node and CPUs, and the
/// driver carries it out and reports what happened through `events`. No call waits for a
/// node that does not answer: node trouble arrives as `.nodeUnreachable`.
public protocol HypervisorDriver: Sendable {
    /// Events in the order they happened; one stream for the driver's lifetime.
    var events: AsyncStream<DriverEvent> { get }
    /// Takes charge of `nodes` and returns at once. `adopting` are the jobs that had a VM
    /// when the daemon last ran: each VM found running is watched again (`.reattached`, its
    /// walltime counting from `startedAt`), each found gone ends with what output it left.
    /// Each node reports `.nodeUp` once that is settled, or `.nodeUnreachable`; VMs of jobs
    /// the driver does not run (any more) are destroyed and their volumes removed.
    ///
    /// `saved` are the jobs whose VMs are saved on a node: their state files and disks stay.
    func begin(nodes: [NodeConfig], adopting: [AdoptedJob], saved: [SavedJob]) async
    /// Creates the job's VM and runs its payload; returns once the VM is defined and booting.
    func start(_ spec: LaunchSpec) async throws
    /// Destroys the job's VM (cancel); an `.ended(..., .cancelled)` event follows.
    func cancel(jobID: Int64) async
    /// Forgets a job the engine gave up on (its node fenced, its lease over) without any
    /// event; its VM is destroyed and its volumes removed when its node answers again.
    func abandon(jobID: Int64) async
    /// Forgets every job and pooled VM on `node` without any event (an operator fenced it);
    /// should the node answer again, its VMs are destroyed and their volumes removed.
    func forget(node: String) async
    /// Pauses the job's vCPUs; its slots stay booked and its walltime stops counting.
    func suspend(jobID: Int64) async throws
    /// Lets a suspended job's vCPUs run again.
    func resume(jobID: Int64) async throws
    /// Saves the job's VM (running or suspended) to a state file on its node and stops it; its
    /// disks and state file stay there for ``restore(_:from:)``. If it fails the VM runs on.
    func save(jobID: Int64) async throws -> VMPiece
    /// Starts a saved job's VM again on `spec.node` with `spec.cpus`, from the state file saved
    /// on node `from`; if that is another node, the state file and disks move first. The saved
    /// copy is removed once the VM runs; `.running` follows.
    func restore(_ spec: LaunchSpec, from node: String) async throws
    /// Moves the job's running VM live, with its disks, to `spec.node` with `spec.cpus`; gives up
    /// (the VM runs on where it was) if that takes longer than `bound`.
    func migrate(jobID: Int64, to spec: LaunchSpec, bound: Duration) async throws -> VMPiece
    /// Removes a saved job's state file and disks from `node` (it ended, or runs again from the start).
    func discard(savedJob jobID: Int64, node: String) async
    /// Boots a pooled VM; `.poolVMReady` follows once it waits for a job.
    func bootPoolVM(_ spec: PoolVMSpec) async throws
    /// What `node` has in its image cache; nil if the driver keeps no cache.
    func cacheSummary(node: String) -> NodeCacheSummary?
    /// Copies an image's files into a node's cache ahead of jobs (`vbatch image push`);
    /// returns the bytes uploaded, or throws why the node cannot have it now.
    func stage(_ image: ImageConfig, node: String) async throws -> UInt64
    /// Stops watching and timing VMs and lets go of connections, leaving every VM running:
    /// the daemon is stopping or reloading, and its successor re-adopts them.
    func shutdown() async
}
