import VBatchCore

/// The daemon's HTTP/JSON API, shared by `vbatchd` and its clients.
///
/// Routes (all under `/v1`): `POST /jobs` submit; `GET /jobs[?all=1]` list; `GET /jobs/ID`
/// show with history; `DELETE /jobs/ID` cancel; `POST /jobs/ID/hold` and `/release`;
/// `GET /jobs/ID/output` (streams and file list), `GET /jobs/ID/files?path=output/…` (one file),
/// `GET /queues`; `GET /nodes`; `GET /history[?all=1&limit=N&since=T]`; `GET /whoami`;
/// `GET /accounting[?since=T&until=T&all=1]` (``AccountingReport``); operators:
/// `POST /nodes/NAME/state` (``NodeStateRequest``), `POST /queues/NAME/state` (``QueueStateRequest``),
/// `POST /reload` (``ReloadResponse``), `GET /config` (``ConfigResponse``); bearer tokens: `POST /tokens` (``TokenRequest``),
/// `GET /tokens[?all=1]`, `DELETE /tokens/ID`. `GET /openapi.json` describes all of them.
/// Errors come back as a non-2xx status with ``ErrorResponse``.
public enum API {
    public static let version = "v1"
    /// Default socket path when neither `--socket` nor `VBATCH_SOCKET` is given.
    public static let defaultSocket = "/run/vbatch/vbatchd.sock"
    /// Largest script accepted (bytes).
    public static let maxScriptBytes = 1 << 20
    /// Largest array submit.
    public static let maxArrayCount = 100_000
    /// Largest request body the daemon reads (bytes).
    public static let maxRequestBytes = 8 << 20

    /// The headers a relay (`vbatch relay`) asserts a CE host's user with. vbatchd believes
    /// them only from a listed relay certificate on its TLS listener; the relay removes any
    /// a local client sent (and `Authorization`) before adding its own.
    public enum RelayHeader {
        public static let user = "X-VBatch-User"
        public static let uid = "X-VBatch-UID"
        public static let groups = "X-VBatch-Groups"
        public static let all = [user, uid, groups]
    }

    /// The file that exists beside the socket while the daemon reloads: clients that find
    /// the socket gone or refusing try again until it is removed.
    public static func reloadMarker(socketPath: String) -> String { socketPath + ".reloading" }
}

/// A job submission: one script, run `count` times (an array submit is one transaction).
public struct SubmitRequest: Codable, Sendable, Equatable {
    public var name: String?
    public var queue: String
    public var cores: Int?
    public var memoryMB: Int?
    public var walltime: Int?
    public var environment: String?
    /// The payload: a script run inside the VM.
    public var script: String
    public var arguments: [String]
    /// Environment variables for the payload.
    public var variables: [String: String]
    public var count: Int
    /// Submit in the held state.
    public var held: Bool

    public init(name: String? = nil, queue: String, cores: Int? = nil, memoryMB: Int? = nil, walltime: Int? = nil,
                environment: String? = nil, script: String, arguments: [String] = [], variables: [String: String] = [:],
                count: Int = 1, held: Bool = false) {
        self.name = name
        self.queue = queue
        self.cores = cores
        self.memoryMB = memoryMB
        self.walltime = walltime
        self.environment = environment
        self.script = script
        self.arguments = arguments
        self.variables = variables
        self.count = count
        self.held = held
    }
}

public struct SubmitResponse: Codable, Sendable, Equatable {
    /// The new job ids, in order; acknowledged only once durable.
    public var ids: [Int64]
    /// The execution queue the jobs were routed to.
    public var queue: String

    public init(ids: [Int64], queue: String) {
        self.ids = ids
        self.queue = queue
    }
}

