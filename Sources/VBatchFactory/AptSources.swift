import Foundation

/// The Debian mirror this host's apt uses, read from `/etc/apt/sources.list` and
/// `/etc/apt/sources.list.d/` (one-line `*.list` and deb822 `*.sources` files). The
/// factory's debootstrap and the images' own apt use exactly these URIs: the factory
/// never names a mirror of its own.
public struct AptSources: Sendable, Equatable {
    /// One `deb` source: a URI and its suites.
    public struct Entry: Sendable, Equatable {
        public var uri: String
        public var suites: [String]
        public var components: [String]
        /// `Signed-By` / `[signed-by=…]`, when it names a keyring file.
        public var keyring: String?
    }

    public var entries: [Entry]

    /// What the factory uses for one Debian suite.
    public struct Mirror: Sendable, Equatable {
        /// The archive URI for `SUITE` (and `SUITE-updates`).
        public var uri: String
        /// The security archive URI for `SUITE-security`, when the host has one.
        public var securityURI: String?
        public var components: [String]
        /// Keyring debootstrap checks the Release file with.
        public var keyring: String
        /// Whether the host also uses `SUITE-updates`-style suites.
        public var updates: Bool

        /// `sources.list` lines for `suite` inside the image.
        public func sourcesList(suite: String) -> String {
            let parts = components.joined(separator: " ")
            var lines = ["deb \(uri) \(suite) \(parts)"]
            if updates { lines.append("deb \(uri) \(suite)-updates \(parts)") }
            if let securityURI { lines.append("deb \(securityURI) \(suite)-security \(parts)") }
            return lines.joined(separator: "\n") + "\n"
        }
    }

    static let defaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

    /// Reads the host's apt sources under `root` (default `/`); disabled files (not
    /// ending in `.list` or `.sources`) are skipped as apt skips them.
    public static func host(root: String = "") -> AptSources {
        var entries: [Entry] = []
        if let text = try? String(contentsOfFile: root + "/etc/apt/sources.list", encoding: .utf8) {
            entries += parseOneLine(text)
        }
        let directory = root + "/etc/apt/sources.list.d"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        for name in names where !name.hasPrefix(".") {
            guard let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) else { continue }
            if name.hasSuffix(".list") { entries += parseOneLine(text) }
            if name.hasSuffix(".sources") { entries += parseDeb822(text) }
        }
        return AptSources(entries: entries)
    }

    /// The mirror for Debian `suite`: the URI of the entry that serves a plain Debian
    /// suite (not `-security`/`-updates`/`-backports`), preferring one that lists `suite`.
    public func mirror(for suite: String) -> Mirror? {
        func isPlain(_ s: String) -> Bool { !s.contains("-") && !s.contains("/") }
        let debian = entries.filter { $0.suites.contains(where: isPlain) && $0.components.contains("main") }
        guard let main = debian.first(where: { $0.suites.contains(suite) }) ?? debian.first else { return nil }
        let security = entries.first { $0.suites.contains { $0.hasSuffix("-security") || $0.hasSuffix("/updates") } }
        let updates = entries.contains { $0.uri == main.uri && $0.suites.contains { $0.hasSuffix("-updates") } }
        let keyring = main.keyring.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil } ?? Self.defaultKeyring
        return Mirror(uri: main.uri, securityURI: security?.uri, components: ["main"], keyring: keyring, updates: updates)
    }

    /// `deb [options] URI SUITE COMPONENT…` lines.
    static func parseOneLine(_ text: String) -> [Entry] {
        var out: [Entry] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            line = line.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("deb ") || line.hasPrefix("deb\t") else { continue }
            var rest = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
            var keyring: String?
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                let options = rest[rest.index(after: rest.startIndex)..<close]
                for option in options.split(whereSeparator: \.isWhitespace) where option.lowercased().hasPrefix("signed-by=") {
                    keyring = String(option.dropFirst("signed-by=".count))
                }
                rest = rest[rest.index(after: close)...].trimmingCharacters(in: .whitespaces)
            }
            let words = rest.split(whereSeparator: \.isWhitespace).map(String.init)
            guard words.count >= 3 else { continue }
            out.append(Entry(uri: trimSlash(words[0]), suites: [words[1]], components: Array(words[2...]), keyring: keyring))
        }
        return out
    }

    /// deb822 stanzas (`Types: deb`, `URIs:`, `Suites:`, `Components:`, `Signed-By:`, `Enabled:`).
    static func parseDeb822(_ text: String) -> [Entry] {
        var out: [Entry] = []
        var fields: [String: String] = [:]
        var lastKey: String?
        func flush() {
            defer { fields = [:]; lastKey = nil }
            guard (fields["types"] ?? "").split(separator: " ").contains("deb"),
                  (fields["enabled"] ?? "yes").lowercased() != "no" else { return }
            let suites = (fields["suites"] ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
            let components = (fields["components"] ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
            let signedBy = fields["signed-by"].map { $0.trimmingCharacters(in: .whitespaces) }
            let keyring = signedBy.flatMap { $0.hasPrefix("/") && !$0.contains("\n") ? $0 : nil }
            for uri in (fields["uris"] ?? "").split(whereSeparator: \.isWhitespace) where !suites.isEmpty {
                out.append(Entry(uri: trimSlash(String(uri)), suites: suites, components: components, keyring: keyring))
            }
        }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.trimmingCharacters(in: .whitespaces).isEmpty { flush(); continue }
            if line.hasPrefix("#") { continue }
            if line.first == " " || line.first == "\t" {
                if let lastKey { fields[lastKey, default: ""] += "\n" + line.trimmingCharacters(in: .whitespaces) }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].lowercased()
            fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            lastKey = key
        }
        flush()
        return out
    }

    private static func trimSlash(_ uri: String) -> String {
        var uri = uri
        while uri.hasSuffix("/") && uri.count > 1 { uri.removeLast() }
        return uri
    }
}
