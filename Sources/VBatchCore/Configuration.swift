/// The validated description of a site that every part of vbatch works from.
///
/// `VBatchConfig` builds it from the operator's TOML files; tests and benchmarks build it
/// directly. Nothing here does I/O.
public struct Configuration: Sendable, Equatable {
    public var site: SiteSettings
    public var nodes: [NodeConfig]
    public var vos: [VOConfig]
    public var queues: [QueueConfig]
    public var images: [ImageConfig]
    /// Pre-booted VMs kept waiting on nodes (static environments).
    public var pools: [PoolConfig]
    /// Where each key was written: dotted TOML key → `file:line` (filled by the loader; see ``ConfigSetting``).
    public var origins: [String: String] = [:]
    /// The configuration directory the loader read (absolute); nil for a configuration made in code.
    public var sourceDirectory: String?

    public init(site: SiteSettings = SiteSettings(), nodes: [NodeConfig], vos: [VOConfig] = [],
                queues: [QueueConfig], images: [ImageConfig], pools: [PoolConfig] = []) {
        self.site = site
        self.nodes = nodes
        self.vos = vos
        self.queues = queues
        self.images = images
        self.pools = pools
    }

    public func queue(named name: String) -> QueueConfig? { queues.first { $0.name == name } }
    public func image(named name: String) -> ImageConfig? { images.first { $0.name == name } }
    public func node(named name: String) -> NodeConfig? { nodes.first { $0.name == name } }

    /// What the configuration holds, in one line (`vbatchd --check`, `vbatch reload`):
    /// `1 routing and 3 execution queues, 2 nodes, 1 images, 3 VOs`.
    public var summary: String {
        let executions = executionQueues.count
        return "\(queues.count - executions) routing and \(executions) execution queues, "
            + "\(nodes.count) nodes, \(images.count) images, \(vos.count) VOs"
    }

    /// What `vbatchd --check` warns about without refusing the configuration.
    public var warnings: [String] {
        var warnings: [String] = []
        for node in nodes where node.uri.hasPrefix("qemu+tcp://") {
            warnings.append("node \(node.name): \(node.uri) is unauthenticated and unencrypted: whoever reaches "
                + "its port controls libvirtd; use qemu+tls:// (mutual TLS) or qemu+ssh://")
        }
        if site.tls == nil, let node = nodes.first(where: { $0.uri.hasPrefix("qemu+tls://") }) {
            warnings.append("node \(node.name) uses qemu+tls:// but the site file names no tls_ca, tls_certificate "
                + "and tls_key: libvirt's default files are used (/etc/pki/CA/cacert.pem, /etc/pki/libvirt/)")
        }
        return warnings
    }

    /// Execution queues in file order; the scheduler refers to them by index into this list.
    public var executionQueues: [ExecutionQueue] {
        queues.compactMap { if case .execution(let q) = $0 { q } else { nil } }
    }

    /// The VO a Unix user belongs to: first by user name, then by any of the user's groups.
    /// `nil` means the user belongs to no VO (a local user).
    public func vo(forUser user: String, groups: [String]) -> String? {
        if let vo = vos.first(where: { $0.users.contains(user) }) { return vo.name }
        return vos.first(where: { vo in groups.contains(where: vo.groups.contains) })?.name
    }

    public func isOperator(user: String, groups: [String]) -> Bool {
        user == "root" || site.operators.contains(user) || groups.contains(where: site.operatorGroups.contains)
    }
}

/// Site-wide settings from the `[site]` table of the site file.
public struct SiteSettings: Sendable, Equatable {
    /// How the scheduler scores nodes that pass the filters.
    public enum PlacementPolicy: String, Sendable, CaseIterable {
        /// Fill the busiest node that fits first, keeping whole nodes free for big jobs.
        case pack
        /// Put each job on the emptiest node that fits, spreading load.
        case spread
    }

