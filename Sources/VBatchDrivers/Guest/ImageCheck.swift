#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Synchronization
import VBatchCore

/// Checks a catalogue image before a VM is started from it.
///
/// - the disk's format is explicit and is what `qemu-img info --output=json` finds
///   (a raw disk whose bytes look like qcow2, or the reverse, is refused);
/// - no qcow2 in the backing chain names a backing file or an external data file outside
///   the catalogue directory (symlinks resolved), or a backing file without an explicit
///   format; the headers are read here before `qemu-img` opens anything;
/// - the entry's `sha256`, when given, matches the disk.
///
/// Results are cached per disk by device, inode, size and modification time of every file
/// in its chain, so a disk is hashed once, not once per job.
public enum ImageCheck {
    /// What is wrong with an image; ``description`` says it in one line.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var image: String
        public var message: String

        public init(image: String, message: String) {
            self.image = image
            self.message = message
        }

        public var description: String { "image \(image): \(message)" }
    }

    /// Checks `image`; throws ``Failure`` saying exactly what is wrong.
    ///
    /// - Parameter catalogueDirectory: the directory of the catalogue (`DIR/images`);
    ///   backing and data files must resolve inside it.
    public static func verify(_ image: ImageConfig, catalogueDirectory: String) throws {
        func fail(_ message: String) -> Failure { Failure(image: image.name, message: message) }
        if image.boot == .kernel {
            guard let kernel = image.kernel else { throw fail("boot = \"kernel\" but no kernel") }
            guard isFile(kernel) else { throw fail("kernel \(kernel): no such file") }
            if let initrd = image.initrd, !isFile(initrd) { throw fail("initrd \(initrd): no such file") }
        }
        guard let disk = image.disk else {
            if image.boot == .disk { throw fail("boot = \"disk\" but no disk") }
            return
        }
        guard image.format == "qcow2" || image.format == "raw" else {
            throw fail("format \"\(image.format)\" is not \"qcow2\" or \"raw\"")
        }
        guard let catalogue = realPath(catalogueDirectory) else {
            throw fail("catalogue directory \(catalogueDirectory) not found")
        }
        guard let top = FileStamp(disk) else { throw fail("disk \(disk): no such file") }
        if let cached = cache.withLock({ $0[disk] }), cached.format == image.format, cached.sha256 == image.sha256,
           cached.catalogue == catalogue, cached.chain.allSatisfy({ FileStamp($0.path) == $0 }) {
            return
        }
        var chain: [FileStamp] = [top]
        try checkChain(path: disk, format: image.format, catalogue: catalogue, chain: &chain, fail: fail)
        if let expected = image.sha256 {
            let actual = try digest(of: disk, stamp: top, fail: fail)
            guard actual == expected.lowercased() else {
                throw fail("disk \(disk): sha256 is \(actual), the catalogue entry says \(expected)")
            }
        }
        cache.withLock {
            $0[disk] = Verified(format: image.format, sha256: image.sha256, catalogue: catalogue, chain: chain)
        }
    }

    /// Forgets every cached result (tests; an operator replacing files in place).
    public static func forgetCache() {
        cache.withLock { $0 = [:] }
        digests.withLock { $0 = [:] }
    }

    // MARK: - The chain

    static let maxChainLength = 16

    private static func checkChain(path: String, format: String, catalogue: String, chain: inout [FileStamp],
                                   fail: (String) -> Failure) throws {
        var path = path, format = format
        for depth in 0..<maxChainLength {
            let what = depth == 0 ? "disk \(path)" : "backing file \(path)"
            let header = try readHeader(path, fail: fail)
            var references = Qcow2Header.References()
            if header.starts(with: Qcow2Header.magic) {
                guard format == "qcow2" else {
                    throw fail("\(what): declared \(format) but the file is a qcow2 image (qemu-img info would say qcow2)")
                }
                switch Qcow2Header.references(header) {
                case .success(let r): references = r
                case .failure(let problem): throw fail("\(what): \(problem)")
                }
                // Checked before qemu-img opens the image: it would open a data file at once.
                if let data = references.dataFile {
                    _ = try inside(catalogue, data, relativeTo: path, kind: "data file", owner: what, fail: fail)
                }
            }
            let probed = try probe(path, fail: fail)
            guard probed.format == format else {
                throw fail("\(what): declared \(format) but qemu-img info says \(probed.format)")
            }
            guard probed.backing == references.backingFile, probed.dataFile == references.dataFile else {
                throw fail("\(what): qemu-img info and the qcow2 header disagree about its backing or data file")
            }
            guard let backing = references.backingFile else { return }
            guard let backingFormat = references.backingFormat else {
                throw fail("\(what): backing file \(backing) has no explicit format (qemu would probe it)")
            }
            guard backingFormat == "qcow2" || backingFormat == "raw" else {
                throw fail("\(what): backing file \(backing) has format \(backingFormat), not qcow2 or raw")
            }
            let resolved = try inside(catalogue, backing, relativeTo: path, kind: "backing file", owner: what, fail: fail)
            guard let stamp = FileStamp(resolved) else { throw fail("\(what): backing file \(backing): no such file") }
            guard !chain.contains(where: { $0.device == stamp.device && $0.inode == stamp.inode }) else {
                throw fail("\(what): the backing chain loops back to \(resolved)")
            }
            chain.append(stamp)
            path = resolved
            format = backingFormat
        }
        throw fail("disk: backing chain longer than \(maxChainLength) files")
    }

    /// `reference` (as written in `owner`'s header) resolved, symlinks and all; it must be
    /// a plain path that ends up inside `catalogue`.
    private static func inside(_ catalogue: String, _ reference: String, relativeTo image: String, kind: String,
                               owner: String, fail: (String) -> Failure) throws -> String {
        // "json:{…}", "nbd://…", "file:…": qemu reads these as protocols, not paths.
        guard !reference.isEmpty, !reference.contains(":"), !reference.unicodeScalars.contains("\0") else {
            throw fail("\(owner): \(kind) \"\(reference)\" is not a plain file path")
        }
        let absolute = reference.hasPrefix("/") ? reference : directory(of: image) + "/" + reference
        guard let real = realPath(absolute) else {
            throw fail("\(owner): \(kind) \(reference) does not exist")
        }
        guard real.hasPrefix(catalogue == "/" ? "/" : catalogue + "/") else {
            throw fail("\(owner): \(kind) \(reference) is outside the catalogue directory \(catalogue)")
        }
        return real
    }

    static func readHeader(_ path: String, fail: (String) -> Failure) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw fail("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG || (st.st_mode & S_IFMT) == S_IFBLK else {
            throw fail("\(path) is not a regular file or block device")
        }
        return FileIO.read(fd, upTo: Qcow2Header.maxHeaderBytes)
    }

    // MARK: - qemu-img info

    private struct Probe: Decodable {
        var format: String
        var backing: String?
        var dataFile: String?

        enum CodingKeys: String, CodingKey {
            case format
            case backing = "backing-filename"
            case specific = "format-specific"
        }

        struct Specific: Decodable {
            struct Payload: Decodable {
                var dataFile: String?
                enum CodingKeys: String, CodingKey { case dataFile = "data-file" }
            }
            var data: Payload?
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            format = try c.decode(String.self, forKey: .format)
            backing = try c.decodeIfPresent(String.self, forKey: .backing)
            dataFile = try c.decodeIfPresent(Specific.self, forKey: .specific)?.data?.dataFile
        }
    }

    /// `qemu-img info --output=json` without `-f`: what qemu finds the file to be.
    private static func probe(_ path: String, fail: (String) -> Failure) throws -> Probe {
        let result: Tool.Result
        do {
            result = try Tool.run(qemuImg, ["info", "--output=json", "--force-share", "--", path], timeoutSeconds: 60)
        } catch {
            throw fail("qemu-img info \(path): \(error)")
        }
        guard result.status == 0 else {
            let message = String(decoding: result.errors, as: UTF8.self)
                .split(separator: "\n").last.map(String.init) ?? "exit status \(result.status)"
            throw fail("qemu-img info \(path) failed: \(message)")
        }
        do {
            return try JSONDecoder().decode(Probe.self, from: Data(result.output))
        } catch {
            throw fail("qemu-img info \(path): unreadable output")
        }
    }

    static var qemuImg: String {
        ["/usr/bin/qemu-img", "/usr/local/bin/qemu-img"].first { access($0, X_OK) == 0 } ?? "/usr/bin/qemu-img"
    }

    // MARK: - sha256

    static func digest(of path: String, stamp: FileStamp, fail: (String) -> Failure) throws -> String {
        if let known = digests.withLock({ $0[path] }), known.stamp == stamp { return known.digest }
        let result: Tool.Result
        do {
            result = try Tool.run("/usr/bin/sha256sum", ["--", path], timeoutSeconds: 3600)
        } catch {
            throw fail("sha256sum \(path): \(error)")
        }
        let digest = String(decoding: result.output.prefix(64), as: UTF8.self)
        guard result.status == 0, digest.count == 64 else {
            throw fail("sha256sum \(path) failed: \(String(decoding: result.errors, as: UTF8.self))")
        }
        // Only a file that did not change while it was read is remembered.
        if FileStamp(path) == stamp { digests.withLock { $0[path] = (stamp, digest) } }
        return digest
    }

    // MARK: - Cache

    /// Identity of a file's current contents, as far as stat can tell.
    struct FileStamp: Equatable, Sendable {
        var path: String
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var mtimeSeconds: Int
        var mtimeNanoseconds: Int
        var ctimeSeconds: Int
        var ctimeNanoseconds: Int

        init?(_ path: String) {
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            self.path = path
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            mtimeSeconds = st.st_mtim.tv_sec
            mtimeNanoseconds = st.st_mtim.tv_nsec
            ctimeSeconds = st.st_ctim.tv_sec
            ctimeNanoseconds = st.st_ctim.tv_nsec
        }
    }

    struct Verified: Sendable {
        var format: String
        var sha256: String?
        var catalogue: String
        var chain: [FileStamp]
    }

    static let cache = Mutex<[String: Verified]>([:])
    private static let digests = Mutex<[String: (stamp: FileStamp, digest: String)]>([:])

    // MARK: - Paths

    private static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// The parts of a qcow2 header (docs/interop/qcow2.txt in QEMU) that name other files.
