/// What a submitter asks for, before routing fills in the queue's defaults.
public struct JobRequest: Sendable, Equatable, Codable {
    public var queue: String
    public var cores: Int?
    public var memoryMB: Int?
    public var walltime: Int?
    public var environment: String?

    public init(queue: String, cores: Int? = nil, memoryMB: Int? = nil, walltime: Int? = nil, environment: String? = nil) {
        self.queue = queue
        self.cores = cores
        self.memoryMB = memoryMB
        self.walltime = walltime
        self.environment = environment
    }
}

/// The job as an execution queue accepted it: every limit is concrete.
public struct RoutedJob: Sendable, Equatable {
    public var queue: String
    public var cores: Int
    public var memoryMB: Int
    public var walltime: Int
    public var environment: String

    public init(queue: String, cores: Int, memoryMB: Int, walltime: Int, environment: String) {
        self.queue = queue
        self.cores = cores
        self.memoryMB = memoryMB
        self.walltime = walltime
        self.environment = environment
    }
}

/// Why a job was refused: one reason per execution queue that was considered.
public struct RoutingRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var queue: String
    public var reasons: [Reason]

    /// One queue's refusal.
    public struct Reason: Error, Sendable, Equatable {
        /// The queue that refused.
        public var queue: String
        /// What refused the job, with the job's own values (`3 cores exceed the maximum of 2`).
        public var reason: String
        /// The constraint that refused, without the job's values (`max_cores 2`,
        /// `walltime_max 10h`), so refusals of different jobs by the same limit read the same
        /// (trace replays count rejections by it).
        public var limit: String

        /// A refusal; `limit` defaults to `reason` for reasons that carry no job value.
        public init(queue: String, reason: String, limit: String? = nil) {
            self.queue = queue
            self.reason = reason
            self.limit = limit ?? reason
        }
    }

    /// The refusing limit of every queue considered, without the job's own values
    /// (`one-way: max_cores 2; two-way: walltime_max 1d`): the same for every job refused
    /// for the same reasons.
    public var limits: String {
        reasons.map { "\($0.queue): \($0.limit)" }.joined(separator: "; ")
    }

    public var description: String {
        if reasons.count == 1, reasons[0].queue == queue {
            return "queue \(queue) rejected the job: \(reasons[0].reason)"
        }
        let each = reasons.map { "\($0.queue): \($0.reason)" }.joined(separator: "; ")
        return "no destination of queue \(queue) accepts the job (\(each))"
    }
}

/// Routes a request through routing queues to the first execution queue that accepts it.
///
/// Pure: the caller supplies how many jobs each queue already holds.
public struct QueueRouter: Sendable {
    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// - Parameters:
    ///   - vo: the submitter's VO, `nil` for a local user.
    ///   - count: how many identical jobs are submitted at once (an array).
    ///   - queuedCount: jobs currently waiting in the named execution queue.
    public func route(_ request: JobRequest, vo: String?, count: Int = 1,
                      queuedCount: (String) -> Int = { _ in 0 }) -> Result<RoutedJob, RoutingRejection> {
        guard let queue = configuration.queue(named: request.queue) else {
            return .failure(RoutingRejection(queue: request.queue, reasons: [.init(queue: request.queue, reason: "no such queue")]))
        }
        switch queue {
        case .execution(let exec):
            return check(request, in: exec, vo: vo, count: count, queuedCount: queuedCount)
                .mapError { RoutingRejection(queue: exec.name, reasons: [$0]) }
        case .routing(let routing):
            guard routing.enabled else {
                return .failure(RoutingRejection(queue: routing.name, reasons: [
                    .init(queue: routing.name, reason: "queue is disabled", limit: "disabled"),
                ]))
            }
            var reasons: [RoutingRejection.Reason] = []
            for destination in routing.destinations {
                guard case .execution(let exec)? = configuration.queue(named: destination) else {
                    reasons.append(.init(queue: destination, reason: "not an execution queue"))
                    continue
                }
                switch check(request, in: exec, vo: vo, count: count, queuedCount: queuedCount) {
                case .success(let job): return .success(job)
                case .failure(let reason): reasons.append(reason)
                }
            }
            return .failure(RoutingRejection(queue: routing.name, reasons: reasons))
        }
    }

    /// Whether `exec` accepts the request; the first constraint that fails is the reason.
    public func check(_ request: JobRequest, in exec: ExecutionQueue, vo: String?, count: Int = 1,
                      queuedCount: (String) -> Int = { _ in 0 }) -> Result<RoutedJob, RoutingRejection.Reason> {
        func reject(_ reason: String, limit: String? = nil) -> Result<RoutedJob, RoutingRejection.Reason> {
            .failure(.init(queue: exec.name, reason: reason, limit: limit))
        }
        guard exec.enabled else { return reject("queue is disabled", limit: "disabled") }
        if let allowed = exec.vos, !allowed.contains(vo ?? "") {
            return reject("\(vo.map { "VO \($0)" } ?? "users outside a VO") may not use it (allowed: \(allowed.joined(separator: ", ")))",
                          limit: "vos \(allowed.joined(separator: ","))")
        }
        let cores = request.cores ?? 1
        guard cores >= 1 else { return reject("cores must be at least 1") }
        guard cores <= exec.maxCores else {
            return reject("\(cores) cores exceed the maximum of \(exec.maxCores)", limit: "max_cores \(exec.maxCores)")
        }
        let walltime = request.walltime ?? exec.walltimeDefault
        guard walltime >= 1 else { return reject("walltime must be at least 1s") }
        guard walltime <= exec.walltimeMax else {
            return reject("walltime \(Quantities.formatWalltime(walltime)) exceeds the maximum of \(Quantities.formatWalltime(exec.walltimeMax))",
                          limit: "walltime_max \(Quantities.formatWalltime(exec.walltimeMax))")
        }
        let memory = request.memoryMB ?? exec.defaultMemoryMB
        guard memory >= 1 else { return reject("memory must be at least 1mb") }
        guard memory <= exec.maxMemoryMB else {
            return reject("memory \(Quantities.formatMemory(memory)) exceeds the maximum of \(Quantities.formatMemory(exec.maxMemoryMB))",
                          limit: "max_memory \(Quantities.formatMemory(exec.maxMemoryMB))")
        }
        let environment = request.environment ?? exec.environments.first ?? ""
        guard exec.environments.contains(environment) else {
            return reject("environment \(environment) is not offered (offers: \(exec.environments.joined(separator: ", ")))",
                          limit: "environments \(exec.environments.joined(separator: ","))")
        }
        if let image = configuration.image(named: environment), let allowed = image.vos, !allowed.contains(vo ?? "") {
            return reject("environment \(environment) is not granted to \(vo.map { "VO \($0)" } ?? "users outside a VO")",
                          limit: "image \(environment) vos \(allowed.joined(separator: ","))")
        }
        let fits = configuration.nodes.contains { node in
            exec.serves(node: node.name) && node.slots >= cores && node.memoryMB >= memory
                && (node.environments?.contains(environment) ?? true)
        }
        guard fits else {
            return reject("no node of the queue has \(cores) cores and \(Quantities.formatMemory(memory)) for environment \(environment)",
                          limit: "no node fits")
        }
        if let maxQueued = exec.maxQueued, queuedCount(exec.name) + count > maxQueued {
            return reject("queue is full (max_queued \(maxQueued))", limit: "max_queued \(maxQueued)")
        }
        return .success(RoutedJob(queue: exec.name, cores: cores, memoryMB: memory, walltime: walltime, environment: environment))
    }
}