/// A job as the daemon reports it.
public struct JobInfo: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var owner: String
    public var vo: String?
    /// The queue named at submit (may be a routing queue).
    public var submitQueue: String
    /// The execution queue that holds the job.
    public var queue: String
    public var environment: String
    public var cores: Int
    public var memoryMB: Int
    public var walltime: Int
    public var state: JobState
    public var submitTime: Double
    public var startTime: Double?
    public var endTime: Double?
    public var node: String?
    public var cpus: [Int]?
    public var exitCode: Int?
    /// Why the job is in its state (last transition's reason).
    public var reason: String?
    /// CPU seconds of the job's VM as the hypervisor measured them, summed over the pieces of
    /// its run (each save or migration ends one).
    public var cpuTime: Double?
    /// The node holding its saved VM, while it is saved or waits to be restored.
    public var savedNode: String?
    /// Seconds it spent suspended or saved (not counted against its walltime).
    public var pausedSeconds: Double?

    public init(id: Int64, name: String, owner: String, vo: String?, submitQueue: String, queue: String,
                environment: String, cores: Int, memoryMB: Int, walltime: Int, state: JobState, submitTime: Double,
                startTime: Double? = nil, endTime: Double? = nil, node: String? = nil, cpus: [Int]? = nil,
                exitCode: Int? = nil, reason: String? = nil, cpuTime: Double? = nil, savedNode: String? = nil,
                pausedSeconds: Double? = nil) {
        self.id = id
        self.name = name
        self.owner = owner
        self.vo = vo
        self.submitQueue = submitQueue
        self.queue = queue
        self.environment = environment
        self.cores = cores
        self.memoryMB = memoryMB
        self.walltime = walltime
        self.state = state
        self.submitTime = submitTime
        self.startTime = startTime
        self.endTime = endTime
        self.node = node
        self.cpus = cpus
        self.exitCode = exitCode
        self.reason = reason
        self.cpuTime = cpuTime
        self.savedNode = savedNode
        self.pausedSeconds = pausedSeconds
    }
}

/// One recorded state transition.
public struct JobEvent: Codable, Sendable, Equatable {
    public var time: Double
    public var state: JobState
    public var reason: String

    public init(time: Double, state: JobState, reason: String) {
        self.time = time
        self.state = state
        self.reason = reason
    }
}

public struct JobDetail: Codable, Sendable, Equatable {
    public var job: JobInfo
    public var history: [JobEvent]
    /// For a waiting job: why it has not started (held, queue stopped, a limit, resources,
    /// the reservation of the job next to start).
    public var waiting: String?
    /// For a job whose node cannot be reached: that it keeps its slots, and until when.
    public var node: String?

    public init(job: JobInfo, history: [JobEvent], waiting: String? = nil, node: String? = nil) {
        self.job = job
        self.history = history
        self.waiting = waiting
        self.node = node
    }
}

public struct QueueInfo: Codable, Sendable, Equatable {
    public var name: String
    /// `routing` or `execution`.
    public var kind: String
    public var description: String
    public var enabled: Bool
    public var started: Bool
    public var priority: Int?
    public var destinations: [String]?
    public var environments: [String]?
    public var walltimeMax: Int?
    public var walltimeDefault: Int?
    public var maxCores: Int?
    public var maxMemoryMB: Int?
    public var vos: [String]?
    public var nodes: [String]?
    public var maxJobsPerNode: Int?
    public var maxRunning: Int?
    public var maxQueued: Int?
    public var maxRunningPerUser: Int?
    /// Waiting jobs, held ones included.
    public var queued: Int
    /// Of the waiting jobs, those held (by a hold, or saved until released).
    public var held: Int?
    public var running: Int
    /// Who changed `enabled` or `started` at run time, and why (`vbatch queue stop …`).
    public var note: String?

