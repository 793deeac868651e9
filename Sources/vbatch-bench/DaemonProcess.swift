import Foundation
import VBatchAPI
import VBatchClient

/// A `vbatchd` started from the build directory on a generated config of simulated nodes,
/// in a temporary directory that is removed on `stop()`.
final class DaemonProcess {
    let directory: String
    let socket: String
    let process = Process()
    private var interruption: Interruption.Registration?
    var client: VBatchClient { VBatchClient(socketPath: socket) }
    var pid: Int32 { process.processIdentifier }

    /// The catalogue entry `sim` of simulated sites (nothing boots).
    static let simulatedImage = "[image.sim]\nboot = \"kernel\"\nkernel = \"none\"\n"

    /// A site of simulated nodes. `started`: whether the benchmark queue runs its jobs
    /// (false keeps them pending).
    convenience init(nodes: Int, started: Bool) throws {
        var site = "[site]\nname = \"bench\"\noperators = [\"root\"]\n"
        for n in 0..<nodes { site += "\n[node.wn\(n)]\nuri = \"sim://\"\nslots = 32\nmemory = \"128gb\"\n" }
        try self.init(site: site, image: Self.simulatedImage, environment: "sim", started: started)
    }

    /// One real libvirt node on this machine running the test guest (`guest` holds vmlinuz
    /// and initrd.img), with `poolSize` pre-booted VMs of it if non-zero.
    convenience init(libvirtGuest guest: String, poolSize: Int = 0) throws {
        var site = """
            [site]
            name = "bench"
            operators = ["root"]

            [node.local]
            uri = "qemu:///system"
            cpus = "0-1"
            memory = "2gb"
            """
        if poolSize > 0 {
            site += "\n\n[pool.testguest]\nenvironment = \"testguest\"\nsize = \(poolSize)\nmemory = \"256mb\"\n"
        }
        try self.init(site: site, image: VMBenchmarks.testguestImage(guest), environment: "testguest", started: true)
    }

    /// A daemon on `site` with one catalogue entry; `queueNodes` limits the bench queue to those nodes.
    init(site: String, image: String, environment: String, started: Bool, queueNodes: [String]? = nil) throws {
        directory = NSTemporaryDirectory() + "vbatch-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        socket = directory + "/vbatchd.sock"
        let config = directory + "/config"
        try FileManager.default.createDirectory(atPath: config + "/queues", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: config + "/images", withIntermediateDirectories: true)
        try """
            [queue.bench]
            type = "execution"
            environments = ["\(environment)"]
            walltime_max = "1d"
            max_cores = 2
            default_memory = "256mb"
            max_queued = 2000000
            started = \(started)
            \(queueNodes.map { "nodes = [" + $0.map { "\"\($0)\"" }.joined(separator: ", ") + "]" } ?? "")
            """.write(toFile: config + "/queues/bench.toml", atomically: true, encoding: .utf8)
        try image.write(toFile: config + "/images/\(environment).toml", atomically: true, encoding: .utf8)
        try site.write(toFile: config + "/site.toml", atomically: true, encoding: .utf8)

        process.executableURL = URL(fileURLWithPath: Binaries.path("vbatchd"))
        process.arguments = ["--config", config, "--state", directory + "/state", "--socket", socket, "--log-level", "warning"]
        try process.run()
        interruption = Interruption.register("vbatchd (pid \(process.processIdentifier))") { [self] in stop() }
        let deadline = monotonic() + 60
        while monotonic() < deadline {
            if (try? client.whoami()) != nil { return }
            guard process.isRunning else {
                stop()
                throw BenchError("vbatchd exited with status \(process.terminationStatus)")
            }
            usleep(20_000)
        }
        stop()
        throw BenchError("vbatchd did not answer on \(socket) within 60 s")
    }

    /// The daemon's threads, from /proc.
    func threadCount() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Threads:") }) else { return 0 }
        return Int(line.split(separator: "\t").last ?? "") ?? 0
    }

    /// Resident memory of the daemon, from /proc.
    func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else { return 0 }
        return kb * 1024
    }

    /// Stops vbatchd and removes its directory.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
        interruption?.withdraw()
    }
}

/// Sibling executables of the running benchmark (same build directory).
enum Binaries {
    /// The directory of this benchmark's build (vbatchd, vbatch and the companions).
    static var directory: String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (me as NSString).deletingLastPathComponent
    }

    static func path(_ name: String) -> String { directory + "/" + name }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
