import VBatchCore

/// The configuration as `vbatch config show` lists it: every key of every table, written
/// or defaulted, in TOML syntax, with the `file:line` the loader recorded for written keys.
///
/// Keys are the file keys (`walltime_max`, not `walltimeMax`); tables come in the order
/// `site`, `api`, `accounting`, `factory`, nodes, VOs, pools, queues, images, each key
/// list in the order of the readers' allowed keys (``SiteFile``, ``QueueFile``, ``ImageFile``),
/// which a test checks against these listings.
extension Configuration {
    /// Each setting, with its origin (nil: the default).
    public var settings: [ConfigSetting] {
        var out: [ConfigSetting] = []
        func add(_ table: [String], _ values: [(String, TOMLText)]) {
            for (key, value) in values {
                let dotted = KeyPath.format(table + [key])
                out.append(ConfigSetting(key: dotted, value: value.text, origin: origins[dotted]))
            }
        }
        let s = site
        add(["site"], [
            ("name", .string(s.name)), ("placement", .string(s.placement.rawValue)),
            ("fair_share_half_life", .duration(s.fairShareHalfLife)), ("operators", .strings(s.operators)),
            ("operator_groups", .strings(s.operatorGroups)), ("local_share", .number(s.localShare)),
            ("max_start_attempts", .int(s.maxStartAttempts)), ("max_node_failures", .int(s.maxNodeFailures)),
            ("walltime_grace", .duration(s.walltimeGrace)), ("tls_ca", .string(s.tls?.ca)),
            ("tls_certificate", .string(s.tls?.certificate)), ("tls_key", .string(s.tls?.key)),
            ("lease_margin", .duration(s.leaseMargin)), ("migration_timeout", .duration(s.migrationTimeout)),
        ])
        add(["api"], [
            ("listen", .string(s.api.listen?.description)), ("certificate", .string(s.api.tls?.certificate)),
            ("key", .string(s.api.tls?.key)), ("ca", .string(s.api.tls?.ca)), ("relays", .strings(s.api.relays)),
            ("max_token_lifetime", .duration(s.api.maxTokenLifetime)),
            ("max_operator_token_lifetime", .duration(s.api.maxOperatorTokenLifetime)),
        ])
        let a = s.accounting
        add(["accounting"], [
            ("site", .string(a.site)), ("submit_host", .string(a.submitHost)), ("benchmark_type", .string(a.benchmarkType)),
            ("benchmark", a.benchmark.map(TOMLText.number) ?? .unset), ("infrastructure", .string(a.infrastructure)),
        ])
        let f = s.factory
        add(["factory"], [
            ("allowed_bases", .strings(f.allowedBases)), ("allowed_packages", .strings(f.allowedPackages)),
            ("require_approval", .bool(f.requireApproval)), ("approved", .strings(f.approved)), ("output", .string(f.output)),
        ])
        for n in nodes {
            add(["node", n.name], [
                ("uri", .string(n.uri)), ("cpus", .string(Self.cpuList(n.cpus))), ("slots", .int(n.slots)),
                ("memory", .memory(n.memoryMB)), ("environments", .strings(n.environments)), ("enabled", .bool(n.enabled)),
                ("domain_type", .string(n.domainType)), ("image_cache", .memory(n.imageCacheMB)),
            ])
        }
        for v in vos {
            add(["vo", v.name], [("share", .number(v.share)), ("users", .strings(v.users)), ("groups", .strings(v.groups))])
        }
        for p in pools {
            add(["pool", p.name], [
                ("environment", .string(p.environment)), ("nodes", .strings(p.nodes)), ("size", .int(p.size)),
                ("cores", .int(p.cores)), ("memory", .memory(p.memoryMB)),
            ])
        }
        for queue in queues {
            switch queue {
            case .routing(let q):
                add(["queue", q.name], [
                    ("type", .string("routing")), ("description", .string(q.description)),
                    ("destinations", .strings(q.destinations)), ("enabled", .bool(q.enabled)),
                ])
            case .execution(let q):
                add(["queue", q.name], [
                    ("type", .string("execution")), ("description", .string(q.description)), ("priority", .int(q.priority)),
                    ("environments", .strings(q.environments)), ("walltime_max", .duration(q.walltimeMax)),
                    ("walltime_default", .duration(q.walltimeDefault)), ("max_cores", .int(q.maxCores)),
                    ("max_memory", .memory(q.maxMemoryMB)), ("default_memory", .memory(q.defaultMemoryMB)),
                    ("max_jobs_per_node", .int(q.maxJobsPerNode)), ("max_running", .int(q.maxRunning)),
                    ("max_queued", .int(q.maxQueued)), ("max_running_per_user", .int(q.maxRunningPerUser)),
                    ("vos", .strings(q.vos)), ("nodes", .strings(q.nodes)), ("enabled", .bool(q.enabled)),
                    ("started", .bool(q.started)), ("output_size", .memory(q.outputSizeMB)),
                    ("on_node_loss", .string(q.onNodeLoss.rawValue)), ("preempts", .strings(q.preempts)),
                    ("preempt_mode", .string(q.preemptMode.rawValue)),
                ])
            }
        }
        for i in images {
            add(["image", i.name], [
                ("description", .string(i.description)), ("boot", .string(i.boot.rawValue)), ("kernel", .string(i.kernel)),
                ("initrd", .string(i.initrd)), ("disk", .string(i.disk)), ("format", .string(i.format)),
                ("cmdline", .string(i.cmdline)), ("memory", .memory(i.memoryMB)), ("sha256", .string(i.sha256)),
                ("vos", .strings(i.vos)), ("agent", .string(i.agent.rawValue)),
            ])
        }
        return out
    }

    /// Host CPUs as the site file writes them: `0-3,8,10-11`.
    static func cpuList(_ cpus: [Int]) -> String {
        var ranges: [String] = []
        var i = 0
        let sorted = cpus.sorted()
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count, sorted[j + 1] == sorted[j] + 1 { j += 1 }
            ranges.append(i == j ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
            i = j + 1
        }
        return ranges.joined(separator: ",")
    }
}

/// A value written as TOML; nil inputs become ``unset``.
enum TOMLText {
    case text(String)
    case unset

    static func string(_ value: String?) -> TOMLText { value.map { .text(TOMLString.quoted($0)) } ?? .unset }
    static func strings(_ values: [String]?) -> TOMLText {
        values.map { .text("[" + $0.map(TOMLString.quoted).joined(separator: ", ") + "]") } ?? .unset
    }
    static func int(_ value: Int?) -> TOMLText { value.map { .text("\($0)") } ?? .unset }
    static func bool(_ value: Bool) -> TOMLText { .text(value ? "true" : "false") }
    /// Integral numbers without a fraction (`share = 40`), others as Swift prints them.
    static func number(_ value: Double) -> TOMLText {
        .text(value == value.rounded() && abs(value) < 1e15 ? "\(Int(value))" : "\(value)")
    }
    static func duration(_ seconds: Int) -> TOMLText { .text(TOMLString.quoted(Quantities.formatWalltime(seconds))) }
    static func memory(_ mb: Int) -> TOMLText { .text(TOMLString.quoted(Quantities.formatMemory(mb).lowercased())) }

    var text: String {
        switch self {
        case .text(let t): t
        case .unset: "(unset)"
        }
    }
}
