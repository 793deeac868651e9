#if canImport(Glibc)
import Glibc
#endif

/// What runs inside the VM: the user's script with its arguments and environment.
public struct JobPayload: Sendable, Equatable {
    public var name: String
    public var script: String
    public var arguments: [String]
    public var variables: [String: String]

    public init(name: String, script: String, arguments: [String] = [], variables: [String: String] = [:]) {
        self.name = name
        self.script = script
        self.arguments = arguments
        self.variables = variables
    }
}

/// The job disk of guest contract v1 (docs/guest-contract.md): a ustar archive holding
/// `run`, `env.sh`, `args.sh` and `meta`, padded to a whole MiB, attached read-only with
/// serial `vbatch-job`.
///
/// Every user value reaches the guest as data inside single quotes in `env.sh`/`args.sh`
/// (quotes escaped as `'\''`), never as shell syntax, and never in the domain XML.
public enum JobDisk {
    public static let serial = "vbatch-job"

    /// The archive bytes for a job.
    public static func image(jobID: Int64, payload: JobPayload, cores: Int, memoryMB: Int, walltime: Int,
                             lease: Int? = nil) throws -> [UInt8] {
        var tar = UstarWriter()
        try tar.addFile("run", contents: Array(payload.script.utf8), mode: 0o755)
        let env = payload.variables.keys.sorted().map { "export \($0)=\(shellQuoted(payload.variables[$0]!))\n" }.joined()
        try tar.addFile("env.sh", contents: Array(env.utf8))
        let args = "set --" + payload.arguments.map { " " + shellQuoted($0) }.joined() + "\n"
        try tar.addFile("args.sh", contents: Array(args.utf8))
        let meta = """
            job_id=\(jobID)
            name=\(payload.name)
            cores=\(cores)
            walltime=\(walltime)
            memory_mb=\(memoryMB)

            """ + (lease.map { "lease=\($0)\n" } ?? "")
        try tar.addFile("meta", contents: Array(meta.utf8))
        try tar.addDirectory("input")
        return tar.finish(alignment: 1 << 20)
    }

    /// Writes the job disk to `path` (mode 0600).
    /// `lease`: seconds after which the guest agent powers the VM off by itself (walltime,
    /// grace and a margin), so that no VM outlives it even if its node lost the daemon.
    public static func write(to path: String, jobID: Int64, payload: JobPayload, cores: Int, memoryMB: Int, walltime: Int,
                             lease: Int? = nil) throws {
        try FileIO.write(try image(jobID: jobID, payload: payload, cores: cores, memoryMB: memoryMB, walltime: walltime,
                                   lease: lease), to: path)
    }

    /// A VM's lease in seconds from its job's start: walltime + grace + 10 s. The guest agent
    /// powers the VM off by itself when it runs out (the `lease` of `meta`), 10 s after the
    /// driver's own destroy would have come; the daemon counts on nothing running past it.
    public static func lease(walltime: Int, grace: Int) -> Int { walltime + grace + 10 }

    /// `'value'` for POSIX sh, with embedded quotes as `'\''`.
    public static func shellQuoted(_ value: String) -> String {
        "'" + value.replacing("'", with: "'\\''") + "'"
    }
}

/// The output disk of guest contract v1: zero-filled raw disk with serial `vbatch-out`; the
/// guest writes one ustar archive onto it (`stdout`, `stderr`, `exit_code`, `agent.log`,
/// `output/…`), which ``collect(from:into:)`` extracts into the job's spool.
public enum OutputDisk {
    public static let serial = "vbatch-out"
    public static let defaultSizeMB = 64

    /// Creates a sparse zero-filled disk of `sizeMB` MiB.
    public static func create(at path: String, sizeMB: Int = defaultSizeMB) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileIO.Failure.system("create \(path)", errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(sizeMB) << 20) == 0 else { throw FileIO.Failure.system("size \(path)", errno) }
    }

    /// What the guest reported.
    public struct Result: Sendable, Equatable {
        /// The payload's exit code, nil when the guest wrote no archive (it never ran or was killed).
        public var exitCode: Int?
        /// Files extracted, relative to the spool directory.
        public var files: [String]
    }

    /// The guest contract's names: the only members taken from an output disk.
    static let contractNames = ["stdout", "stderr", "exit_code", "agent.log", "output"]

    /// Extracts the archive on the output disk into `directory` (which must exist). What an
    /// earlier collection left of these names goes first: a collection cut short (vbatchd
    /// killed while unpacking) is done again whole. Hostile archives are refused member by
    /// member: a refused member stops extraction with an error. A file that cannot be read
    /// or written in `directory` (a full spool) is a ``SpoolWriteError``.
    public static func collect(from path: String, into directory: String) throws -> Result {
        do {
            return try collect(archive: try FileIO.read(path), into: directory)
        } catch let failure as FileIO.Failure {
            throw SpoolWriteError("\(failure)")
        }
    }

    /// ``collect(from:into:)`` on the bytes of the disk, already read (`vbatch-fuzz ustar` feeds it).
    public static func collect(archive bytes: [UInt8], into directory: String) throws -> Result {
        do {
            return try extract(bytes, into: directory)
        } catch let failure as FileIO.Failure {
            throw SpoolWriteError("\(failure)")
        }
    }

    private static func extract(_ bytes: [UInt8], into directory: String) throws -> Result {
        for name in contractNames { try FileIO.remove(directory + "/" + name) }
        return try bytes.withUnsafeBytes { raw in
            let members = try UstarReader.members(of: raw)
            var files: [String] = []
            var exitCode: Int?
            for member in members {
                // Only the contract's names: stdout, stderr, exit_code, agent.log, output/…
                let top = member.name.split(separator: "/").first.map(String.init) ?? ""
                guard contractNames.contains(top) else { continue }
                guard top == "output" || !member.isDirectory else { continue }
                let target = directory + "/" + member.name
                if member.isDirectory {
                    try FileIO.makeDirectories(directory, relative: member.name)
                    continue
                }
                if let parent = member.name.lastIndex(of: "/") {
                    try FileIO.makeDirectories(directory, relative: String(member.name[..<parent]))
                }
                try FileIO.write(Array(raw[member.contents]), to: target, exclusive: true)
                files.append(member.name)
                if member.name == "exit_code" {
                    let text = String(decoding: raw[member.contents], as: UTF8.self)
                    exitCode = Int(text.filter { !$0.isWhitespace }.prefix(12))
                }
            }
            return Result(exitCode: exitCode, files: files)
        }
    }
}
