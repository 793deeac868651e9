import VBatchCore

/// A queue as read from its file, before the checks against nodes, VOs and the catalogue.
struct ParsedQueue {
    var config: QueueConfig
    let origin: Origin
    /// `max_memory` and `default_memory` as written (valid values only); their defaults depend on the nodes.
    let maxMemory: Int?
    let defaultMemory: Int?
    /// One of the memory keys is present but invalid (already reported): skip the memory checks.
    let memoryInvalid: Bool
}

/// Reads `queues/*.toml`: any number of `[queue.NAME]` tables.
enum QueueFile {
    static let routingKeys = ["type", "description", "destinations", "enabled"]
    static let executionKeys = [
        "type", "description", "priority", "environments", "walltime_max", "walltime_default",
        "max_cores", "max_memory", "default_memory", "max_jobs_per_node", "max_running", "max_queued",
        "max_running_per_user", "vos", "nodes", "enabled", "started", "output_size", "on_node_loss",
        "preempts", "preempt_mode",
    ]
    /// Memory limit of an execution queue that does not set `max_memory`, unless its nodes have less.
    static let defaultMaxMemoryMB = 2048

    static func read(_ file: SourceFile, diagnostics: Diagnostics) -> [ParsedQueue] {
        let layout = FileLayout(file: file, diagnostics: diagnostics)
        layout.checkTopLevel(allowed: ["queue"], what: "a queue file")
        return layout.namedTables("queue").compactMap { name, reader in
            let type: String?
            if reader.has("type") {
                type = reader.choice("type", of: ["routing", "execution"])
            } else {
                reader.require("type")
                // Carry on with the likely intent so the other keys are still checked.
                type = reader.has("destinations") ? "routing" : "execution"
            }
            switch type {
            case "routing": return routing(name, reader)
            case "execution": return execution(name, reader)
            default: return nil
            }
        }
    }

    private static func routing(_ name: String, _ r: TableReader) -> ParsedQueue {
        let onlyExecution = Dictionary(uniqueKeysWithValues: executionKeys.filter { !routingKeys.contains($0) }
            .map { ($0, "\($0) applies to execution queues; a routing queue only forwards jobs") })
        r.checkKeys(allowed: routingKeys, misplaced: onlyExecution)
        r.require("destinations")
        let queue = RoutingQueue(name: name, destinations: r.strings("destinations") ?? [],
                                 enabled: r.bool("enabled") ?? true, description: r.string("description") ?? "")
        return ParsedQueue(config: .routing(queue), origin: r.origin, maxMemory: nil, defaultMemory: nil, memoryInvalid: false)
    }

    private static func execution(_ name: String, _ r: TableReader) -> ParsedQueue {
        r.checkKeys(allowed: executionKeys, misplaced: [
            "destinations": "destinations applies to routing queues; set type = \"routing\"",
        ])
        r.require("environments", "walltime_max")
        let walltimeMax = r.duration("walltime_max")
        let walltimeDefault = r.duration("walltime_default")
        if let walltimeMax, let walltimeDefault, walltimeDefault > walltimeMax {
            r.error("walltime_default", "\(Quantities.formatWalltime(walltimeDefault)) exceeds walltime_max "
                + "(\(Quantities.formatWalltime(walltimeMax)))")
        }
        let maxMemory = r.memory("max_memory")
        let defaultMemory = r.memory("default_memory")
        let queue = ExecutionQueue(
            name: name,
            description: r.string("description") ?? "",
            priority: r.int("priority") ?? 0,
            environments: r.strings("environments") ?? [],
            walltimeMax: walltimeMax ?? Quantities.maxWalltime,
            walltimeDefault: walltimeDefault,
            maxCores: r.int("max_cores", atLeast: 1) ?? 1,
            maxMemoryMB: maxMemory ?? defaultMaxMemoryMB,
            defaultMemoryMB: defaultMemory,
            vos: r.strings("vos"),
            nodes: r.strings("nodes"),
            maxJobsPerNode: r.int("max_jobs_per_node", atLeast: 1),
            maxRunning: r.int("max_running", atLeast: 1),
            maxQueued: r.int("max_queued", atLeast: 1),
            maxRunningPerUser: r.int("max_running_per_user", atLeast: 1),
            enabled: r.bool("enabled") ?? true,
            started: r.bool("started") ?? true,
            outputSizeMB: r.memory("output_size") ?? ExecutionQueue.defaultOutputSizeMB,
            onNodeLoss: r.choice("on_node_loss", of: ExecutionQueue.NodeLossPolicy.allCases.map(\.rawValue))
                .flatMap(ExecutionQueue.NodeLossPolicy.init(rawValue:)) ?? .requeue,
            preempts: r.strings("preempts") ?? [],
            preemptMode: r.choice("preempt_mode", of: ExecutionQueue.PreemptMode.allCases.map(\.rawValue))
                .flatMap(ExecutionQueue.PreemptMode.init(rawValue:)) ?? .save)
        if r.has("preempt_mode"), !r.has("preempts") {
            r.error("preempt_mode", "has no effect without preempts (the queues whose jobs this queue may stop)")
        }
        let memoryInvalid = (maxMemory == nil && r.has("max_memory")) || (defaultMemory == nil && r.has("default_memory"))
        return ParsedQueue(config: .execution(queue), origin: r.origin,
                           maxMemory: maxMemory, defaultMemory: defaultMemory, memoryInvalid: memoryInvalid)
    }
}
