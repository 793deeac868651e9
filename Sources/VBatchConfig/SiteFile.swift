import VBatchCore

/// A worker node as read from the site file.
struct ParsedNode {
    var config: NodeConfig
    let origin: Origin
}

/// A pool of pre-booted VMs as read from the site file.
struct ParsedPool {
    var config: PoolConfig
    let origin: Origin
}

/// A VO as read from the site file.
struct ParsedVO {
    var config: VOConfig
    let origin: Origin
}

/// The site file's contents: `[site]`, `[node.NAME]` and `[vo.NAME]` tables.
struct ParsedSite {
    var settings = SiteSettings()
    var nodes: [ParsedNode] = []
    var vos: [ParsedVO] = []
    var pools: [ParsedPool] = []
}

/// Reads the site file.
enum SiteFile {
    static let siteKeys = [
        "name", "placement", "fair_share_half_life", "operators", "operator_groups", "local_share", "max_start_attempts",
        "max_node_failures", "walltime_grace",
    ]
    static let nodeKeys = ["uri", "cpus", "slots", "memory", "environments", "enabled", "domain_type"]
    static let voKeys = ["share", "users", "groups"]
    static let poolKeys = ["environment", "nodes", "size", "cores", "memory"]
    /// libvirt URI schemes a node may use (`sim` is vbatch's simulated driver).
    static let uriSchemes = ["qemu", "qemu+ssh", "qemu+tcp", "qemu+tls", "qemu+unix", "test", "sim"]

    static func read(_ file: SourceFile, diagnostics: Diagnostics) -> ParsedSite {
        let layout = FileLayout(file: file, diagnostics: diagnostics)
        layout.checkTopLevel(allowed: ["site", "node", "vo", "pool"], what: "the site file")
        var site = ParsedSite()
        if let r = layout.table("site") {
            site.settings = settings(r)
        }
        site.nodes = layout.namedTables("node").map { node($0.name, $0.reader) }
        site.vos = layout.namedTables("vo").map { vo($0.name, $0.reader) }
        site.pools = layout.namedTables("pool").map { pool($0.name, $0.reader) }
        let nodeTable = file.root["node"]
        if nodeTable == nil || nodeTable?.table?.isEmpty == true {
            diagnostics.add(file: file.path, line: 1, key: "node",
                            "no [node.NAME] table: at least one worker node is required")
        }
        return site
    }

    private static func settings(_ r: TableReader) -> SiteSettings {
        r.checkKeys(allowed: siteKeys)
        let defaults = SiteSettings()
        var name = defaults.name
        if let written = r.string("name") {
            if written.isEmpty { r.error("name", "must not be empty") } else { name = written }
        }
        return SiteSettings(
            name: name,
            placement: r.choice("placement", of: SiteSettings.PlacementPolicy.allCases.map(\.rawValue))
                .flatMap(SiteSettings.PlacementPolicy.init(rawValue:)) ?? defaults.placement,
            fairShareHalfLife: r.duration("fair_share_half_life") ?? defaults.fairShareHalfLife,
            operators: r.strings("operators") ?? defaults.operators,
            operatorGroups: r.strings("operator_groups") ?? defaults.operatorGroups,
            localShare: r.positiveNumber("local_share") ?? defaults.localShare,
            maxStartAttempts: r.int("max_start_attempts", atLeast: 1) ?? defaults.maxStartAttempts,
            maxNodeFailures: r.int("max_node_failures", atLeast: 1) ?? defaults.maxNodeFailures,
            walltimeGrace: r.duration("walltime_grace") ?? defaults.walltimeGrace)
    }

    private static func node(_ name: String, _ r: TableReader) -> ParsedNode {
        r.checkKeys(allowed: nodeKeys)
        r.require("uri", "memory")
        var uri = ""
        if let written = r.string("uri") {
            if let problem = uriProblem(written) { r.error("uri", problem) }
            uri = written
        }
        var cpus: [Int] = []
        switch (r.has("cpus"), r.has("slots")) {
        case (true, true):
            r.error("slots", "give either cpus (a CPU list) or slots (a count), not both")
        case (false, false):
            r.diagnostics.add(file: r.origin.file.path, line: r.origin.line, key: r.origin.keyPath("cpus"),
                              "missing required key: give cpus = \"0-3\" (host CPUs) or slots = N (CPUs 0 to N-1)")
        case (true, false):
            if let list = r.string("cpus") {
                switch CPUList.parse(list) {
                case .success(let parsed): cpus = parsed
                case .failure(let error): r.error("cpus", error.message)
                }
            }
        case (false, true):
            if let slots = r.int("slots", atLeast: 1) {
                if slots > CPUList.maxCPU + 1 {
                    r.error("slots", "must be at most \(CPUList.maxCPU + 1)")
                } else {
                    cpus = Array(0..<slots)
                }
            }
        }
        let config = NodeConfig(
            name: name, uri: uri, cpus: cpus, memoryMB: r.memory("memory") ?? 0,
            environments: r.strings("environments"), enabled: r.bool("enabled") ?? true,
            domainType: r.choice("domain_type", of: ["qemu", "kvm"]) ?? "qemu")
        return ParsedNode(config: config, origin: r.origin)
    }

    private static func vo(_ name: String, _ r: TableReader) -> ParsedVO {
        r.checkKeys(allowed: voKeys)
        let config = VOConfig(name: name, share: r.positiveNumber("share") ?? 1,
                              users: r.strings("users") ?? [], groups: r.strings("groups") ?? [])
        return ParsedVO(config: config, origin: r.origin)
    }

    private static func pool(_ name: String, _ r: TableReader) -> ParsedPool {
        r.checkKeys(allowed: poolKeys)
        r.require("environment", "size", "memory")
        let config = PoolConfig(name: name, environment: r.string("environment") ?? "", nodes: r.strings("nodes"),
                                size: r.int("size", atLeast: 1) ?? 1, cores: r.int("cores", atLeast: 1) ?? 1,
                                memoryMB: r.memory("memory") ?? 0)
        return ParsedPool(config: config, origin: r.origin)
    }

    /// Why `uri` cannot be a libvirt connection URI of a supported scheme, or `nil` if it can.
    static func uriProblem(_ uri: String) -> String? {
        guard let colon = uri.firstIndex(of: ":"), uri[colon...].hasPrefix("://") else {
            return "\"\(uri)\" is not a libvirt URI (write e.g. \"qemu:///system\" or \"qemu+ssh://wn07/system\")"
        }
        let scheme = String(uri[..<colon])
        guard uriSchemes.contains(scheme) else {
            return "unsupported URI scheme \"\(scheme)\" (use one of \(uriSchemes.joined(separator: ", ")))"
        }
        return nil
    }
}
