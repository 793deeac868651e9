import Foundation
import VBatchConfig
import VBatchCore
import VBatchDrivers

/// Builds a catalogue image from a ``Recipe``: the VM factory of the design.
///
/// 1. the base: `debootstrap --variant=minbase` from the host's own Debian mirror
///    (``AptSources``), or a copy of a catalogue image's ext4 root;
/// 2. the root file system (`images/factory/build-root`, in a private mount and PID
///    namespace): packages, files, the setup script, the guest agent and its boot glue;
/// 3. `mkfs.ext4 -d` into a raw file, `qemu-img convert` to qcow2;
/// 4. the boot files: the test guest's kernel and its initramfs with the factory's
///    `/init` appended (it mounts the qcow2 root, `/dev/vda`, and starts the image's init);
/// 5. `BUILT/NAME-KEY/` published by one rename, then the catalogue entry `images/NAME.toml`.
///
/// Builds are cached by the build key (``buildKey(for:)``): building the same recipe again
/// with the same agent and glue does nothing and says so. A failed build leaves nothing:
/// everything happens in a hidden work directory that is removed on failure.
public final class ImageFactory: @unchecked Sendable {
    /// Bumped whenever what the factory does to an image changes (with the glue files, it
    /// is part of every build key).
    public static let glueVersion = 1

    /// Where the catalogue lives (`DIR/images`); entries are written here.
    public let catalogueDirectory: String
    /// Where built images go (default `DIR/images/built`).
    public let outputDirectory: String
    public let policy: FactoryPolicy
    /// The current catalogue (for `image:NAME` bases and name clashes); `nil` if unknown.
    public let catalogue: [ImageConfig]?
    /// VOs the site defines (a recipe's `vos` must be among them); `nil` if unknown.
    public let knownVOs: [String]?
    public let inputs: FactoryInputs
    public let sources: AptSources
    private let progress: (String) -> Void
    private let verbose: Bool

    /// What a build did.
    public struct Result: Sendable, Equatable {
        public var name: String
        /// The image was already built: nothing was done.
        public var cached: Bool
        public var recipeHash: String
        public var buildKey: String
        /// `BUILT/NAME-KEY/`, holding `disk.qcow2`, `vmlinuz`, `initrd.img`, `build.toml`, `packages.txt`.
        public var imageDirectory: String
        public var disk: String
        public var catalogueEntry: String
        public var sha256: String
        public var seconds: Double
    }

    /// - Parameters:
    ///   - progress: receives one line per step (and, with `verbose`, every line of the tools).
    public init(catalogueDirectory: String, outputDirectory: String? = nil, policy: FactoryPolicy = FactoryPolicy(),
                catalogue: [ImageConfig]? = nil, knownVOs: [String]? = nil, inputs: FactoryInputs,
                sources: AptSources = .host(), verbose: Bool = false, progress: @escaping (String) -> Void = { _ in }) {
        let catalogueDirectory = Self.absolute(catalogueDirectory)
        self.catalogueDirectory = catalogueDirectory
        self.outputDirectory = Self.absolute(outputDirectory ?? policy.output ?? catalogueDirectory + "/built")
        self.policy = policy
        self.catalogue = catalogue
        self.knownVOs = knownVOs
        self.inputs = inputs
        self.sources = sources
        self.verbose = verbose
        self.progress = progress
    }

    // MARK: - Keys

    /// SHA-256 over everything that decides the image's contents: the normalised recipe,
    /// the agent, the glue files and their version, the busybox put into the image, and
    /// for `image:NAME` bases the base disk's sha256. Not the kernel: it is not in the image.
    public func buildKey(for recipe: Recipe) throws -> String {
        var text = "vbatch-factory-build \(Self.glueVersion)\n"
        text += "recipe \(recipe.hash)\n"
        text += "agent \(SHA256.hex(try read(inputs.agent)))\n"
        for name in FactoryInputs.glueFiles {
            text += "glue \(name) \(SHA256.hex(try read(inputs.glueDirectory + "/" + name)))\n"
        }
        if recipe.agent == .installed {
            text += "busybox \(SHA256.hex(try busybox()))\n"
        }
        if case .image(let name) = recipe.base {
            let base = try baseImage(name)
            text += "base-disk \(try base.sha256 ?? SHA256.file(base.disk!))\n"
        }
        return SHA256.hex(text)
    }

