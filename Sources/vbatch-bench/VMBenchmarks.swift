import Foundation
import VBatchAPI
import VBatchClient
import VBatchCore
import VBatchDrivers
import VBatchLibvirt
import VBatchLibvirtDriver

/// P4: what vbatch adds, from submit to the payload running in an on-demand VM, over a raw
/// libvirt create + boot of the same guest with the same domain XML. Both are timed to the
/// guest agent's `vbatch-guest: job N started` line on the serial console.
enum VMBenchmarks {
    static let cmdline = "console=ttyS0 quiet panic=-1 cryptomgr.notests"
    static let script = "#!/bin/sh\ntrue\n"

    struct Result {
        var overheadMs: Double
        var vbatchMs: Double
        var rawMs: Double
    }

    static func onDemandOverhead(guest: String, runs: Int) async throws -> Result {
        guard FileManager.default.fileExists(atPath: guest + "/vmlinuz") else {
            throw BenchError("no test guest in \(guest) (run images/testguest/build.sh)")
        }
        let raw = try await rawBoots(guest: guest, runs: runs)
        let daemon = try DaemonProcess(libvirtGuest: guest)
        defer { daemon.stop() }
        var vbatch: [Double] = []
        for _ in 0..<runs {
            let start = monotonic()
            let id = try daemon.client.submit(SubmitRequest(queue: "bench", walltime: 600, script: script)).ids[0]
            let console = daemon.directory + "/state/spool/\(id)/console.log"
            try waitForMarker(console, jobID: id, timeout: 60)
            vbatch.append((monotonic() - start) * 1000)
            _ = try? waitForEnd(daemon.client, id)
        }
        let v = Stats.median(vbatch), r = Stats.median(raw)
        log("P4: vbatch \(vbatch.map { Int($0) }) ms, raw \(raw.map { Int($0) }) ms")
        return Result(overheadMs: v - r, vbatchMs: v, rawMs: r)
    }

    /// libvirt create of a prepared domain, timed to the payload's start marker.
    static func rawBoots(guest: String, runs: Int) async throws -> [Double] {
        LibvirtEventLoop.start()
        let connection = try await LibvirtConnection(uri: "qemu:///system")
        let node = NodeConfig(name: "local", uri: "qemu:///system", cpus: [0, 1], memoryMB: 2048)
        let image = ImageConfig(name: "testguest", boot: .kernel, kernel: guest + "/vmlinuz", initrd: guest + "/initrd.img",
                                cmdline: cmdline, memoryMB: 256)
        var times: [Double] = []
        for run in 0..<runs {
            let id = Int64(900_000 + run)
            let spool = NSTemporaryDirectory() + "vbatch-bench-raw-\(getpid())-\(run)"
            try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: spool) }
            let launch = LaunchSpec(jobID: id, node: node, cpus: [0], memoryMB: 256, walltime: 600, environment: image,
                                    spoolDirectory: spool, payload: JobPayload(name: "raw", script: script))
            let xml = try LibvirtDriver.prepare(launch)
            let start = monotonic()
            let domain = try await connection.createTransient(xml: xml)
            try waitForMarker(spool + "/console.log", jobID: id, timeout: 60)
            times.append((monotonic() - start) * 1000)
            let deadline = monotonic() + 30
            while monotonic() < deadline, try await connection.activeDomains().contains(domain) { usleep(50_000) }
            try? await connection.destroy(domain)
        }
        await connection.close()
        return times
    }

    static func waitForMarker(_ console: String, jobID: Int64, timeout: Double) throws {
        let marker = Array("vbatch-guest: job \(jobID) started".utf8)
        let deadline = monotonic() + timeout
        while monotonic() < deadline {
            if let data = FileManager.default.contents(atPath: console), data.count >= marker.count,
               Array(data).firstRange(of: marker) != nil {
                return
            }
            usleep(2000)
        }
        throw BenchError("no start marker for job \(jobID) in \(console) within \(Int(timeout)) s")
    }

    static func waitForEnd(_ client: VBatchClient, _ id: Int64) throws {
        let deadline = monotonic() + 60
        while monotonic() < deadline {
            if try client.job(id).job.state.isTerminal { return }
            usleep(100_000)
        }
    }
}
