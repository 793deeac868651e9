#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import VBatchAPI
import VBatchClient

/// The PBS/Torque-compatible commands: `qsub`, `qstat`, `qdel`, `qhold`, `qrls`, `qsig`, and for
/// the information systems of grid CEs `pbsnodes` and `qmgr`.
///
/// They are links to the `vbatch` binary, which dispatches on the name it was run as
/// (`argv[0]`); `vbatch qstat …` works too, for scripts that only know the `vbatch` path.
/// They speak the same API as `vbatch` and print what Torque prints, because grid CEs
/// (BLAH's PBS scripts, ARC's PBS backend) parse that output. See docs/grid-ce.md.
enum PBS {
    static let commands: Set<String> = ["qsub", "qstat", "qdel", "qhold", "qrls", "qsig", "pbsnodes", "qmgr"]

    /// The PBS command `argv` asks for, with its arguments: by the program's name (a
    /// `qsub` link to `vbatch`), or as `vbatch qsub …`. Nil for every other invocation.
    static func dispatch(_ argv: [String]) -> (command: String, arguments: [String])? {
        guard let first = argv.first else { return nil }
        let program = first.split(separator: "/").last.map(String.init) ?? first
        if commands.contains(program) { return (program, Array(argv.dropFirst())) }
        if argv.count > 1, commands.contains(argv[1]) { return (argv[1], Array(argv.dropFirst(2))) }
        return nil
    }

    /// Runs one command and exits with its status.
    static func main(_ command: String, _ arguments: [String]) -> Never {
        let context = PBSContext()
        let status: Int32
        switch command {
        case "qsub": status = Qsub.run(arguments, context)
        case "qstat": status = Qstat.run(arguments, context)
        case "qdel": status = QJobAction.run(.delete, arguments, context)
        case "qhold": status = QJobAction.run(.hold, arguments, context)
        case "qsig": status = QJobAction.signal(arguments, context)
        case "pbsnodes": status = Pbsnodes.run(arguments, context)
        case "qmgr": status = Qmgr.run(arguments, context)
        default: status = QJobAction.run(.release, arguments, context)
        }
        exit(status)
    }
}

/// What every command needs: the server name jobs are suffixed with, the client, the time.
struct PBSContext {
    /// `$PBS_DEFAULT` (Torque's variable), else `$VBATCH_PBS_SERVER`, else this host's name.
    /// The daemon is reached through a local socket, so this host is the server.
    let server: String
    let client: VBatchClient
    let now: Double

    init() {
        server = PBSContext.environment("PBS_DEFAULT") ?? PBSContext.environment("VBATCH_PBS_SERVER") ?? PBSContext.hostName()
        client = VBatchClient(socketOption: nil)
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        now = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// `ID.SERVER`, the job id as Torque prints it.
    func fullID(_ id: Int64) -> String { "\(id).\(server)" }

    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let s = String(cString: value)
        return s.isEmpty ? nil : s
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = PBSFormat.string(fromC: buffer)
        return name.isEmpty ? "localhost" : name
    }
}

/// A failure reported the way Torque reports it: one stderr line and an exit status.
///
/// Torque's commands exit with the PBS error number truncated to 8 bits, and scripts test
/// those numbers (BLAH's pbs_status treats 153, PBSE_UNKJOBID = 15001, as "job gone").
struct PBSError: Error {
    var message: String
    var status: Int32

    init(_ message: String, status: Int32) {
        self.message = message
        self.status = status
    }

    /// PBSE_UNKJOBID (15001).
    static func unknownJob(_ command: String, _ fullID: String) -> PBSError {
        PBSError("\(command): Unknown Job Id Error \(fullID)", status: 153)
    }

    /// PBSE_PERM (15007).
    static func unauthorized(_ command: String, _ fullID: String) -> PBSError {
        PBSError("\(command): Unauthorized Request  \(fullID)", status: 159)
    }

    /// PBSE_BADSTATE (15018).
    static func badState(_ command: String, _ detail: String, _ fullID: String) -> PBSError {
        PBSError("\(command): Request invalid for state of job MSG=\(detail) \(fullID)", status: 170)
    }

    /// PBSE_UNKQUE (15020).
    static func unknownQueue(_ command: String, _ queue: String) -> PBSError {
        PBSError("\(command): Unknown queue MSG=cannot locate queue \(PBSFormat.clean(queue))", status: 172)
    }

    /// The daemon could not be reached.
    static func connect(_ command: String, _ server: String, _ error: ClientError) -> PBSError {
        PBSError("\(command): cannot connect to server \(server) (\(error.message))", status: 1)
    }

    /// A client error about one job, in Torque's words where Torque has them.
    static func about(_ command: String, _ fullID: String, _ error: ClientError, server: String) -> PBSError {
        switch error.kind {
        case .connect, .transport: return connect(command, server, error)
        case .server:
            switch error.status {
            case 404: return unknownJob(command, fullID)
            case 403: return unauthorized(command, fullID)
            case 409: return badState(command, error.message, fullID)
            default: return PBSError("\(command): \(error.message) \(fullID)", status: 1)
            }
        default: return PBSError("\(command): \(error.message)", status: 1)
        }
    }

    func report() {
        PBSOutput.error(message)
    }
}

/// Unbuffered output for the PBS commands (the same approach as `Output`).
enum PBSOutput {
    static func print(_ text: String) { Output.print(text) }

    static func error(_ message: String) {
        Output.bytes(Array((message + "\n").utf8), to: 2)
    }
}
