import Foundation
import TOMLKit
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
        "max_node_failures", "walltime_grace", "tls_ca", "tls_certificate", "tls_key", "lease_margin",
        "migration_timeout",
    ]
    static let nodeKeys = ["uri", "cpus", "slots", "memory", "environments", "enabled", "domain_type", "image_cache"]
    static let voKeys = ["share", "users", "groups"]
    static let poolKeys = ["environment", "nodes", "size", "cores", "memory"]
    static let factoryKeys = ["allowed_bases", "allowed_packages", "require_approval", "approved", "output"]
    static let accountingKeys = ["site", "submit_host", "benchmark_type", "benchmark", "infrastructure"]
    static let apiKeys = ["listen", "certificate", "key", "ca", "relays", "max_token_lifetime", "max_operator_token_lifetime"]
    /// libvirt URI schemes a node may use (`sim` is vbatch's simulated driver).
    static let uriSchemes = ["qemu", "qemu+ssh", "qemu+tcp", "qemu+tls", "qemu+unix", "test", "sim"]

    static func read(_ file: SourceFile, diagnostics: Diagnostics) -> ParsedSite {
        let layout = FileLayout(file: file, diagnostics: diagnostics)
        checkTopLevel(file, diagnostics: diagnostics)
        var site = ParsedSite()
        if let r = layout.table("site") {
            site.settings = settings(r, siteFile: file.path)
        }
        if let r = layout.table("factory") {
            site.settings.factory = factory(r, siteFile: file.path)
        }
        if let r = layout.table("accounting") {
            site.settings.accounting = accounting(r)
        }
        if let r = layout.table("api") {
            site.settings.api = api(r, siteFile: file.path)
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

    private static func settings(_ r: TableReader, siteFile: String) -> SiteSettings {
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
            walltimeGrace: r.duration("walltime_grace") ?? defaults.walltimeGrace,
            tls: tls(r, siteFile: siteFile),
            leaseMargin: r.duration("lease_margin") ?? defaults.leaseMargin,
            migrationTimeout: r.duration("migration_timeout") ?? defaults.migrationTimeout)
    }

    /// `tls_ca`, `tls_certificate`, `tls_key`: all three or none; readable files (relative
    /// paths from the site file's directory).
    private static func tls(_ r: TableReader, siteFile: String, keys: [String] = ["tls_ca", "tls_certificate", "tls_key"],
                            purpose: String = "the site CA, this daemon's certificate and key") -> TLSFiles? {
        let given = keys.filter { r.has($0) }
        guard !given.isEmpty else { return nil }
        if given.count < keys.count {
            for key in keys where !r.has(key) {
                r.error(key, "give \(keys[0]), \(keys[1]) and \(keys[2]) together (\(purpose))")
            }
            return nil
        }
        let directory = URL(fileURLWithPath: siteFile).standardizedFileURL.deletingLastPathComponent().path
        var paths: [String] = []
        for key in keys {
            guard let written = r.string(key) else { return nil }
            let path = ImageFile.resolve(written, against: directory)
            if !FileManager.default.isReadableFile(atPath: path) { r.error(key, "\(path): no such readable file") }
            paths.append(path)
        }
        return TLSFiles(ca: paths[0], certificate: paths[1], key: paths[2])
    }

    /// `[api]`: the TLS listener (`listen` with `certificate`, `key` and `ca`), the relays
    /// allowed to assert users, and the longest token lifetimes.
    private static func api(_ r: TableReader, siteFile: String) -> APISettings {
        r.checkKeys(allowed: apiKeys)
        let defaults = APISettings()
        var settings = APISettings(
            tls: tls(r, siteFile: siteFile, keys: ["ca", "certificate", "key"],
                     purpose: "the CA client certificates must chain to, the listener's certificate and key"),
            relays: r.strings("relays") ?? [],
            maxTokenLifetime: r.duration("max_token_lifetime") ?? defaults.maxTokenLifetime,
            maxOperatorTokenLifetime: r.duration("max_operator_token_lifetime") ?? defaults.maxOperatorTokenLifetime)
        if let text = r.string("listen") {
            if let address = HostPort(text) {
                settings.listen = address
                if settings.tls == nil, !["ca", "certificate", "key"].contains(where: r.has) {
                    r.error("listen", "the listener speaks only TLS: give certificate, key and ca too")
                }
            } else {
                r.error("listen", "\"\(text)\" is not HOST:PORT with a port from 1 to 65535 (e.g. \"0.0.0.0:8443\")")
            }
        } else if settings.tls != nil {
            r.error("listen", "certificate, key and ca are given but no listen address (e.g. listen = \"0.0.0.0:8443\")")
        }
        for relay in settings.relays where relay.isEmpty || relay.contains(where: { $0.isWhitespace || $0 == "," }) {
            r.error("relays", "\"\(relay)\" is not a certificate common name (no spaces or commas)")
        }
        return settings
    }

    /// Like ``FileLayout/checkTopLevel(allowed:what:)``, naming `[factory]` as a plain table.
    private static func checkTopLevel(_ file: SourceFile, diagnostics: Diagnostics) {
        for key in file.root.keys where !["site", "node", "vo", "pool", "factory", "accounting", "api"].contains(key) {
            let kind = file.root[key]?.type == .table ? "table [\(KeyPath.format([key]))]" : "top-level key"
            diagnostics.add(file: file.path, line: file.locator.line(of: [key]), key: KeyPath.format([key]),
                            "unknown \(kind): the site file holds only [site], [node.NAME], [vo.NAME], [pool.NAME], [factory], [accounting], [api] tables")
        }
    }

    /// `[factory]`: what `vbatch image build` may build, and where built images go.
    private static func factory(_ r: TableReader, siteFile: String) -> FactoryPolicy {
        r.checkKeys(allowed: factoryKeys)
        var policy = FactoryPolicy()
        if let bases = r.strings("allowed_bases") {
            for base in bases where baseProblem(base) != nil { r.error("allowed_bases", baseProblem(base)!) }
            policy.allowedBases = bases
        }
        if let packages = r.strings("allowed_packages") {
            for package in packages where !isPackagePattern(package) {
                r.error("allowed_packages", "\"\(package)\" is not a Debian package name (optionally ending in *)")
            }
            policy.allowedPackages = packages
        }
        policy.requireApproval = r.bool("require_approval") ?? false
        if r.has("approved"), let value = r.table["approved"], value.array?.isEmpty == true {
            policy.approved = []  // an explicit empty list: nothing approved yet
        } else if let hashes = r.strings("approved") {
            for hash in hashes where !(hash.count == 64 && hash.allSatisfy({ $0.isASCII && $0.isHexDigit })) {
                r.error("approved", "\"\(hash)\" is not a recipe hash (64 hexadecimal digits, as vbatch image build prints it)")
            }
            policy.approved = hashes.map { $0.lowercased() }
        }
        if let output = r.string("output") {
            if output.isEmpty {
                r.error("output", "must not be empty (leave the key out for images/built/)")
            } else {
                let directory = URL(fileURLWithPath: siteFile).standardizedFileURL.deletingLastPathComponent().path
                policy.output = ImageFile.resolve(output, against: directory)
            }
        }
        return policy
    }

    /// `[accounting]`: the site's identity in APEL records.
    private static func accounting(_ r: TableReader) -> AccountingSettings {
        r.checkKeys(allowed: accountingKeys)
        var settings = AccountingSettings()
        for key in ["site", "submit_host"] {
            guard let value = r.string(key) else { continue }
            if let problem = accountingValueProblem(value) {
                r.error(key, problem)
            } else if key == "site" {
                settings.site = value
            } else {
                settings.submitHost = value
            }
        }
        settings.benchmarkType = r.choice("benchmark_type", of: AccountingSettings.benchmarkTypes)
        settings.benchmark = r.positiveNumber("benchmark")
        if r.has("benchmark_type") != r.has("benchmark") {
            r.error(r.has("benchmark") ? "benchmark" : "benchmark_type",
                    "give benchmark_type and benchmark together (e.g. \"HEPSPEC\" and 10.5 per core), or neither")
        }
        settings.infrastructure = r.choice("infrastructure", of: ["grid", "local"]) ?? settings.infrastructure
        return settings
    }

    /// Why `value` cannot be an APEL record value (one `Key: value` line), or `nil`.
    static func accountingValueProblem(_ value: String) -> String? {
        if value.isEmpty { return "must not be empty" }
        if value.count > 255 { return "must be at most 255 characters" }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) || value.trimmingCharacters(in: .whitespaces) != value {
            return "must be one line of printable characters without leading or trailing spaces"
        }
        return nil
    }

    /// Why `base` is not a recipe base (`debian:SUITE` or `image:NAME`), or `nil`.
    static func baseProblem(_ base: String) -> String? {
        if base.hasPrefix("debian:") {
            let suite = base.dropFirst("debian:".count)
            if !suite.isEmpty, suite.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) { return nil }
        } else if base.hasPrefix("image:"), Names.isValid(String(base.dropFirst("image:".count))) {
            return nil
        }
        return "\"\(base)\" is not a base (write \"debian:SUITE\" such as \"debian:bookworm\", or \"image:NAME\")"
    }

    /// A Debian package name (`[a-z0-9][a-z0-9+.-]+`), optionally ending in `*`.
    static func isPackagePattern(_ pattern: String) -> Bool {
        let name = pattern.hasSuffix("*") ? String(pattern.dropLast()) : pattern
        guard let first = name.unicodeScalars.first else { return pattern == "*" }
        let ok: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        return ok(first) && name.unicodeScalars.allSatisfy { ok($0) || $0 == "+" || $0 == "." || $0 == "-" }
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
            domainType: r.choice("domain_type", of: ["qemu", "kvm"]) ?? "qemu",
            imageCacheMB: r.memory("image_cache") ?? NodeConfig.defaultImageCacheMB)
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

