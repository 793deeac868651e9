import Foundation
import VBatchAPI
import VBatchClient
import VBatchDrivers
import VBatchLibvirt

/// P9–P12: worker nodes that are other machines. They run on the test hosts of
/// `scripts/test-hosts.sh` (libvirtd in network namespaces, reached over `qemu+tls://`; and
/// the CE host of P3_relay), which the benchmark starts and removes itself.
enum NodeBenchmarks {
    /// The test hosts, up for the duration of the node benchmarks.
    final class Hosts {
        let script: String
        let pki: String
        let addresses: [String: String]
        let dead: [String]
        /// The CE host (`ce1`) and the bridge address vbatchd's TLS API listens on for it (P3_relay).
        let ce: String?
        let apiAddress: String
        static let root = "/var/lib/vbatch-test-hosts"
        private var interruption: Interruption.Registration?

        init(repository: String) throws {
            script = repository + "/scripts/test-hosts.sh"
            let script = script
            let down = { _ = try? runProgram(script, ["down"]) }
            let registration = Interruption.register("the test hosts (test-hosts.sh down)", down)
            interruption = registration
            let up = try runProgram(script, ["up", "3", "--dead", "197", "--ce"])
            guard up.status == 0 else {
                down()  // what came up before the failure
                registration.withdraw()
                throw BenchError("test-hosts.sh up failed: \(up.output.suffix(500))")
            }
            let env = (try? String(contentsOfFile: Self.root + "/env", encoding: .utf8)) ?? ""
            var values: [String: String] = [:]
            for line in env.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                values[String(line[..<eq])] = String(line[line.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            pki = values["VBATCH_TEST_PKI"] ?? ""
            addresses = Dictionary(uniqueKeysWithValues: (values["VBATCH_TEST_HOSTS"] ?? "").split(separator: " ").compactMap { pair in
                let parts = pair.split(separator: "=")
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            })
            dead = (values["VBATCH_TEST_DEAD"] ?? "").split(separator: " ").map(String.init)
            ce = (values["VBATCH_TEST_CE"] ?? "").split(separator: "=").first.map(String.init)
            apiAddress = values["VBATCH_TEST_API_ADDR"] ?? "10.77.0.1"
            guard addresses.count == 3, !pki.isEmpty else {
                down()
                registration.withdraw()
                throw BenchError("test hosts are not up: \(env)")
            }
        }

        deinit {
            _ = try? runProgram(script, ["down"])
            interruption?.withdraw()
        }

        func uri(_ host: String) -> String { "qemu+tls://\(addresses[host]!)/system?pkipath=\(pki)/client" }

        /// A host's job volumes as this machine sees them (the benchmark's clock, not the daemon's path).
        func consolePath(_ host: String, volume: String) -> String { "\(Self.root)/\(host)/vbatch/jobs/\(volume)" }

        /// Site lines: TLS identity, the three hosts, and `dead` nodes that never answer.
        func site(deadNodes: Int = 0) -> String {
            var site = """
                [site]
                name = "bench"
                operators = ["root"]
                placement = "spread"
                tls_ca = "\(pki)/client/cacert.pem"
                tls_certificate = "\(pki)/client/clientcert.pem"
                tls_key = "\(pki)/client/clientkey.pem"

                """
            for host in addresses.keys.sorted() {
                site += "\n[node.\(host)]\nuri = \"qemu+tls://\(addresses[host]!)/system\"\ncpus = \"0-1\"\nmemory = \"2gb\"\n"
            }
            for (i, address) in dead.prefix(deadNodes).enumerated() {
                site += "\n[node.dead\(i + 1)]\nuri = \"qemu+tls://\(address)/system\"\ncpus = \"0-1\"\nmemory = \"2gb\"\n"
            }
            return site
        }

        func libvirtdPID(_ host: String) -> pid_t? {
            (try? String(contentsOfFile: "\(Self.root)/\(host)/run/vbatch-node/libvirtd.pid", encoding: .utf8))
                .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    // MARK: - P9

    struct Upload {
        var ratio: Double
        var vbatchMBps: Double
        var rawMBps: Double
        var megabytes: Int
    }

    /// P9: `vbatch image push` of a disk image to a fresh node, over `virsh vol-upload` of the
    /// same file over the same URI; throughputs of medians. The push includes the volume's
    /// creation and its check after the upload (size, header); the digest is computed beforehand.
    static func imageUpload(_ hosts: Hosts, megabytes: Int) throws -> Upload {
        let scratch = NSTemporaryDirectory() + "vbatch-bench-p9-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let file = scratch + "/disk.img"
        guard FileManager.default.createFile(atPath: file, contents: nil),
              let handle = FileHandle(forWritingAtPath: file) else { throw BenchError("cannot write \(file)") }
        var block = [UInt8](repeating: 0, count: 1 << 20)
        for i in 0..<megabytes {
            for j in stride(from: 0, to: block.count, by: 8) { block[j] = UInt8(truncatingIfNeeded: i &* 31 &+ j >> 3) }
            handle.write(Data(block))
        }
        try handle.close()
        // Raw: vol-create-as + vol-upload into each host's image pool, then delete.
        var raw: [Double] = []
        for host in ["wn1", "wn2", "wn3"] {
            let uri = hosts.uri(host)
            _ = try runProgram("/usr/bin/virsh", ["-c", uri, "vol-create-as", "vbatch-images", "bench-raw", "0", "--format", "raw"])
            raw.append(try measure {
                let r = try runProgram("/usr/bin/virsh", ["-c", uri, "vol-upload", "--pool", "vbatch-images", "bench-raw", file])
                guard r.status == 0 else { throw BenchError("virsh vol-upload: \(r.output)") }
            })
            _ = try runProgram("/usr/bin/virsh", ["-c", uri, "vol-delete", "--pool", "vbatch-images", "bench-raw"])
        }
        // vbatch: each sample is a fresh daemon that first pushes to wn3 (which holds the image
        // after the first sample: the daemon computes the digest, nothing is sent), then the
        // timed push to a node whose copy was deleted.
        let image = "[image.bigdisk]\nboot = \"disk\"\ndisk = \"\(file)\"\nformat = \"raw\"\n"
        var vbatch: [Double] = []
        for host in ["wn1", "wn2", "wn1", "wn2", "wn1"] {
            let daemon = try DaemonProcess(site: hosts.site(), image: image, environment: "bigdisk", started: true)
            defer { daemon.stop() }
            try waitUp(daemon, ["wn1", "wn2", "wn3"])
            _ = try daemon.client.pushImage("bigdisk", ImagePushRequest(nodes: ["wn3"]))
            for volume in try runProgram("/usr/bin/virsh", ["-q", "-c", hosts.uri(host), "vol-list", "vbatch-images"]).output
                .split(separator: "\n").compactMap({ $0.split(separator: " ").first.map(String.init) }) {
                _ = try runProgram("/usr/bin/virsh", ["-c", hosts.uri(host), "vol-delete", "--pool", "vbatch-images", volume])
            }
            let result = try daemon.client.pushImage("bigdisk", ImagePushRequest(nodes: [host]))
            guard let r = result.first, r.error == nil, r.uploadedBytes == UInt64(megabytes) << 20 else {
                throw BenchError("push to \(host): \(result)")
            }
            vbatch.append(r.seconds)
        }
        let mb = Double(megabytes)
        let v = Stats.median(vbatch), w = Stats.median(raw)
        log("P9: vbatch push \(vbatch.map { round2($0) }) s, virsh vol-upload \(raw.map { round2($0) }) s for \(megabytes) MiB")
        return Upload(ratio: w / v, vbatchMBps: mb / v, rawMBps: mb / w, megabytes: megabytes)
    }

    // MARK: - P10, P11

    /// P10: submit → payload running on a remote node (image already cached there), over a
    /// raw `virDomainCreateXML` over the same URI with volumes made beforehand. Medians, ms.
    static func remoteStart(_ hosts: Hosts, guest: String, runs: Int) async throws -> (vbatch: Double, raw: Double) {
        let daemon = try DaemonProcess(site: hosts.site(), image: VMBenchmarks.testguestImage(guest), environment: "testguest",
                                       started: true, queueNodes: ["wn1"])
        defer { daemon.stop() }
        try waitUp(daemon, ["wn1"])
        _ = try daemon.client.pushImage("testguest", ImagePushRequest(nodes: ["wn1"]))
        var vbatch: [Double] = []
        for _ in 0..<runs {
            vbatch.append(try startLatency(daemon, hosts: hosts))
        }
        daemon.stop()
        let raw = try await rawRemoteStarts(hosts, host: "wn1", guest: guest, runs: runs)
        log("P10: vbatch \(vbatch.map { Int($0) }) ms, raw \(raw.map { Int($0) }) ms")
        return (Stats.median(vbatch), Stats.median(raw))
    }

    /// Submit → the guest's `job N started` line in the job's console on its node, in ms.
    static func startLatency(_ daemon: DaemonProcess, hosts: Hosts) throws -> Double {
        // Let the previous VM's teardown finish: on two cores it would compete with the boot.
        usleep(1_000_000)
        let start = monotonic()
        let id = try daemon.client.submit(SubmitRequest(queue: "bench", walltime: 600, script: VMBenchmarks.script)).ids[0]
        var node: String?
        while node == nil, monotonic() < start + 30 {
            node = try daemon.client.job(id).job.node
            if node == nil { usleep(1000) }
        }
        guard let node else { throw BenchError("job \(id) was not placed within 30 s") }
        let console = hosts.consolePath(node, volume: "job-\(id).console")
        try VMBenchmarks.waitForMarker(console, jobID: id, timeout: 90)
        let ms = (monotonic() - start) * 1000
        try VMBenchmarks.waitForEnd(daemon.client, id)
        return ms
    }

    /// The raw baseline of P10: volumes uploaded beforehand over the same URI, then
    /// `virDomainCreateXML` timed to the payload's start marker.
    static func rawRemoteStarts(_ hosts: Hosts, host: String, guest: String, runs: Int) async throws -> [Double] {
        let uri = hosts.uri(host)
        let connection = try await LibvirtConnection(uri: uri)
        let bulk = try await LibvirtConnection(uri: uri, purpose: .bulk)
        defer { Task { await connection.close(); await bulk.close() } }
        let pool = "vbatch-jobs"
        let kernel = "bench-raw-vmlinuz", initrd = "bench-raw-initrd"
        for (name, file) in [(kernel, guest + "/vmlinuz"), (initrd, guest + "/initrd.img")] {
            _ = try? await connection.deleteVolume(named: name, inPool: pool)
            try await connection.createVolume(inPool: pool, xml: StorageXML.volume(name: name, capacityBytes: 0, format: "raw"))
            try await bulk.upload(file: file, toVolume: name, inPool: pool)
        }
        var times: [Double] = []
        let scratch = NSTemporaryDirectory() + "vbatch-bench-p10-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for run in 0..<runs {
            let id = Int64(800_000 + run)
            let names = (job: "bench-raw-\(id).img", out: "bench-raw-\(id).out", console: "bench-raw-\(id).console")
            try JobDisk.write(to: scratch + "/job.img", jobID: id, payload: JobPayload(name: "raw", script: VMBenchmarks.script),
                              cores: 1, memoryMB: 256, walltime: 600)
            try await connection.createVolume(inPool: pool, xml: StorageXML.volume(name: names.job, capacityBytes: 0, format: "raw"))
            try await bulk.upload(file: scratch + "/job.img", toVolume: names.job, inPool: pool)
            try await connection.createVolume(inPool: pool, xml: StorageXML.volume(name: names.out, capacityBytes: 64 << 20, format: "raw"))
            try await connection.createVolume(inPool: pool, xml: StorageXML.volume(name: names.console, capacityBytes: 0, format: "raw"))
            let path = { (name: String) in "/var/lib/vbatch/jobs/\(name)" }
            let spec = DomainSpec(
                name: "vbatch-bench-raw-\(id)", memoryMB: 256, hostCPUs: [0],
                boot: .kernel(kernel: path(kernel), initrd: path(initrd), cmdline: VMBenchmarks.cmdline),
                disks: [.init(path: path(names.out), format: "raw", target: "vdb", serial: OutputDisk.serial),
                        .init(path: path(names.job), format: "raw", target: "vda", serial: JobDisk.serial, readOnly: true)],
                consoleLogPath: path(names.console))
            let xml = try DomainXML.render(spec)
            usleep(1_000_000)
            let start = monotonic()
            let domain = try await connection.createTransient(xml: xml)
            try VMBenchmarks.waitForMarker(hosts.consolePath(host, volume: names.console), jobID: id, timeout: 90)
            times.append((monotonic() - start) * 1000)
            let deadline = monotonic() + 30
            while monotonic() < deadline, try await connection.activeDomains().contains(domain) { usleep(50_000) }
            try? await connection.destroy(domain)
            for name in [names.job, names.out, names.console] { _ = try? await connection.deleteVolume(named: name, inPool: pool) }
        }
        for name in [kernel, initrd] { _ = try? await connection.deleteVolume(named: name, inPool: pool) }
        return times
    }

    /// P11 and P12: start latency on healthy nodes with wn3's libvirtd stopped (SIGSTOP), over
    /// the same without the fault; then the daemon's threads with 197 more nodes that never answer.
    static func hungNode(_ hosts: Hosts, guest: String, runs: Int) throws -> (healthy: Double, hung: Double, threads: Int) {
        let daemon = try DaemonProcess(site: hosts.site(deadNodes: 197), image: VMBenchmarks.testguestImage(guest),
                                       environment: "testguest", started: true, queueNodes: ["wn1", "wn2"])
        defer { daemon.stop() }
        try waitUp(daemon, ["wn1", "wn2", "wn3"])
        _ = try daemon.client.pushImage("testguest", ImagePushRequest())
        var healthy: [Double] = []
        for _ in 0..<runs { healthy.append(try startLatency(daemon, hosts: hosts)) }
        guard let pid = hosts.libvirtdPID("wn3") else { throw BenchError("no libvirtd pid for wn3") }
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        var hung: [Double] = []
        for _ in 0..<runs { hung.append(try startLatency(daemon, hosts: hosts)) }
        kill(pid, SIGCONT)
        let threads = daemon.threadCount()
        log("P11: healthy \(healthy.map { Int($0) }) ms, with wn3 hung \(hung.map { Int($0) }) ms; P12: \(threads) threads")
        return (Stats.median(healthy), Stats.median(hung), threads)
    }

    // MARK: - Per-node costs

    /// What the daemon spends per node: threads, file descriptors and resident memory with 1
    /// and 3 live nodes (per live node) and with 197 more that never answer (per dead node),
    /// and the bytes an idle live node's link carries per minute (keepalive, resync).
    struct NodeCosts {
        var live: (threads: Double, fds: Double, rssKiB: Double)
        var dead: (threads: Double, fds: Double, rssKiB: Double)
        var idleBytesPerMinute: Double
        var threadsAt200: Int
    }

    static func perNodeCosts(_ hosts: Hosts) throws -> NodeCosts {
        func sample(_ site: String, nodes: [String], settle: Double) throws -> (threads: Int, fds: Int, rssKiB: Int, daemon: DaemonProcess) {
            let daemon = try DaemonProcess(site: site, image: "[image.none]\nboot = \"kernel\"\nkernel = \"/dev/null\"\n",
                                           environment: "none", started: true)
            try waitUp(daemon, nodes)
            usleep(UInt32(settle * 1_000_000))
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd").count) ?? 0
            return (daemon.threadCount(), fds, daemon.residentBytes() / 1024, daemon)
        }
        let one = hosts.site().components(separatedBy: "\n[node.wn2]")[0]
        let (t1, f1, m1, d1) = try sample(one, nodes: ["wn1"], settle: 10)
        d1.stop()
        let (t3, f3, m3, d3) = try sample(hosts.site(), nodes: ["wn1", "wn2", "wn3"], settle: 10)
        // Idle traffic of one live node, on its end of the bridge.
        let counters = { () -> Double in
            ["rx_bytes", "tx_bytes"].reduce(0.0) { sum, name in
                sum + (Double((try? String(contentsOfFile: "/sys/class/net/vwn1/statistics/\(name)", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0)
            }
        }
        let before = counters()
        usleep(60_000_000)
        let perMinute = counters() - before
        d3.stop()
        let (t200, f200, m200, d200) = try sample(hosts.site(deadNodes: 197), nodes: ["wn1", "wn2", "wn3"], settle: 40)
        d200.stop()
        log("node costs: 1 node \(t1) threads \(f1) fds \(m1) KiB; 3 nodes \(t3)/\(f3)/\(m3); 200 (197 dead) \(t200)/\(f200)/\(m200); "
            + "idle link of one node \(Int(perMinute)) bytes/min")
        return NodeCosts(live: (Double(t3 - t1) / 2, Double(f3 - f1) / 2, Double(m3 - m1) / 2),
                         dead: (Double(t200 - t3) / 197, Double(f200 - f3) / 197, Double(m200 - m3) / 197),
                         idleBytesPerMinute: perMinute, threadsAt200: t200)
    }

    /// Waits until every named node is up.
    static func waitUp(_ daemon: DaemonProcess, _ names: [String]) throws {
        let deadline = monotonic() + 90
        while monotonic() < deadline {
            if let nodes = try? daemon.client.nodes(), nodes.filter({ names.contains($0.name) }).allSatisfy({ $0.link == "up" }) { return }
            usleep(100_000)
        }
        throw BenchError("nodes \(names) not up within 90 s")
    }

    static func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }
}

/// Runs a program and returns its exit status and output (stdout and stderr).
func runProgram(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
