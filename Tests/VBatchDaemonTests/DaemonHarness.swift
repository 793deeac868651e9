import Foundation
import VBatchAPI
import VBatchClient

/// A real `vbatchd` process on a temporary config and state directory, plus helpers to
/// drive it through the real `vbatch` binary and the client library.
final class DaemonHarness: @unchecked Sendable {
    let root: String
    let configDirectory: String
    let stateDirectory: String
    let socket: String
    private(set) var process: Process?
    private var logFile: String { root + "/vbatchd.log" }

    var client: VBatchClient { VBatchClient(socketPath: socket) }

    /// The repository root (holds the shipped queues/ and images/).
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Directory of the built executables: the test bundle sits beside them.
    static let binaries: String = {
        if let dir = ProcessInfo.processInfo.environment["VBATCH_BIN_DIR"] { return dir }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return (exe as NSString).deletingLastPathComponent
    }()

    /// A config tree with the shipped queues and images and a site of simulated nodes.
    /// `site` replaces the generated site file; `queues` adds or overrides queue files.
    init(nodes: Int = 2, slots: Int = 4, site: String? = nil, queues: [String: String] = [:]) throws {
        root = NSTemporaryDirectory() + "vbatch-test-\(UUID().uuidString.prefix(8))"
        configDirectory = root + "/config"
        stateDirectory = root + "/state"
        socket = root + "/vbatchd.sock"
        let files = FileManager.default
        try files.createDirectory(atPath: configDirectory + "/queues", withIntermediateDirectories: true)
        // Other local users must reach the socket, as on a real site.
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root)
        try files.createDirectory(atPath: configDirectory + "/images", withIntermediateDirectories: true)
        for name in try files.contentsOfDirectory(atPath: Self.repository + "/queues") where name.hasSuffix(".toml") && name != "site.toml" {
            try files.copyItem(atPath: Self.repository + "/queues/" + name, toPath: configDirectory + "/queues/" + name)
        }
        for name in try files.contentsOfDirectory(atPath: Self.repository + "/images") where name.hasSuffix(".toml") {
            try files.copyItem(atPath: Self.repository + "/images/" + name, toPath: configDirectory + "/images/" + name)
        }
        // The catalogue's relative paths (testguest/out/…) resolve to the repository's built guest.
        try files.createSymbolicLink(atPath: configDirectory + "/images/testguest", withDestinationPath: Self.repository + "/images/testguest")
        for (name, text) in queues { try text.write(toFile: configDirectory + "/queues/" + name, atomically: true, encoding: .utf8) }
        let generated = """
            [site]
            name = "test"
            operators = ["root"]

            [vo.cms]
            share = 40
            users = ["cms001"]
            groups = ["cms"]

            [vo.atlas]
            share = 40
            groups = ["atlas"]

            [vo.dteam]
            share = 20
            groups = ["dteam"]

            """ + (1...nodes).map { "[node.wn\($0)]\nuri = \"sim://\"\nslots = \(slots)\nmemory = \"16gb\"\n" }.joined(separator: "\n")
        try (site ?? generated).write(toFile: configDirectory + "/site.toml", atomically: true, encoding: .utf8)
    }

    /// A site file with one libvirt node on this machine (`qemu:///system`, TCG).
    static func libvirtSite(cpus: String = "0-1", memory: String = "2gb", extra: String = "") -> String {
        """
        [site]
        name = "vm-test"
        operators = ["root"]
        walltime_grace = "20s"
        \(extra)

        [node.local]
        uri = "qemu:///system"
        cpus = "\(cpus)"
        memory = "\(memory)"
        domain_type = "qemu"

        [vo.cms]
        share = 1
        users = ["cms001"]
        """
    }

    /// A queue file to add while the daemon runs (reload tests).
    static let extraQueue = """
        [queue.extra]
        type = "execution"
        description = "Added while vbatchd runs"
        environments = ["testguest"]
        walltime_max = "1h"
        """

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Starts the daemon and waits until it answers (unless `waitUntilServing` is false).
    /// `environment` adds variables (e.g. systemd's `NOTIFY_SOCKET`), `arguments` options.
    func start(environment: [String: String] = [:], arguments: [String] = [], waitUntilServing: Bool = true) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binaries + "/vbatchd")
        p.arguments = ["--config", configDirectory, "--state", stateDirectory, "--socket", socket, "--log-level", "notice"]
            + arguments
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = FileHandle(forWritingAtPath: logFile)!
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        process = p
        guard waitUntilServing else { return }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if (try? client.whoami()) != nil { return }
            if !p.isRunning { throw HarnessError("vbatchd exited (\(p.terminationStatus)): \(daemonLog)") }
            usleep(20_000)
        }
        throw HarnessError("vbatchd did not answer within 60 s: \(daemonLog)")
    }

    /// SIGKILL, as a crash would.
    func kill9() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    func stop() {
        guard let p = process, p.isRunning else { process = nil; return }
        p.terminate()
        p.waitUntilExit()
        process = nil
    }

    var daemonLog: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Runs the `vbatch` CLI against this daemon.
    func vbatch(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try Self.run(Self.binaries + "/vbatch", arguments, environment: ["VBATCH_SOCKET": socket], stdin: stdin)
    }

    /// Runs the `vbatch` CLI as another Unix user (through `setpriv`), to check that the
    /// daemon takes identity from the socket, not from the client. `group` is the primary
    /// group to run with (default: the group named like the user, `nogroup` for nobody).
    func vbatch(as user: String, group: String? = nil, _ arguments: [String]) throws -> CommandResult {
        try Self.run("/usr/bin/setpriv", ["--reuid=\(user)", "--regid=\(group ?? (user == "nobody" ? "nogroup" : user))",
                                          "--clear-groups", Self.binaries + "/vbatch"] + arguments,
                     environment: ["VBATCH_SOCKET": socket], stdin: nil)
    }

    /// Runs `vbatchd` with arguments (e.g. `--check`).
    static func vbatchd(_ arguments: [String]) throws -> CommandResult {
        try run(binaries + "/vbatchd", arguments, environment: [:], stdin: nil)
    }

    static func run(_ path: String, _ arguments: [String], environment: [String: String], stdin: String?) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        p.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CommandResult(status: p.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Polls until `condition` holds or `timeout` passes.
    func wait(timeout: Double = 30, for condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return false
    }

    func writeScript(_ text: String, name: String = "job.sh") throws -> String {
        let path = root + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Submitting through the CLI and waiting for jobs and nodes (VM and test-host suites).
extension DaemonHarness {
    /// `vbatch submit` of a script; the job ids it printed.
    func submitJobs(_ script: String, _ args: [String]) throws -> [Int64] {
        let path = try writeScript(script, name: "job-\(UUID().uuidString.prefix(6)).sh")
        let r = try vbatch(["submit", path] + args)
        guard r.status == 0 else { throw HarnessError("submit failed (\(r.status)): \(r.stderr)") }
        return r.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int64($0) }
    }

    func waitEnded(_ ids: [Int64], timeout: Double = 180) throws {
        let done = try wait(timeout: timeout) { try ids.allSatisfy { try client.job($0).job.state.isTerminal } }
        if !done { throw HarnessError("jobs \(ids) did not end in \(timeout) s; daemon log:\n\(daemonLog.suffix(4000))") }
    }

    func waitRunning(_ ids: [Int64], timeout: Double = 120) throws {
        let ok = try wait(timeout: timeout) { try ids.allSatisfy { try client.job($0).job.state == .running } }
        if !ok { throw HarnessError("jobs \(ids) not running within \(timeout) s; daemon log:\n\(daemonLog.suffix(3000))") }
    }

    /// Waits until every named node's link is `link` (`up`, `unreachable`).
    func waitNodes(_ names: [String], link: String, timeout: Double = 90) throws {
        let ok = try wait(timeout: timeout) { try client.nodes().filter { names.contains($0.name) }.allSatisfy { $0.link == link } }
        if !ok {
            let seen = try client.nodes().map { "\($0.name)=\($0.link) \($0.note ?? "")" }
            throw HarnessError("nodes \(names) not \(link) within \(timeout) s: \(seen)")
        }
    }

    /// States of a job's history, oldest first.
    func states(_ id: Int64) throws -> [String] { try client.job(id).history.map(\.state.rawValue) }
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