extension ConfigLoader {
    /// Reads and checks only the site file: its settings (with the `[factory]` policy) and
    /// VOs. For tools such as `vbatch image build`, which need the site's policy while the
    /// queues may still name an image that is not built yet.
    ///
    /// The site file is found as by ``load(directory:siteFile:)``.
    /// - Throws: ``ConfigErrors`` for every problem in the site file.
    public static func loadSite(directory: String, siteFile: String? = nil) throws -> (settings: SiteSettings, vos: [VOConfig]) {
        let diagnostics = Diagnostics()
        let directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let candidates = [directory + "/site.toml", directory + "/queues/site.toml"]
        let path = siteFile ?? candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[0]
        diagnostics.register(file: path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors(errors: [ConfigError(file: path, line: 0, key: "", message: "site file not found or unreadable")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors(errors: [ConfigError(file: path, line: 0, key: "", message: "not valid UTF-8 text")])
        }
        let root: TOMLTable
        do {
            root = try TOMLGuard.parse(text)
        } catch let error as TOMLGuardError {
            throw ConfigErrors(errors: [ConfigError(file: path, line: error.line, key: "", message: error.description)])
        } catch let error as TOMLParseError {
            throw ConfigErrors(errors: [ConfigError(file: path, line: max(1, error.source.begin.line), key: "",
                                                    message: "TOML syntax error: \(error.description)")])
        }
        let site = SiteFile.read(SourceFile(path: path, root: root, locator: SourceLocator(text: text)),
                                 diagnostics: diagnostics)
        guard diagnostics.errors.isEmpty else { throw ConfigErrors(errors: diagnostics.sorted) }
        return (site.settings, site.vos.map(\.config))
    }
}