    public var name: String
    public var placement: PlacementPolicy
    /// Half-life of the decayed usage that fair share compares against the VO shares.
    public var fairShareHalfLife: Int
    /// Users who may see and control every job.
    public var operators: [String]
    /// Unix groups whose members are operators.
    public var operatorGroups: [String]
    /// Share of users that belong to no VO.
    public var localShare: Double
    /// How many times a job whose VM failed to start is put back in the queue.
    public var maxStartAttempts: Int
    /// Consecutive VM start failures after which a node is taken out of service.
    public var maxNodeFailures: Int
    /// Seconds between the ACPI shutdown at a job's walltime and the destroy of its VM.
    public var walltimeGrace: Int
    /// What the image factory may build (`[factory]`); no restriction when the table is absent.
    public var factory: FactoryPolicy
    /// How finished jobs are reported to grid accounting (`[accounting]`).
    public var accounting: AccountingSettings
    /// The daemon's client certificate for `qemu+tls://` nodes; nil: libvirt's default files.
    public var tls: TLSFiles?
    /// How long after a VM's lease (walltime + grace + the guest's own margin) the daemon
    /// takes a VM on an unreachable node as gone: covers its boot and clock differences.
    public var leaseMargin: Int
    /// Longest a live migration may take (`migration_timeout`) before it is aborted and the
    /// job saved and restored elsewhere instead.
    public var migrationTimeout: Int
    /// The TLS API listener, its relays and the token policy (`[api]`).
    public var api: APISettings

    public init(name: String = "site", placement: PlacementPolicy = .pack, fairShareHalfLife: Int = 7 * 86_400,
                operators: [String] = [], operatorGroups: [String] = [], localShare: Double = 1,
                maxStartAttempts: Int = 3, maxNodeFailures: Int = 3, walltimeGrace: Int = 30,
                factory: FactoryPolicy = FactoryPolicy(), accounting: AccountingSettings = AccountingSettings(),
                tls: TLSFiles? = nil, leaseMargin: Int = 300, migrationTimeout: Int = 300,
                api: APISettings = APISettings()) {
        self.name = name
        self.placement = placement
        self.fairShareHalfLife = fairShareHalfLife
        self.operators = operators
        self.operatorGroups = operatorGroups
        self.localShare = localShare
        self.maxStartAttempts = maxStartAttempts
        self.maxNodeFailures = maxNodeFailures
        self.walltimeGrace = walltimeGrace
        self.factory = factory
        self.accounting = accounting
        self.tls = tls
        self.leaseMargin = leaseMargin
        self.migrationTimeout = migrationTimeout
        self.api = api
    }
}

/// How vbatchd is reached from other machines (`[api]` in the site file): a TLS listener
/// (off unless `listen` is given), the CE relays it trusts to assert local users, and how
/// long the bearer tokens it issues may live. See docs/security.md.
public struct APISettings: Sendable, Equatable {
    /// Where the TLS listener binds (`listen = "HOST:PORT"`); nil: no listener, the Unix socket only.
    public var listen: HostPort?
    /// The listener's certificate and key, and the CA a client certificate must chain to.
    public var tls: TLSFiles?
    /// Subject common names of relay certificates (`relays`): only these may assert a user.
    public var relays: [String]
    /// Longest lifetime of a `read` or `user` token (`max_token_lifetime`, default 30 days).
    public var maxTokenLifetime: Int
    /// Longest lifetime of an `operator` token (`max_operator_token_lifetime`, default 1 day).
    public var maxOperatorTokenLifetime: Int

    public init(listen: HostPort? = nil, tls: TLSFiles? = nil, relays: [String] = [],
                maxTokenLifetime: Int = 30 * 86_400, maxOperatorTokenLifetime: Int = 86_400) {
        self.listen = listen
        self.tls = tls
        self.relays = relays
        self.maxTokenLifetime = maxTokenLifetime
        self.maxOperatorTokenLifetime = maxOperatorTokenLifetime
    }

    /// The longest lifetime a token of `scope` may be given.
    public func maxLifetime(scope: TokenScope) -> Int {
        scope == .operator ? maxOperatorTokenLifetime : maxTokenLifetime
    }
}

