import Foundation

/// A private Slurm controller on this machine for the side-by-side figures: its own munged
/// and slurmctld (Debian's Slurm 22.05) in a fresh directory, on a free port, with one
/// partition of four 32-core nodes that is `State=DOWN`, so that submitted jobs stay pending
/// as they do in a stopped vbatch queue. No slurmd runs. `stop()` stops only the two
/// processes started here; the directory (Slurm's state, thousands of job files) is removed
/// by `removeFiles()`, which the benchmark calls after its last measurement, because mass
/// deletion slows file creation on this machine's filesystem for a minute or more.
final class SlurmController {
    static let sbatch = "/usr/bin/sbatch"
    static let squeue = "/usr/bin/squeue"
    static let slurmctld = "/usr/sbin/slurmctld"
    static let munged = "/usr/sbin/munged"
    /// Slurm's client library and plugins, read into the page cache before each timed step.
    static let libraries = "/usr/lib/x86_64-linux-gnu/slurm-wlm"

    /// Whether Debian's slurmctld, slurm-client and munge are installed (scripts/bench-slurm.sh installs them).
    static var isInstalled: Bool {
        [sbatch, squeue, slurmctld, munged].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let directory: String
    /// The partition jobs are submitted to.
    let partition = "bench"
    /// What a Slurm client needs in its environment to reach this controller.
    var environment: [String: String] { ["SLURM_CONF": directory + "/slurm.conf"] }

    private let munge = Process()
    private let controller = Process()
    private var interruption: Interruption.Registration?

    init() throws {
        directory = NSTemporaryDirectory() + "vbatch-bench-slurm-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fm = FileManager.default
        for sub in ["state", "log", "munge-key", "munge-run"] {
            try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        // munged insists on a private key and a socket directory others may traverse.
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory + "/munge-key")
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory + "/munge-run")
        var key = [UInt8](repeating: 0, count: 1024)
        for i in key.indices { key[i] = UInt8.random(in: 0...255) }
        let keyFile = directory + "/munge-key/munge.key"
        guard fm.createFile(atPath: keyFile, contents: Data(key), attributes: [.posixPermissions: 0o400]) else {
            throw BenchError("cannot write \(keyFile)")
        }
        let socket = directory + "/munge-run/munge.socket"

        munge.executableURL = URL(fileURLWithPath: Self.munged)
        // --force: munged runs as root here (the benchmark does).
        munge.arguments = ["--foreground", "--force", "--key-file=\(keyFile)", "--socket=\(socket)",
                           "--pid-file=\(directory)/munge-run/munged.pid", "--log-file=\(directory)/log/munged.log",
                           "--seed-file=\(directory)/munge-key/munged.seed"]
        munge.standardError = FileHandle.nullDevice // it logs to its log file as well
        try munge.run()
        interruption = Interruption.register("the private munged and slurmctld") { [self] in
            stop()
            removeFiles()
        }

        let port = try Self.freePort()
        try Self.configuration(directory: directory, mungeSocket: socket, port: port, partition: partition)
            .write(toFile: directory + "/slurm.conf", atomically: true, encoding: .utf8)
        controller.executableURL = URL(fileURLWithPath: Self.slurmctld)
        // -D: foreground (a child of ours); -i -c: a fresh state directory, no jobs to recover.
        controller.arguments = ["-D", "-i", "-c", "-f", directory + "/slurm.conf"]
        controller.environment = environment
        controller.standardOutput = FileHandle.nullDevice
        controller.standardError = FileHandle.nullDevice
        do {
            try controller.run()
            try waitUntilAnswering()
        } catch {
            stop()
            throw error
        }
    }

    static func configuration(directory: String, mungeSocket: String, port: Int, partition: String) -> String {
        """
        ClusterName=vbatchbench
        SlurmctldHost=\(ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost")(127.0.0.1)
        SlurmctldPort=\(port)
        SlurmdPort=\(port + 1)
        AuthType=auth/munge
        AuthInfo=socket=\(mungeSocket)
        CredType=cred/munge
        SlurmUser=root
        StateSaveLocation=\(directory)/state
        SlurmdSpoolDir=\(directory)/state/slurmd
        SlurmctldPidFile=\(directory)/slurmctld.pid
        SlurmctldLogFile=\(directory)/log/slurmctld.log
        SlurmctldDebug=error
        MpiDefault=none
        MailProg=/bin/true
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        SchedulerType=sched/backfill
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core
        JobCompType=jobcomp/none
        AccountingStorageType=accounting_storage/none
        MaxJobCount=1000000
        NodeName=sn[1-4] NodeAddr=127.0.0.1 CPUs=32 RealMemory=131072 State=UNKNOWN
        PartitionName=\(partition) Nodes=sn[1-4] Default=YES MaxTime=INFINITE State=DOWN

        """
    }

    /// Polls `squeue` until the controller answers (30 s at most).
    private func waitUntilAnswering() throws {
        let deadline = monotonic() + 30
        while monotonic() < deadline {
            guard controller.isRunning, munge.isRunning else {
                throw BenchError("slurmctld or munged exited; see \(directory)/log")
            }
            if spawnAndWait(Self.squeue, ["-h"], environment: environment, quietErrors: true) == 0 { return }
            usleep(100_000)
        }
        throw BenchError("slurmctld did not answer within 30 s; see \(directory)/log")
    }

    /// Jobs Slurm holds (pending, since the partition is down).
    func pendingCount() throws -> Int {
        let (status, output) = try spawnCapturing(Self.squeue, ["-h", "-o", "%i"], environment: environment)
        guard status == 0 else { throw BenchError("squeue failed: \(output.prefix(300))") }
        return output.split(separator: "\n").count
    }

    /// Stops slurmctld and munged (only these two, started here): SIGTERM, then SIGKILL
    /// after 10 s.
    func stop() {
        for process in [controller, munge] where process.isRunning {
            process.terminate()
            let deadline = monotonic() + 10
            while process.isRunning && monotonic() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// Removes the controller's directory; called after the last measurement (see above).
    func removeFiles() {
        try? FileManager.default.removeItem(atPath: directory)
        interruption?.withdraw()
    }

    /// A TCP port nothing listens on (and the one after it, for the unused slurmd port).
    static func freePort() throws -> Int {
        for _ in 0..<50 {
            let port = Int.random(in: 20_000...40_000)
            if isFree(port), isFree(port + 1) { return port }
        }
        throw BenchError("no free TCP port for slurmctld")
    }

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = INADDR_ANY
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
