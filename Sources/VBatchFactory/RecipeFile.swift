import Foundation
import TOMLKit
import VBatchConfig
import VBatchCore

/// Reads a recipe, `images/recipes/NAME.toml`: top-level keys, one recipe per file.
///
/// ```toml
/// description = "Debian 12 with Python 3"
/// base = "debian:bookworm"          # or "image:NAME", an image of the catalogue
/// packages = ["python3"]
/// vos = ["cms"]                     # who may use the image; leave out for everyone
/// agent = "installed"               # or "cloud-init": no agent in the image
/// memory = "512mb"
/// size = "2gb"                      # root file system; leave out to fit the content
/// setup = """
/// echo 'export ANSWER=42' >/etc/profile.d/answer.sh
/// """
///
/// [files]
/// "/etc/motd" = "CMS analysis image\n"
/// "/usr/local/bin/hello" = { content = "#!/bin/sh\necho hello\n", mode = 0o755 }
/// ```
///
/// Errors are ``ConfigErrors`` located like the rest of the configuration:
/// `FILE:LINE: KEY: MESSAGE`, every problem at once.
public enum RecipeFile {
    static let keys = ["name", "description", "base", "packages", "files", "setup", "vos", "agent", "memory", "size"]
    /// Image paths the factory itself writes (the agent and its boot glue).
    static let reservedPaths = ["/usr/lib/vbatch", "/usr/local/sbin/vbatch-guest", "/usr/local/sbin/poweroff",
                                "/usr/local/sbin/uevent", "/usr/local/sbin/kill"]
    /// File systems mounted over these at boot: files written there would never be seen.
    static let volatilePaths = ["/proc", "/sys", "/dev", "/run", "/tmp"]
    static let minSizeMB = 256
    static let maxSizeMB = 2 << 20

