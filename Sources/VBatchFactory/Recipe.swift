import VBatchCore

/// A VO's description of the environment it wants: a base, packages, files and a setup
/// script. ``RecipeFile`` reads it from `images/recipes/NAME.toml`; ``ImageFactory``
/// builds it into a qcow2 image and a catalogue entry.
public struct Recipe: Sendable, Equatable {
    /// What the image starts from.
    public enum Base: Sendable, Equatable, CustomStringConvertible {
        /// A minimal Debian of this suite, made by `debootstrap --variant=minbase` from the
        /// host's own Debian mirror.
        case debian(suite: String)
        /// An image of the catalogue (`images/NAME.toml`) whose root file system is ext4.
        case image(name: String)

        public var description: String {
            switch self {
            case .debian(let suite): "debian:\(suite)"
            case .image(let name): "image:\(name)"
            }
        }

        /// Parses `debian:SUITE` or `image:NAME`; `nil` for anything else.
        public init?(_ text: String) {
            if text.hasPrefix("debian:") {
                let suite = String(text.dropFirst("debian:".count))
                guard let first = suite.unicodeScalars.first, Self.isSuiteChar(first), first != "-",
                      suite.count <= 64, suite.unicodeScalars.allSatisfy(Self.isSuiteChar) else { return nil }
                self = .debian(suite: suite)
            } else if text.hasPrefix("image:") {
                let name = String(text.dropFirst("image:".count))
                guard RecipeNames.isValid(name) else { return nil }
                self = .image(name: name)
            } else {
                return nil
            }
        }

        private static func isSuiteChar(_ s: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(s) || ("0"..."9").contains(s) || s == "-"
        }
    }

    /// A file written into the image.
    public struct File: Sendable, Equatable {
        /// Absolute path inside the image.
        public var path: String
        public var content: String
        /// Permission bits (default 0644).
        public var mode: Int

        public init(path: String, content: String, mode: Int = 0o644) {
            self.path = path
            self.content = content
            self.mode = mode
        }
    }

    /// The catalogue name of the image (`--env NAME`): the `name` key, else the file name.
    public var name: String
    public var description: String
    public var base: Base
    /// Debian packages installed with `apt-get install --no-install-recommends`; sorted, no duplicates.
    public var packages: [String]
    /// Files written after the packages are installed; sorted by path.
    public var files: [File]
    /// Shell script run as root inside the image (chroot) after the files are written.
    public var setup: String?
    /// VOs allowed to use the image; `nil`: everyone.
    public var vos: [String]?
    /// How the guest agent gets into the VM: installed into the image, or by cloud-init.
    public var agent: ImageConfig.Agent
    /// Memory the guest needs (the catalogue entry's `memory`).
    public var memoryMB: Int
    /// Size of the image's root file system; `nil`: what the content needs plus room to work.
    public var sizeMB: Int?

    public init(name: String, description: String = "", base: Base, packages: [String] = [], files: [File] = [],
                setup: String? = nil, vos: [String]? = nil, agent: ImageConfig.Agent = .installed,
                memoryMB: Int = Recipe.defaultMemoryMB, sizeMB: Int? = nil) {
        self.name = name
        self.description = description
        self.base = base
        self.packages = Array(Set(packages)).sorted()
        self.files = files.sorted { $0.path < $1.path }
        self.setup = setup
        self.vos = vos?.sorted()
        self.agent = agent
        self.memoryMB = memoryMB
        self.sizeMB = sizeMB
    }

    public static let defaultMemoryMB = 512

    /// The recipe as canonical text: one `key: value` line per field in a fixed order,
    /// values escaped onto one line, lists sorted. Formatting, comments and the order of
    /// packages, files and VOs in the file do not change it; any value does.
    public var normalised: String {
        var lines = ["vbatch-recipe 1"]
        lines.append("name: " + Self.escape(name))
        lines.append("description: " + Self.escape(description))
        lines.append("base: " + Self.escape(base.description))
        lines.append("packages: " + packages.map(Self.escape).joined(separator: " "))
        for file in files {
            lines.append("file: " + Self.escape(file.path) + " mode " + String(file.mode, radix: 8)
                + " content " + Self.escape(file.content))
        }
        lines.append("setup: " + (setup.map(Self.escape) ?? "-"))
        lines.append("vos: " + (vos.map { $0.map(Self.escape).joined(separator: " ") } ?? "-"))
        lines.append("agent: " + agent.rawValue)
        lines.append("memory_mb: \(memoryMB)")
        lines.append("size_mb: " + (sizeMB.map(String.init) ?? "auto"))
        return lines.joined(separator: "\n") + "\n"
    }

    /// SHA-256 of ``normalised``: what the site's `[factory] approved` list names.
    public var hash: String { SHA256.hex(normalised) }

    /// `"…"` with `\`, `"` and control characters escaped, so a value is one line.
    static func escape(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Names of images and VOs, as in the rest of the configuration.
enum RecipeNames {
    static let rule = "invalid name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`
    static func isValid(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard (1...64).contains(scalars.count), isAlphanumeric(scalars[0]) else { return false }
        return scalars.allSatisfy { isAlphanumeric($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    /// A Debian package name: `[a-z0-9][a-z0-9+.-]+`.
    static func isPackage(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard (2...128).contains(scalars.count), isLowerAlphanumeric(scalars[0]) else { return false }
        return scalars.allSatisfy { isLowerAlphanumeric($0) || $0 == "+" || $0 == "." || $0 == "-" }
    }

    private static func isAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
    }

    private static func isLowerAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("0"..."9").contains(s)
    }
}