    public init(name: String, kind: String, description: String, enabled: Bool, started: Bool, priority: Int? = nil,
                destinations: [String]? = nil, environments: [String]? = nil, walltimeMax: Int? = nil,
                walltimeDefault: Int? = nil, maxCores: Int? = nil, maxMemoryMB: Int? = nil, vos: [String]? = nil,
                nodes: [String]? = nil, maxJobsPerNode: Int? = nil, maxRunning: Int? = nil, maxQueued: Int? = nil,
                maxRunningPerUser: Int? = nil, queued: Int, held: Int? = nil, running: Int, note: String? = nil) {
        self.name = name
        self.kind = kind
        self.description = description
        self.enabled = enabled
        self.started = started
        self.priority = priority
        self.destinations = destinations
        self.environments = environments
        self.walltimeMax = walltimeMax
        self.walltimeDefault = walltimeDefault
        self.maxCores = maxCores
        self.maxMemoryMB = maxMemoryMB
        self.vos = vos
        self.nodes = nodes
        self.maxJobsPerNode = maxJobsPerNode
        self.maxRunning = maxRunning
        self.maxQueued = maxQueued
        self.maxRunningPerUser = maxRunningPerUser
        self.queued = queued
        self.held = held
        self.running = running
        self.note = note
    }
}

public struct NodeInfo: Codable, Sendable, Equatable {
    public var name: String
    public var uri: String
    public var slots: Int
    public var freeSlots: Int
    public var memoryMB: Int
    public var freeMemoryMB: Int
    public var enabled: Bool
    public var environments: [String]?
    public var jobs: [Int64]
    /// Why the node is out of service: an operator drained or fenced it, the daemon took it
    /// out, or its libvirtd cannot be reached.
    public var note: String?
    /// Pools kept on this node.
    public var pools: [PoolInfo]
    /// `connecting` (not yet reached since vbatchd started), `up` or `unreachable`.
    public var link: String
    /// An operator declared its VMs gone (`vbatch node fence`); it takes no job until resumed.
    public var fenced: Bool
    /// What the node has in its image cache (libvirt nodes).
    public var cache: NodeCacheInfo?

    public init(name: String, uri: String, slots: Int, freeSlots: Int, memoryMB: Int, freeMemoryMB: Int,
                enabled: Bool, environments: [String]?, jobs: [Int64], note: String? = nil, pools: [PoolInfo] = [],
                link: String = "up", fenced: Bool = false, cache: NodeCacheInfo? = nil) {
        self.name = name
        self.uri = uri
        self.slots = slots
        self.freeSlots = freeSlots
        self.memoryMB = memoryMB
        self.freeMemoryMB = freeMemoryMB
        self.enabled = enabled
        self.environments = environments
        self.jobs = jobs
        self.note = note
        self.pools = pools
        self.link = link
        self.fenced = fenced
        self.cache = cache
    }

    /// One word for tables: `unreachable`, `connecting`, `fenced`, `offline`, `draining`, `free`, `busy` or `full`.
    public var state: String {
        if link != "up" { return link }
        if fenced { return "fenced" }
        if !enabled { return jobs.isEmpty ? "offline" : "draining" }
        return freeSlots == slots ? "free" : freeSlots == 0 ? "full" : "busy"
    }
}

/// A node's image cache: catalogue files it holds (by the names this daemon knows them by).
public struct NodeCacheInfo: Codable, Sendable, Equatable {
    public var images: [String]
    public var bytes: UInt64
    public var capBytes: UInt64
    /// Files uploaded to it since vbatchd started.
    public var uploads: Int
    /// Uploads under way: `testguest kernel 45% of 13.5mb`.
    public var transfers: [String]

    public init(images: [String], bytes: UInt64, capBytes: UInt64, uploads: Int, transfers: [String] = []) {
        self.images = images
        self.bytes = bytes
        self.capBytes = capBytes
        self.uploads = uploads
        self.transfers = transfers
    }
}

/// `POST /v1/images/NAME/push` (operators): copies an image's files into nodes' image caches
/// ahead of jobs; `nodes` nil means every node that may run the image.
public struct ImagePushRequest: Codable, Sendable, Equatable {
    public var nodes: [String]?