    /// Reads and checks the recipe in `path`; its name defaults to the file name without `.toml`.
    public static func load(path: String) throws -> Recipe {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors(errors: [ConfigError(file: path, line: 0, key: "", message: "cannot read file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors(errors: [ConfigError(file: path, line: 0, key: "", message: "not valid UTF-8 text")])
        }
        return try parse(text, path: path)
    }

    /// Checks the recipe `text`; `path` is used in messages and for the default name.
    public static func parse(_ text: String, path: String) throws -> Recipe {
        let root: TOMLTable
        do {
            root = try TOMLGuard.parse(text)
        } catch let error as TOMLGuardError {
            throw ConfigErrors(errors: [ConfigError(file: path, line: error.line, key: "", message: error.description)])
        } catch let error as TOMLParseError {
            let message = error.description.hasPrefix("Error while ")
                ? "TOML syntax error " + error.description.dropFirst("Error ".count)
                : "TOML syntax error: " + error.description
            throw ConfigErrors(errors: [ConfigError(file: path, line: max(1, error.source.begin.line), key: "",
                                                    message: message)])
        } catch {
            throw ConfigErrors(errors: [ConfigError(file: path, line: 0, key: "", message: "cannot parse: \(error)")])
        }
        var reader = Reader(path: path, root: root, locator: SourceLocator(text: text))
        let recipe = reader.recipe()
        guard reader.errors.isEmpty else {
            throw ConfigErrors(errors: reader.errors.sorted { $0.line < $1.line })
        }
        return recipe!
    }

    /// `NAME` of `…/NAME.toml`.
    static func defaultName(_ path: String) -> String {
        var name = URL(fileURLWithPath: path).lastPathComponent
        if name.hasSuffix(".toml") { name.removeLast(5) }
        return name
    }

    /// Why `path` cannot be a file of the image, or `nil`.
    static func pathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "must be an absolute path inside the image" }
        guard path.utf8.count <= 4096 else { return "path longer than 4096 bytes" }
        guard !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            return "path holds a control character"
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard !components.isEmpty, components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            return "path must be normalised: no empty, '.' or '..' components, no trailing '/'"
        }
        guard components.allSatisfy({ $0.utf8.count <= 255 }) else { return "path component longer than 255 bytes" }
        for prefix in volatilePaths where path == prefix || path.hasPrefix(prefix + "/") {
            return "\(prefix) is mounted over at boot: a file there would never be seen"
        }
        for prefix in reservedPaths where path == prefix || path.hasPrefix(prefix + "/") {
            return "\(prefix) belongs to the vbatch guest agent, which the factory installs itself"
        }
        return nil
    }

    private struct Reader {
        let path: String
        let root: TOMLTable
        let locator: SourceLocator
        var errors: [ConfigError] = []

        mutating func error(_ keyPath: [String], _ message: String) {
            errors.append(ConfigError(file: path, line: locator.line(of: keyPath), key: Self.format(keyPath),
                                      message: message))
        }

        /// The recipe, or `nil` when something is wrong (then `errors` says what).
        mutating func recipe() -> Recipe? {
            for key in root.keys where !keys.contains(key) {
                if let guess = Suggestion.closest(to: key, in: keys) {
                    error([key], "unknown key (did you mean \(guess)?)")
                } else {
                    error([key], "unknown key (valid keys: \(keys.joined(separator: ", ")))")
                }
            }
            var name = defaultName(path)
            if let written = string("name") { name = written }
            if !RecipeNames.isValid(name) {
                if root["name"] == nil {
                    errors.append(ConfigError(file: path, line: 1, key: "name",
                                              message: "the file name gives the image name \"\(name)\": " + RecipeNames.rule
                                                  + " (rename the file or set name = \"…\")"))
                } else {
                    error(["name"], RecipeNames.rule)
                }
            }
            var base: Recipe.Base?
            if let text = string("base") {
                base = Recipe.Base(text)
                if base == nil {
                    error(["base"], "\"\(text)\" is not a base (write \"debian:SUITE\" such as \"debian:bookworm\", or \"image:NAME\" for an image of the catalogue)")
                }
            } else if root["base"] == nil {
                errors.append(ConfigError(file: path, line: 1, key: "base",
                                          message: "missing required key (\"debian:bookworm\" or \"image:NAME\")"))
            }
            let packages = strings("packages", allowEmpty: true) ?? []
            for package in packages where !RecipeNames.isPackage(package) {
                error(["packages"], "\"\(package)\" is not a Debian package name")
            }
            let vos = strings("vos", allowEmpty: false)
            for vo in vos ?? [] where !RecipeNames.isValid(vo) {
                error(["vos"], "\"\(vo)\": " + RecipeNames.rule)
            }
            var setup: String?
            if let script = string("setup") {
                if script.allSatisfy(\.isWhitespace) {
                    error(["setup"], "must not be empty (leave the key out instead)")
                } else if script.unicodeScalars.contains("\0") {
                    error(["setup"], "must not contain NUL")
                } else {
                    setup = script
                }
            }
            var agent = ImageConfig.Agent.installed
            if let text = string("agent") {
                if let value = ImageConfig.Agent(rawValue: text) {
                    agent = value
                } else {
                    error(["agent"], "\"\(text)\" is not one of \"installed\" (the image carries the agent), \"cloud-init\" (cloud-init installs it at boot)")
                }
            }
            let memory = quantity("memory", minimum: 64, maximum: Quantities.maxMemoryMB, what: "a memory size such as \"512mb\"")
            let size = quantity("size", minimum: minSizeMB, maximum: maxSizeMB, what: "a disk size such as \"2gb\"")
            let files = self.files()
            guard errors.isEmpty, let base else { return nil }
            return Recipe(name: name, description: string("description") ?? "", base: base, packages: packages,
                          files: files, setup: setup, vos: vos, agent: agent,
                          memoryMB: memory ?? Recipe.defaultMemoryMB, sizeMB: size)
        }

        mutating func string(_ key: String) -> String? {
            guard let value = root[key] else { return nil }
            guard let s = value.string else {
                error([key], "must be a string, not \(Self.describe(value.type))")
                return nil
            }
            return s
        }

        mutating func strings(_ key: String, allowEmpty: Bool) -> [String]? {
            guard let value = root[key] else { return nil }
            guard let array = value.array else {
                error([key], "must be a list of strings, not \(Self.describe(value.type))")
                return nil
            }
            var out: [String] = []
            for element in array {
                guard let s = element.string else {
                    error([key], "must be a list of strings, but holds \(Self.describe(element.type))")
                    return nil
                }
                if out.contains(s) { error([key], "\"\(s)\" is listed twice") } else { out.append(s) }
            }
            if out.isEmpty, !allowEmpty {
                error([key], "must not be empty (leave the key out instead)")
                return nil
            }
            return out
        }

        /// A size in MiB: `"512mb"`, `"2gb"`, or an integer of MiB.
        mutating func quantity(_ key: String, minimum: Int, maximum: Int, what: String) -> Int? {
            guard let value = root[key] else { return nil }
            let mb: Int?
            if let s = value.string {
                mb = Quantities.parseMemoryMB(s)
                if mb == nil {
                    error([key], "\"\(s)\" is not \(what)")
                    return nil
                }
            } else if let i = value.int {
                mb = i
            } else {
                error([key], "must be \(what), not \(Self.describe(value.type))")
                return nil
            }
            guard let mb, mb >= minimum, mb <= maximum else {
                error([key], "must be between \(minimum) MiB and \(maximum) MiB")
                return nil
            }
            return mb
        }

        /// `[files]`: path = "content", or path = { content = "…", mode = 0o755 }.
        mutating func files() -> [Recipe.File] {
            guard let value = root["files"] else { return [] }
            guard let table = value.table else {
                error(["files"], "must be a table, not \(Self.describe(value.type)): write [files] and \"/path\" = \"content\" lines below it")
                return []
            }
            var out: [Recipe.File] = []
            for path in table.keys {
                let keyPath = ["files", path]
                if let problem = pathProblem(path) {
                    error(keyPath, problem)
                    continue
                }
                guard let entry = table[path] else { continue }
                if let content = entry.string {
                    out.append(Recipe.File(path: path, content: content))
                } else if let inner = entry.table {
                    for key in inner.keys where key != "content" && key != "mode" {
                        error(keyPath + [key], "unknown key (a file has content and mode)")
                    }
                    guard let content = inner["content"]?.string else {
                        error(keyPath + ["content"], inner["content"] == nil ? "missing required key" : "must be a string")
                        continue
                    }
                    var mode = 0o644
                    if let m = inner["mode"] {
                        if let i = m.int, (0...0o7777).contains(i) {
                            mode = i
                        } else if let s = m.string, let i = Int(s, radix: 8), (0...0o7777).contains(i) {
                            mode = i
                        } else {
                            error(keyPath + ["mode"], "must be permission bits such as 0o755 or \"0755\"")
                            continue
                        }
                    }
                    out.append(Recipe.File(path: path, content: content, mode: mode))
                } else {
                    error(keyPath, "must be the file's content (a string) or { content = \"…\", mode = 0o755 }, not \(Self.describe(entry.type))")
                }
            }
            return out
        }

        static func describe(_ type: TOMLType) -> String { type.phrase }

        /// Dotted key, quoting segments that are not bare TOML keys (`files."/etc/motd"`).
        static func format(_ segments: [String]) -> String {
            segments.map { segment in
                let bare = !segment.isEmpty && segment.allSatisfy {
                    $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-")
                }
                return bare ? segment : "\"\(segment.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
            }.joined(separator: ".")
        }

    }
}