/// A host and TCP port (`HOST:PORT`, `[IPv6]:PORT`): where vbatchd's TLS listener binds, and
/// where a relay reaches it. `host` is an IPv4 or IPv6 address or a name.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT`; nil with no port or a port outside 1…65535.
    public init?(_ text: String) {
        var host: Substring, port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard !host.isEmpty, let number = Int(port), (1...65_535).contains(number) else { return nil }
        self.init(host: String(host), port: number)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What a bearer token lets its holder do on the TLS listener.
public enum TokenScope: String, Sendable, CaseIterable, Codable {
    /// `GET` routes only, seeing what its user sees.
    case read
    /// Everything its user may do through the socket.
    case user
    /// Everything, operator routes included; only operators get one.
    case `operator`
}

/// The files of the daemon's TLS identity towards `qemu+tls://` nodes (`tls_ca`,
/// `tls_certificate`, `tls_key` in `[site]`): the site CA that signed the nodes'
/// certificates, and the daemon's own certificate and key, which nodes must trust.
public struct TLSFiles: Sendable, Equatable {
    public var ca: String
    public var certificate: String
    public var key: String

    public init(ca: String, certificate: String, key: String) {
        self.ca = ca
        self.certificate = certificate
        self.key = key
    }
}

/// What the site tells grid accounting about itself (`[accounting]` in the site file): the
/// fields of an APEL job record that no job carries.
public struct AccountingSettings: Sendable, Equatable {
    /// Benchmarks APEL accepts as a `ServiceLevelType`.
    public static let benchmarkTypes = ["HEPSPEC", "HEPscore23", "si2k"]

    /// The site's name in GOCDB (APEL `Site`); `nil`: the `[site]` name.
    public var site: String?
    /// The CE that submits to vbatch (APEL `SubmitHost`), e.g. `ce01.example.org:9619/vbatch-grid`;
    /// `nil`: this host's name.
    public var submitHost: String?
    /// One of ``benchmarkTypes``, with ``benchmark`` its value per core; both or neither.
    public var benchmarkType: String?
    public var benchmark: Double?
    /// `grid` for jobs from the CE, `local` for a site's own users (APEL `InfrastructureType`).
    public var infrastructure: String

    public init(site: String? = nil, submitHost: String? = nil, benchmarkType: String? = nil, benchmark: Double? = nil,
                infrastructure: String = "grid") {
        self.site = site
        self.submitHost = submitHost
        self.benchmarkType = benchmarkType
        self.benchmark = benchmark
        self.infrastructure = infrastructure
    }
}

/// The site's policy for the image factory (`[factory]` in the site file): which recipes
/// `vbatch image build` accepts, and where built images go.
///
/// A recipe is accepted when its base is in ``allowedBases`` (if set) and each of its
/// packages matches ``allowedPackages`` (if set), or when its hash is in ``approved``
/// (the operator reviewed that exact recipe). With ``requireApproval`` only approved
/// recipes are accepted.
public struct FactoryPolicy: Sendable, Equatable {
    /// Bases a recipe may start from (`"debian:bookworm"`, `"image:NAME"`); `nil`: any.
    public var allowedBases: [String]?
    /// Package names a recipe may install; an entry ending in `*` matches by prefix
    /// (`"python3-*"`). `nil`: any.
    public var allowedPackages: [String]?
    /// Only recipes whose hash is in ``approved`` are built.
    public var requireApproval: Bool
    /// Recipe hashes (64 lowercase hex digits, as `vbatch image build` prints them).
    public var approved: [String]
    /// Absolute directory for built images; `nil`: `images/built/` in the configuration directory.
    public var output: String?

    public init(allowedBases: [String]? = nil, allowedPackages: [String]? = nil, requireApproval: Bool = false,
                approved: [String] = [], output: String? = nil) {
        self.allowedBases = allowedBases
        self.allowedPackages = allowedPackages
        self.requireApproval = requireApproval
        self.approved = approved
        self.output = output
    }
}

/// A worker node: a hypervisor host reached through libvirt.
public struct NodeConfig: Sendable, Equatable {
    public var name: String
    /// libvirt connection URI (`qemu:///system`, `qemu+ssh://wn07/system`, `test:///default`, `sim://`).
    public var uri: String
    /// Host CPU ids that jobs may use; one slot per CPU. Each job gets CPUs no other job holds.
    public var cpus: [Int]
    public var memoryMB: Int
    /// Environments this node may run; `nil` means every catalogue entry.
    public var environments: [String]?
    public var enabled: Bool
    /// `qemu` (TCG) or `kvm`.
    public var domainType: String
    /// Cap of the node's image cache: least recently used images beyond it are removed
    /// from the node when no VM there uses them.
    public var imageCacheMB: Int

    public static let defaultImageCacheMB = 20 * 1024

    public var slots: Int { cpus.count }

    public init(name: String, uri: String = "sim://", cpus: [Int], memoryMB: Int,
                environments: [String]? = nil, enabled: Bool = true, domainType: String = "qemu",
                imageCacheMB: Int = NodeConfig.defaultImageCacheMB) {
        self.name = name
        self.uri = uri
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.environments = environments
        self.enabled = enabled
        self.domainType = domainType
        self.imageCacheMB = imageCacheMB
    }

    public init(name: String, uri: String = "sim://", slots: Int, memoryMB: Int,
                environments: [String]? = nil, enabled: Bool = true) {
        self.init(name: name, uri: uri, cpus: Array(0..<slots), memoryMB: memoryMB,
                  environments: environments, enabled: enabled)
    }
}

/// A pool of pre-booted VMs of one environment, kept idle on each of its nodes until a
/// job of that environment takes one (static execution environments). Pooled VMs hold
/// their slots and memory; after a job the VM is discarded and the pool refills.
public struct PoolConfig: Sendable, Equatable {
    public var name: String
    public var environment: String
    /// Nodes keeping this pool; `nil` means every node that allows the environment.
    public var nodes: [String]?
    /// Idle VMs kept per node.
    public var size: Int
    /// vCPUs of each pooled VM; jobs asking for exactly this many cores can take one.
    public var cores: Int
    /// Memory of each pooled VM; jobs asking for at most this much can take one.
    public var memoryMB: Int

    public init(name: String, environment: String, nodes: [String]? = nil, size: Int, cores: Int = 1, memoryMB: Int) {
        self.name = name
        self.environment = environment
        self.nodes = nodes
        self.size = size
        self.cores = cores
        self.memoryMB = memoryMB
    }

    public func covers(node: NodeConfig) -> Bool {
        (nodes?.contains(node.name) ?? true) && (node.environments?.contains(environment) ?? true)
    }
}

/// A Virtual Organisation: who belongs to it and its fair share.
public struct VOConfig: Sendable, Equatable {
    public var name: String
    public var share: Double
    public var users: [String]
    public var groups: [String]

    public init(name: String, share: Double = 1, users: [String] = [], groups: [String] = []) {
        self.name = name
        self.share = share
        self.users = users
        self.groups = groups
    }
}

/// A queue is either a routing queue (forwards jobs) or an execution queue (runs them).
public enum QueueConfig: Sendable, Equatable {
    case routing(RoutingQueue)
    case execution(ExecutionQueue)

    public var name: String {
        switch self {
        case .routing(let q): q.name
        case .execution(let q): q.name
        }
    }

    public var enabled: Bool {
        switch self {
        case .routing(let q): q.enabled
        case .execution(let q): q.enabled
        }
    }
}

/// A routing queue sends each job to the first destination whose constraints accept it.
public struct RoutingQueue: Sendable, Equatable {
    public var name: String
    public var destinations: [String]
    public var enabled: Bool
    public var description: String

    public init(name: String, destinations: [String], enabled: Bool = true, description: String = "") {
        self.name = name
        self.destinations = destinations
        self.enabled = enabled
        self.description = description
    }
}

/// An execution queue: what it runs, for whom, where, and how much at once.
public struct ExecutionQueue: Sendable, Equatable {
    public var name: String
    public var description: String
    public var priority: Int
    /// Environments (catalogue names) offered; the first is the default.
    public var environments: [String]
    public var walltimeMax: Int
    public var walltimeDefault: Int
    public var maxCores: Int
    public var maxMemoryMB: Int
    public var defaultMemoryMB: Int
    /// VOs allowed to use the queue; `nil` means everyone, including local users.
    public var vos: [String]?
    /// Nodes serving the queue; `nil` means all nodes.
    public var nodes: [String]?
    /// At most this many jobs of this queue run on one node at once ("one-way", "two-way").
    public var maxJobsPerNode: Int?
    public var maxRunning: Int?
    public var maxQueued: Int?
    public var maxRunningPerUser: Int?
    /// Accepts new jobs.
    public var enabled: Bool
    /// Starts its jobs.
    public var started: Bool
    /// Size of each job's output disk (stdout, stderr and output files come back on it).
    public var outputSizeMB: Int
    /// What happens to a job whose node was lost with its VM (fenced, or its lease over).
    public var onNodeLoss: NodeLossPolicy
    /// Queues (of lower priority) whose running jobs this queue's waiting jobs may stop.
    public var preempts: [String]
    /// How those jobs are stopped.
    public var preemptMode: PreemptMode

    /// `preempt_mode`: save the victim's VM (it resumes later, nothing lost), run it again
    /// from the start, or cancel it.
    public enum PreemptMode: String, Sendable, CaseIterable {
        case save, requeue, cancel
    }

    public static let defaultOutputSizeMB = 64

    /// `on_node_loss`: run the job again from the start, or fail it.
    public enum NodeLossPolicy: String, Sendable, CaseIterable {
        case requeue, fail
    }

    public init(name: String, description: String = "", priority: Int = 0, environments: [String],
                walltimeMax: Int, walltimeDefault: Int? = nil, maxCores: Int = 1, maxMemoryMB: Int = 2048,
                defaultMemoryMB: Int? = nil, vos: [String]? = nil, nodes: [String]? = nil,
                maxJobsPerNode: Int? = nil, maxRunning: Int? = nil, maxQueued: Int? = nil,
                maxRunningPerUser: Int? = nil, enabled: Bool = true, started: Bool = true,
                outputSizeMB: Int = defaultOutputSizeMB, onNodeLoss: NodeLossPolicy = .requeue,
                preempts: [String] = [], preemptMode: PreemptMode = .save) {
        self.name = name
        self.description = description
        self.priority = priority
        self.environments = environments
        self.walltimeMax = walltimeMax
        self.walltimeDefault = walltimeDefault ?? walltimeMax
        self.maxCores = maxCores
        self.maxMemoryMB = maxMemoryMB
        self.defaultMemoryMB = defaultMemoryMB ?? min(maxMemoryMB, 1024)
        self.vos = vos
        self.nodes = nodes
        self.maxJobsPerNode = maxJobsPerNode
        self.maxRunning = maxRunning
        self.maxQueued = maxQueued
        self.maxRunningPerUser = maxRunningPerUser
        self.enabled = enabled
        self.started = started
        self.outputSizeMB = outputSizeMB
        self.onNodeLoss = onNodeLoss
        self.preempts = preempts
        self.preemptMode = preemptMode
    }

    public func serves(node: String) -> Bool { nodes.map { $0.contains(node) } ?? true }
}

/// A catalogue entry: an execution environment a job can name with `--env`.
public struct ImageConfig: Sendable, Equatable {
    /// How the guest agent gets into the VM.
    public enum Agent: String, Sendable, CaseIterable {
        /// The image carries the agent and starts it at boot (the test guest, factory images).
        case installed
        /// The image has cloud-init and no agent: the driver attaches a NoCloud `cidata`
        /// disk (`CloudInitDisk` in VBatchDrivers) that installs and starts it.
        case cloudInit = "cloud-init"
    }

    /// How the image boots.
    public enum Boot: String, Sendable {
        /// Direct kernel boot of `kernel` + `initrd`; `disk` optional.
        case kernel
        /// Boot from `disk` (a full distribution image).
        case disk
    }

    public var name: String
    public var description: String
    public var boot: Boot
    /// Paths are relative to the catalogue directory unless absolute.
    public var disk: String?
    /// `qcow2` or `raw`; always explicit.
    public var format: String
    public var kernel: String?
    public var initrd: String?
    public var cmdline: String
    public var sha256: String?
    /// VOs allowed to use this environment; `nil` means everyone.
    public var vos: [String]?
    public var memoryMB: Int
    /// How the guest agent gets into the VM.
    public var agent: Agent

    public init(name: String, description: String = "", boot: Boot = .kernel, disk: String? = nil,
                format: String = "qcow2", kernel: String? = nil, initrd: String? = nil,
                cmdline: String = "console=ttyS0", sha256: String? = nil, vos: [String]? = nil,
                memoryMB: Int = 256, agent: Agent = .installed) {
        self.name = name
        self.description = description
        self.boot = boot
        self.disk = disk
        self.format = format
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
        self.sha256 = sha256
        self.vos = vos
        self.memoryMB = memoryMB
        self.agent = agent
    }
}