    public init(nodes: [String]? = nil) { self.nodes = nodes }
}

/// What a push did on one node.
public struct ImagePushResult: Codable, Sendable, Equatable {
    public var node: String
    /// Bytes uploaded (0: the node had every file already).
    public var uploadedBytes: UInt64
    public var seconds: Double
    /// Why the node did not get the image, if it did not.
    public var error: String?

    public init(node: String, uploadedBytes: UInt64, seconds: Double, error: String? = nil) {
        self.node = node
        self.uploadedBytes = uploadedBytes
        self.seconds = seconds
        self.error = error
    }
}

/// `POST /v1/nodes/NAME/fence` (operators): declares the node's VMs gone; its jobs are requeued
/// (or failed, per queue) at once and it takes no job until resumed. Recorded and kept.
public struct NodeFenceRequest: Codable, Sendable, Equatable {
    public var reason: String

    public init(reason: String) { self.reason = reason }
}

/// `POST /v1/nodes/NAME/state` (operators): drain a node (`enabled: false`: no new job
/// starts there, and its running jobs leave as `mode` says) or put it back; kept across
/// daemon restarts.
public struct NodeStateRequest: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var reason: String?
    /// How a drain empties the node; nil is ``DrainMode/finish``.
    public var mode: DrainMode?

    public init(enabled: Bool, reason: String? = nil, mode: DrainMode? = nil) {
        self.enabled = enabled
        self.reason = reason
        self.mode = mode
    }
}

/// How a drained node is emptied (maintenance mode).
public enum DrainMode: String, Codable, Sendable, CaseIterable {
    /// Running jobs run to their end.
    case finish
    /// Running jobs' VMs are saved; they resume on another node (or here, once resumed).
    case save
    /// Running jobs' VMs migrate live to other nodes (saved and restored elsewhere if that fails).
    case migrate
    /// Running jobs are stopped and queued again, to run from the start elsewhere.
    case requeue
}

/// `POST /v1/queues/NAME/state` (operators): `enabled` accepts or refuses new submissions,
/// `started` starts or holds back its waiting jobs; nil leaves a flag as it is. Kept across
/// daemon restarts.
public struct QueueStateRequest: Codable, Sendable, Equatable {
    public var enabled: Bool?
    public var started: Bool?
    public var reason: String?

    public init(enabled: Bool? = nil, started: Bool? = nil, reason: String? = nil) {
        self.enabled = enabled
        self.started = started
        self.reason = reason
    }
}

/// `POST /v1/reload` (operators): the configuration files were read again without errors
/// and the daemon restarts its services on them; running jobs keep running.
public struct ReloadResponse: Codable, Sendable, Equatable {
    public var message: String

    public init(message: String) { self.message = message }
}

/// A pool's pre-booted VMs on one node.
public struct PoolInfo: Codable, Sendable, Equatable {
    public var name: String
    public var environment: String
    /// Idle VMs the pool keeps on the node.
    public var size: Int
    public var idle: Int
    public var booting: Int

    public init(name: String, environment: String, size: Int, idle: Int, booting: Int) {
        self.name = name
        self.environment = environment
        self.size = size
        self.idle = idle
        self.booting = booting
    }
}

/// What a finished job left behind: its streams, exit code and output files.
public struct JobOutput: Codable, Sendable, Equatable {
    public var id: Int64
    public var state: JobState
    public var exitCode: Int?
    public var stdout: String
    public var stderr: String
    /// Files the payload left in `$VBATCH_OUTPUT`, as `output/…` paths; fetch one with `GET /v1/jobs/ID/files/PATH`.
    public var files: [String]
    /// Where they are on the daemon's host.
    public var spoolDirectory: String

    public init(id: Int64, state: JobState, exitCode: Int?, stdout: String, stderr: String, files: [String],
                spoolDirectory: String) {
        self.id = id
        self.state = state
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.files = files
        self.spoolDirectory = spoolDirectory
    }
}