    // MARK: - Build

    /// Builds `recipe` unless it is built already (or `rebuild`), and writes its catalogue entry.
    /// - Parameter recipeFile: where the recipe came from, for the entry's comment.
    @discardableResult
    public func build(_ recipe: Recipe, recipeFile: String? = nil, rebuild: Bool = false) throws -> Result {
        let started = Date()
        let name = recipe.name
        func say(_ line: String) { progress("\(name): \(line)") }

        let refusals = policy.refusals(for: recipe)
        guard refusals.isEmpty else { throw FactoryError.refused(recipe: name, reasons: refusals) }
        if let known = knownVOs, let vos = recipe.vos {
            let unknown = vos.filter { !known.contains($0) }
            guard unknown.isEmpty else {
                throw FactoryError.invalid("recipe \(name): vos: unknown VO \(unknown.joined(separator: ", "))"
                    + " (the site file defines: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
            }
        }
        let entryPath = catalogueDirectory + "/" + name + ".toml"
        guard CatalogueEntry.isOurs(entryPath) else {
            throw FactoryError.invalid("\(entryPath) exists and was not written by vbatch image build: "
                + "rename the recipe (name = \"…\") or move that file away")
        }
        if let catalogue, catalogue.contains(where: { $0.name == name }), !FileManager.default.fileExists(atPath: entryPath) {
            throw FactoryError.invalid("image \(name) is already defined in another file of \(catalogueDirectory)")
        }
        try inputs.check()

        say("recipe sha256 \(recipe.hash)")
        let key = try buildKey(for: recipe)
        let directoryName = "\(name)-\(key.prefix(16))"
        let final = outputDirectory + "/" + directoryName
        try makeDirectory(outputDirectory)
        let lock = try Lock(path: outputDirectory + "/.\(name).lock", what: "a build of \(name)")
        defer { lock.release() }

        if !rebuild, let cached = try cachedResult(recipe: recipe, key: key, directory: final, recipeFile: recipeFile,
                                                   entryPath: entryPath, started: started) {
            say("up to date (build \(key.prefix(16))): nothing to build")
            return cached
        }

        let work = outputDirectory + "/.building-" + directoryName
        try removeTree(work)
        try makeDirectory(work)
        do {
            let result = try buildInto(work: work, final: final, recipe: recipe, key: key, recipeFile: recipeFile,
                                       entryPath: entryPath, started: started, say: say)
            return result
        } catch {
            try? removeTree(work)
            throw error
        }
    }

    private func buildInto(work: String, final: String, recipe: Recipe, key: String, recipeFile: String?,
                           entryPath: String, started: Date, say: (String) -> Void) throws -> Result {
        let tree = work + "/tree", stage = work + "/stage", log = work + "/build.log"
        try makeDirectory(tree)
        try makeDirectory(stage)
        let aptCache = outputDirectory + "/.cache/apt"
        try makeDirectory(aptCache)
        let total = 6

        // 1. The base.
        var suite: String?
        switch recipe.base {
        case .debian(let s):
            suite = s
            guard let mirror = sources.mirror(for: s) else {
                throw FactoryError.missing("no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/")
            }
            say("[1/\(total)] debootstrap \(s) (minbase) from \(mirror.uri)")
            guard let debootstrap = Command.find("debootstrap") else {
                throw FactoryError.missing("debootstrap not found (apt-get install debootstrap)")
            }
            try isolated("debootstrap \(s)", [debootstrap, "--variant=minbase", "--keyring=\(mirror.keyring)",
                                              "--cache-dir=\(aptCache)", s, tree, mirror.uri], log: log)
        case .image(let baseName):
            let base = try baseImage(baseName)
            say("[1/\(total)] copying the root file system of image \(baseName)")
            try copyRoot(of: base, into: tree, work: work, log: log)
            suite = Self.codename(tree: tree)
        }

        // 2. The root file system.
        say("[2/\(total)] packages, files, setup script, agent")
        try stageInputs(recipe, stage: stage, suite: suite, base: recipe.base)
        try isolated("building the root file system", [inputs.glueDirectory + "/build-root", tree, stage, aptCache],
                     log: log) { line in
            if line.hasPrefix("==> ") { say("      " + line.dropFirst(4)) }
        }

        // 3. ext4.
        let used = try usedMB(tree)
        let sizeMB: Int
        if let wanted = recipe.sizeMB {
            guard wanted >= used + used / 10 + 64 else {
                throw FactoryError.invalid("recipe \(recipe.name): size \(wanted) MiB is too small: the image holds \(used) MiB"
                    + " (give at least \(used + used / 10 + 64) MiB, or leave size out)")
            }
            sizeMB = wanted
        } else {
            sizeMB = max(1024, (used + used / 5 + 512 + 255) / 256 * 256)
        }
        say("[3/\(total)] ext4 file system of \(sizeMB) MiB (\(used) MiB used)")
        let raw = work + "/root.raw"
        let uuid = Self.uuid(from: key)
        try Command.check("mkfs.ext4", Command.find("mkfs.ext4") ?? "/usr/sbin/mkfs.ext4",
                          ["-q", "-F", "-L", "vbatch-root", "-m", "0", "-U", uuid, "-E", "root_owner=0:0,hash_seed=\(uuid)",
                           "-d", tree, raw, "\(sizeMB)M"], log: log)
        try removeTree(tree)

        // 4. qcow2.
        say("[4/\(total)] converting to qcow2")
        let disk = work + "/disk.qcow2"
        try Command.check("qemu-img convert", "/usr/bin/qemu-img",
                          ["convert", "-q", "-f", "raw", "-O", "qcow2", "-o", "compat=1.1", raw, disk], log: log)
        try? FileManager.default.removeItem(atPath: raw)
        let sha256 = try SHA256.file(disk)

        // 5. Boot files.
        say("[5/\(total)] boot files: the test guest's kernel, its initramfs with the factory's /init")
        try FileManager.default.copyItem(atPath: inputs.kernel, toPath: work + "/vmlinuz")
        let stage1 = Cpio.archive([Cpio.Entry(name: "init", mode: 0o100755, contents: try read(inputs.glueDirectory + "/initramfs-init"))])
        let gzipped = try Command.check("gzip", "/usr/bin/gzip", ["-n", "-9", "-c"], input: stage1).outputData
        try write(Array(try read(inputs.initrd)) + Array(gzipped), to: work + "/initrd.img")

        // Metadata, then publish.
        let packages = (try? String(contentsOfFile: stage + "/packages.txt", encoding: .utf8)) ?? ""
        try write(Array(packages.utf8), to: work + "/packages.txt")
        try write(Array(recipe.normalised.utf8), to: work + "/recipe.txt")
        let diskBytes = (try? FileManager.default.attributesOfItem(atPath: disk)[.size] as? Int) ?? 0
        let seconds = Date().timeIntervalSince(started)
        let metadata = [
            "# What vbatch image build made here (the directory is published whole, by one rename).",
            "name = " + TOMLString.quoted(recipe.name),
            "recipe = " + TOMLString.quoted(recipeFile ?? ""),
            "recipe_hash = " + TOMLString.quoted(recipe.hash),
            "build_key = " + TOMLString.quoted(key),
            "base = " + TOMLString.quoted(recipe.base.description),
            "disk_sha256 = " + TOMLString.quoted(sha256),
            "disk_bytes = \(diskBytes)",
            "size_mb = \(sizeMB)",
            "built_at = \(Int(Date().timeIntervalSince1970))",
            "build_seconds = \(Int(seconds.rounded()))",
        ]
        try write(Array((metadata.joined(separator: "\n") + "\n").utf8), to: work + "/build.toml")
        for leftover in ["stage", "build.log", "base.raw", "base-root"] { try removeTree(work + "/" + leftover) }
        try syncDirectory(work)
        try publish(work: work, final: final)

        // 6. The catalogue entry.
        let entry = try writeEntry(recipe: recipe, key: key, directory: final, sha256: sha256, recipeFile: recipeFile,
                                   entryPath: entryPath)
        say("[6/\(total)] catalogue entry \(entry)")
        let elapsed = Date().timeIntervalSince(started)
        say(String(format: "built in %.1f s: %@ (%d MiB)", elapsed, final + "/disk.qcow2", diskBytes >> 20))
        return Result(name: recipe.name, cached: false, recipeHash: recipe.hash, buildKey: key, imageDirectory: final,
                      disk: final + "/disk.qcow2", catalogueEntry: entry, sha256: sha256, seconds: elapsed)
    }

    /// The result of an earlier build with the same key, rewriting its catalogue entry if needed.
    private func cachedResult(recipe: Recipe, key: String, directory: String, recipeFile: String?, entryPath: String,
                              started: Date) throws -> Result? {
        let metadata = directory + "/build.toml"
        guard let text = try? String(contentsOfFile: metadata, encoding: .utf8),
              FileManager.default.fileExists(atPath: directory + "/disk.qcow2") else { return nil }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("disk_sha256 = ") }) else { return nil }
        let sha256 = line.dropFirst("disk_sha256 = ".count).filter(\.isHexDigit)
        guard sha256.count == 64 else { return nil }
        let entry = try writeEntry(recipe: recipe, key: key, directory: directory, sha256: String(sha256),
                                   recipeFile: recipeFile, entryPath: entryPath)
        return Result(name: recipe.name, cached: true, recipeHash: recipe.hash, buildKey: key, imageDirectory: directory,
                      disk: directory + "/disk.qcow2", catalogueEntry: entry, sha256: String(sha256),
                      seconds: Date().timeIntervalSince(started))
    }

    /// Writes `images/NAME.toml` (atomically, only if it changes) and returns its path.
    private func writeEntry(recipe: Recipe, key: String, directory: String, sha256: String, recipeFile: String?,
                            entryPath: String) throws -> String {
        func relative(_ path: String) -> String {
            path.hasPrefix(catalogueDirectory + "/") ? String(path.dropFirst(catalogueDirectory.count + 1)) : path
        }
        let text = CatalogueEntry.render(.init(
            recipe: recipe, recipeFile: recipeFile.map(Self.printable), buildKey: key,
            kernel: relative(directory + "/vmlinuz"), initrd: relative(directory + "/initrd.img"),
            disk: relative(directory + "/disk.qcow2"), sha256: sha256))
        if (try? String(contentsOfFile: entryPath, encoding: .utf8)) == text { return entryPath }
        try makeDirectory(catalogueDirectory)
        let temporary = catalogueDirectory + "/.\(recipe.name).toml.tmp"
        try write(Array(text.utf8), to: temporary, mode: 0o644)
        guard rename(temporary, entryPath) == 0 else {
            unlink(temporary)
            throw FactoryError.io("cannot write \(entryPath): \(String(cString: strerror(errno)))")
        }
        return entryPath
    }

    /// Moves the finished work directory into place; a rebuild replaces the old one.
    private func publish(work: String, final: String) throws {
        if rename(work, final) == 0 { return }
        guard errno == ENOTEMPTY || errno == EEXIST else {
            throw FactoryError.io("cannot move \(work) to \(final): \(String(cString: strerror(errno)))")
        }
        let old = final + ".old-\(getpid())"
        guard rename(final, old) == 0, rename(work, final) == 0 else {
            throw FactoryError.io("cannot replace \(final): \(String(cString: strerror(errno)))")
        }
        try removeTree(old)
    }

    // MARK: - Steps

    /// Runs `arguments` in a private mount and PID namespace that dies with it (and with
    /// this process): mounts made inside never outlive the build.
    private func isolated(_ what: String, _ arguments: [String], log: String, onLine: (String) -> Void = { _ in }) throws {
        let wrapper = ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--", "/usr/bin/unshare", "--mount",
                       "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc", "--"]
        try Command.stream(what, wrapper[0], Array(wrapper.dropFirst()) + arguments, log: log) { line in
            if verbose { progress("    | " + line) }
            onLine(line)
        }
    }

    /// Writes what build-root reads into `stage`.
    private func stageInputs(_ recipe: Recipe, stage: String, suite: String?, base: Recipe.Base) throws {
        let isDebian: Bool
        if case .debian = base { isDebian = true } else { isDebian = false }
        try write(Array((isDebian ? "debian" : "image").utf8), to: stage + "/base")
        try write(Array(recipe.agent.rawValue.utf8), to: stage + "/agent")
        try write(Array(recipe.packages.map { $0 + "\n" }.joined().utf8), to: stage + "/packages")
        var sourcesList = ""
        if let suite, let mirror = sources.mirror(for: suite) {
            sourcesList = mirror.sourcesList(suite: suite)
        } else if !recipe.packages.isEmpty {
            throw FactoryError.missing("cannot tell which Debian mirror and suite to install packages from"
                + " (no VERSION_CODENAME in the base's /etc/os-release, or no Debian mirror in the host's apt sources)")
        }
        try write(Array(sourcesList.utf8), to: stage + "/sources.list")
        let resolv = (try? read("/etc/resolv.conf")) ?? []
        try write(resolv, to: stage + "/resolv.conf")
        try makeDirectory(stage + "/files")
        for (i, file) in recipe.files.enumerated() {
            try write(Array(file.path.utf8), to: stage + "/files/\(i + 1).path")
            try write(Array(String(file.mode, radix: 8).utf8), to: stage + "/files/\(i + 1).mode")
            try write(Array(file.content.utf8), to: stage + "/files/\(i + 1).content")
        }
        if let setup = recipe.setup { try write(Array(setup.utf8), to: stage + "/setup") }
        if recipe.agent == .installed {
            try makeDirectory(stage + "/glue")
            try write(try read(inputs.agent), to: stage + "/glue/vbatch-guest")
            try write(try read(inputs.glueDirectory + "/init"), to: stage + "/glue/init")
            try write(try read(inputs.glueDirectory + "/power-button"), to: stage + "/glue/power-button")
            try write(try busybox(), to: stage + "/glue/busybox")
        }
    }

    /// Copies the ext4 root of catalogue image `base` into `tree` (loop mount, read-only,
    /// inside a private namespace).
    private func copyRoot(of base: ImageConfig, into tree: String, work: String, log: String) throws {
        guard let disk = base.disk else { throw FactoryError.invalid("image \(base.name) has no disk to start from") }
        let raw = work + "/base.raw", mountPoint = work + "/base-root"
        try Command.check("qemu-img convert (image \(base.name))", "/usr/bin/qemu-img",
                          ["convert", "-q", "-f", base.format, "-O", "raw", disk, raw], log: log)
        guard let offset = try Ext4Locator.rootOffset(raw) else {
            throw FactoryError.invalid("image \(base.name): no ext4 file system found (on the whole disk or a partition);"
                + " the factory builds on ext4 images only")
        }
        try makeDirectory(mountPoint)
        let script = "mount -t ext4 -o ro,noload,nodev,nosuid,loop,offset=\"$3\" \"$1\" \"$2\" && cp -a \"$2/.\" \"$4/\""
        try isolated("copying image \(base.name)", ["/bin/sh", "-c", script, "copy-root", raw, mountPoint, String(offset), tree],
                     log: log)
        try? FileManager.default.removeItem(atPath: raw)
    }

    /// The catalogue image `name`, checked (format, backing chain, sha256).
    private func baseImage(_ name: String) throws -> ImageConfig {
        guard let catalogue else {
            throw FactoryError.missing("base image:\(name): the catalogue could not be read")
        }
        guard let image = catalogue.first(where: { $0.name == name }) else {
            throw FactoryError.missing("base image:\(name): no such image in the catalogue (defined: "
                + catalogue.map(\.name).joined(separator: ", ") + ")")
        }
        guard image.disk != nil else { throw FactoryError.invalid("base image:\(name) has no disk") }
        do {
            try ImageCheck.verify(image, catalogueDirectory: catalogueDirectory)
        } catch {
            throw FactoryError.invalid("base \(error)")
        }
        return image
    }

    /// busybox from the test guest's initramfs (for acpid and poweroff in the image).
    private func busybox() throws -> [UInt8] {
        let unpacked = try Command.check("gzip -dc \(inputs.initrd)", "/usr/bin/gzip", ["-dc", "--", inputs.initrd]).outputData
        guard let bytes = Cpio.file(named: "bin/busybox", in: Array(unpacked)) else {
            throw FactoryError.missing("\(inputs.initrd) holds no bin/busybox: rebuild the test guest (images/testguest/build.sh)")
        }
        return bytes
    }

    /// `VERSION_CODENAME` from the tree's os-release (Debian's suite name).
    static func codename(tree: String) -> String? {
        for path in [tree + "/etc/os-release", tree + "/usr/lib/os-release"] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("VERSION_CODENAME=") {
                let value = line.dropFirst("VERSION_CODENAME=".count).filter { $0 != "\"" && $0 != "'" }
                if Recipe.Base("debian:" + value) != nil { return String(value) }
            }
        }
        return nil
    }

    private func usedMB(_ tree: String) throws -> Int {
        let result = try Command.check("du", "/usr/bin/du", ["-s", "-x", "--block-size=1M", "--", tree])
        guard let mb = Int(result.output.split(whereSeparator: \.isWhitespace).first ?? "") else {
            throw FactoryError.tool("du", 0, result.output)
        }
        return mb
    }

    // MARK: - Files

    private func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw FactoryError.io("cannot read \(path)") }
        return Array(data)
    }

    private func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw FactoryError.io("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw FactoryError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        _ = fchmod(fd, mode)
        guard fsync(fd) == 0 else { throw FactoryError.io("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    private func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        } catch {
            throw FactoryError.io("cannot create \(path): \(error.localizedDescription)")
        }
    }

    /// `rm -rf --one-file-system`: never into a file system mounted inside (there should be
    /// none: mounts live in namespaces that are gone), refusing if one is.
    private func removeTree(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        if let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) {
            for line in mounts.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count > 4 else { continue }
                let point = fields[4].replacingOccurrences(of: "\\040", with: " ")
                if point == path || point.hasPrefix(path + "/") {
                    throw FactoryError.io("\(point) is still mounted: not removing \(path)")
                }
            }
        }
        try Command.check("removing \(path)", "/bin/rm", ["-rf", "--one-file-system", "--", path])
    }

    private func syncDirectory(_ path: String) throws {
        try Command.check("sync", "/bin/sync", ["--", path])
    }

    static func absolute(_ path: String) -> String {
        let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }

    /// A UUID made of the first 128 bits of `key` (file system UUID and hash seed).
    static func uuid(from key: String) -> String {
        let hex = Array(key.prefix(32))
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }.joined(separator: "-")
    }

    static func printable(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }
}