enum Qcow2Header {
    static let magic: [UInt8] = [0x51, 0x46, 0x49, 0xfb] // "QFI\xfb"
    /// Header, extensions and the backing file name all live in the first cluster; reading
    /// 64 KiB covers the default cluster size and every name qemu-img writes.
    static let maxHeaderBytes = 65_536

    struct References: Equatable {
        var backingFile: String?
        var backingFormat: String?
        var dataFile: String?
    }

    /// The backing file, its format and the external data file named by `header`.
    static func references(_ header: [UInt8]) -> Result<References, HeaderProblem> {
        func u32(_ at: Int) -> UInt32? {
            guard at + 4 <= header.count else { return nil }
            return header[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        func u64(_ at: Int) -> UInt64? {
            guard at + 8 <= header.count else { return nil }
            return header[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) }
        }
        func text(_ at: Int, _ length: Int) -> String? {
            guard at >= 0, length >= 0, at + length <= header.count else { return nil }
            return String(validating: header[at..<at + length], as: UTF8.self)
        }
        guard let version = u32(4), version == 2 || version == 3 else {
            return .failure(HeaderProblem("unsupported qcow2 version"))
        }
        var refs = References()
        guard let backingOffset = u64(8), let backingSize = u32(16) else {
            return .failure(HeaderProblem("truncated qcow2 header"))
        }
        if backingOffset != 0 {
            guard backingSize > 0, backingSize <= 1023, backingOffset < UInt64(maxHeaderBytes),
                  let name = text(Int(backingOffset), Int(backingSize)) else {
                return .failure(HeaderProblem("unreadable backing file name in the qcow2 header"))
            }
            refs.backingFile = name
        }
        let headerLength = version == 3 ? Int(u32(100) ?? 0) : 72
        guard headerLength >= 72, headerLength < maxHeaderBytes else {
            return .failure(HeaderProblem("bad qcow2 header length"))
        }
        var offset = headerLength
        while let type = u32(offset), let length = u32(offset + 4) {
            if type == 0 { break }
            let start = offset + 8
            guard Int(length) <= maxHeaderBytes, start + Int(length) <= header.count else {
                return .failure(HeaderProblem("qcow2 header extension runs past the first 64 KiB"))
            }
            switch type {
            case 0xE279_2ACA: refs.backingFormat = text(start, Int(length))
            case 0x4441_5441: refs.dataFile = text(start, Int(length)) ?? "\u{FFFD}"
            default: break
            }
            offset = start + (Int(length) + 7) / 8 * 8
        }
        // A qcow2 whose incompatible feature bit 2 says "external data file" without a
        // name would make qemu use a file named by the caller: not ours to allow.
        if version == 3, let incompatible = u64(72), incompatible & 0x4 != 0, refs.dataFile == nil {
            return .failure(HeaderProblem("qcow2 image needs an external data file but names none"))
        }
        return .success(refs)
    }

    struct HeaderProblem: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

/// Runs a tool with posix_spawn (no shell, no Foundation `Process`), collecting its output.
enum Tool {
    struct Result {
        var status: Int32
        var output: [UInt8]
        var errors: [UInt8]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ path: String, _ arguments: [String], timeoutSeconds: Int) throws -> Result {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw Failure(description: "pipe: \(String(cString: strerror(errno)))")
        }
        // Not inherited by other children spawned meanwhile (dup2 in the child clears it).
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        let environment: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) }
        envp.append(nil)
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw Failure(description: "cannot run \(path): \(String(cString: strerror(spawned)))")
        }
        var output: [UInt8] = [], errors: [UInt8] = []
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        let deadline = WallClock.now() + Double(timeoutSeconds)
        var open = 2
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open > 0 {
            let left = deadline - WallClock.now()
            if left <= 0 { timedOut = true; break }
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(left, 1) * 1000))
            if ready < 0 { if errno == EINTR { continue } else { break } }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress!, $0.count) }
                if n > 0 {
                    if i == 0 { output += buffer[..<n] } else if errors.count < 1 << 20 { errors += buffer[..<n] }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(fds[i].fd)
                    fds[i].fd = -1
                    open -= 1
                }
            }
        }
        for f in fds where f.fd >= 0 { close(f.fd) }
        if timedOut { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if timedOut { throw Failure(description: "timed out after \(timeoutSeconds) s") }
        let exited = status & 0x7f == 0
        return Result(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output: output, errors: errors)
    }
}