/// Who the daemon thinks the caller is: from the socket's peer credentials, a relay's
/// assertion or a bearer token; never from a field the client sends.
public struct WhoAmI: Codable, Sendable, Equatable {
    public var user: String
    public var uid: Int
    public var vo: String?
    public var isOperator: Bool
    /// How the identity was established: `socket`, `relay CN`, or `token ID (SCOPE)`.
    public var via: String?

    public init(user: String, uid: Int, vo: String?, isOperator: Bool, via: String? = nil) {
        self.user = user
        self.uid = uid
        self.vo = vo
        self.isOperator = isOperator
        self.via = via
    }
}

/// Every non-2xx response: a one-line message and a stable machine-readable ``code``.
public struct ErrorResponse: Codable, Sendable, Equatable {
    public var error: String
    /// One of ``Code``'s raw values; absent only from daemons older than the TLS API.
    public var code: String?

    public init(error: String, code: Code) {
        self.error = error
        self.code = code.rawValue
    }

    /// The error codes, one per HTTP status the API uses.
    public enum Code: String, Sendable, CaseIterable {
        case badRequest = "bad_request"
        case unauthenticated
        case forbidden
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case conflict
        case payloadTooLarge = "payload_too_large"
        case unavailable
        case `internal`

        /// The code of an HTTP status (`internal` for any other 5xx, `bad_request` for any other 4xx).
        public init(status: Int) {
            switch status {
            case 401: self = .unauthenticated
            case 403: self = .forbidden
            case 404: self = .notFound
            case 405: self = .methodNotAllowed
            case 409: self = .conflict
            case 413: self = .payloadTooLarge
            case 503: self = .unavailable
            case 500...: self = .internal
            default: self = .badRequest
            }
        }
    }
}

/// `POST /v1/tokens`: a bearer token for the TLS listener.
public struct TokenRequest: Codable, Sendable, Equatable {
    public var scope: TokenScope
    /// Seconds until it expires; at most the site's `max_token_lifetime` (or
    /// `max_operator_token_lifetime` for operator tokens).
    public var lifetime: Int
    /// Whom it acts for: operators may name any user, others only themselves (the default).
    public var user: String?
    /// A label for listings (at most 64 characters).
    public var name: String?

    public init(scope: TokenScope, lifetime: Int, user: String? = nil, name: String? = nil) {
        self.scope = scope
        self.lifetime = lifetime
        self.user = user
        self.name = name
    }
}

/// A token as listed: everything but its secret.
public struct TokenInfo: Codable, Sendable, Equatable {
    public var id: Int64
    public var user: String
    public var scope: TokenScope
    public var name: String?
    public var createdBy: String
    public var created: Double
    public var expires: Double
    public var revoked: Double?

    public init(id: Int64, user: String, scope: TokenScope, name: String?, createdBy: String, created: Double,
                expires: Double, revoked: Double?) {
        self.id = id
        self.user = user
        self.scope = scope
        self.name = name
        self.createdBy = createdBy
        self.created = created
        self.expires = expires
        self.revoked = revoked
    }
}

/// The answer to `POST /v1/tokens`: the token itself, shown this once.
public struct TokenCreated: Codable, Sendable, Equatable {
    public var token: String
    public var info: TokenInfo

    public init(token: String, info: TokenInfo) {
        self.token = token
        self.info = info
    }
}

/// `GET /v1/config` (operators): the configuration the daemon runs on, every key with its
/// value and the `file:line` it came from (`vbatch config show`).
public struct ConfigResponse: Codable, Sendable {
    /// The configuration directory the files were read from (origins inside it are relative to it).
    public var directory: String?
    public var settings: [ConfigSetting]

    public init(directory: String?, settings: [ConfigSetting]) {
        self.directory = directory
        self.settings = settings
    }
}