/// An exclusive `flock` on a file, so two builds of the same image never overlap.
final class Lock {
    private var fd: Int32

    init(path: String, what: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw FactoryError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw FactoryError.invalid("\(what) is already running (lock \(path))")
        }
    }

    func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}

/// Where the ext4 root file system of a raw disk starts: the whole disk, or the largest
/// ext4 partition of an MBR or GPT partition table.
enum Ext4Locator {
    static func rootOffset(_ path: String) throws -> Int64? {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FactoryError.io("cannot read \(path)") }
        defer { try? handle.close() }
        func bytes(_ offset: Int64, _ count: Int) -> [UInt8] {
            handle.seek(toFileOffset: UInt64(offset))
            return Array(handle.readData(ofLength: count))
        }
        func isExt4(_ offset: Int64) -> Bool {
            let magic = bytes(offset + 1024 + 56, 2)
            return magic == [0x53, 0xEF]
        }
        func le(_ b: [UInt8], _ at: Int, _ n: Int) -> Int64 {
            (0..<n).reduce(Int64(0)) { $0 | Int64(b[at + $1]) << (8 * Int64($1)) }
        }
        if isExt4(0) { return 0 }
        var partitions: [(start: Int64, sectors: Int64)] = []
        let mbr = bytes(0, 512)
        guard mbr.count == 512, mbr[510] == 0x55, mbr[511] == 0xAA else { return nil }
        if mbr[446 + 4] == 0xEE {
            let gpt = bytes(512, 512)
            guard gpt.count == 512, gpt.prefix(8).elementsEqual("EFI PART".utf8) else { return nil }
            let entriesLBA = le(gpt, 72, 8), count = min(le(gpt, 80, 4), 256), size = le(gpt, 84, 4)
            guard size >= 128, size <= 1024 else { return nil }
            let table = bytes(entriesLBA * 512, Int(count * size))
            for i in 0..<Int(count) where (i + 1) * Int(size) <= table.count {
                let base = i * Int(size)
                let first = le(table, base + 32, 8), last = le(table, base + 40, 8)
                if first > 0, last >= first { partitions.append((first, last - first + 1)) }
            }
        } else {
            for i in 0..<4 {
                let base = 446 + 16 * i
                let start = le(mbr, base + 8, 4), sectors = le(mbr, base + 12, 4)
                if mbr[base + 4] != 0, start > 0, sectors > 0 { partitions.append((start, sectors)) }
            }
        }
        return partitions.filter { isExt4($0.start * 512) }.max { $0.sectors < $1.sectors }.map { $0.start * 512 }
    }
}
