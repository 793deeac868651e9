import Foundation
import VBatchAPI
import VBatchClient
import VBatchCore
import VBatchDrivers
import VBatchLibvirt
import VBatchLibvirtDriver

/// P4: what vbatch adds, from submit to the payload running in an on-demand VM, over a raw
/// libvirt create + boot of the same guest with disks made beforehand. Both are timed to the
/// guest agent's `vbatch-guest: job N started` line on the serial console, which the
/// benchmark reads on this machine (the local node); vbatch's side includes the job's volumes
/// made and uploaded through the storage API.
enum VMBenchmarks {
    static let cmdline = "console=ttyS0 quiet panic=-1 cryptomgr.notests"
    static let script = "#!/bin/sh\ntrue\n"

    /// The catalogue entry of the test guest built in `guest`.
    static func testguestImage(_ guest: String) -> String {
        """
        [image.testguest]
        boot = "kernel"
        kernel = "\(guest)/vmlinuz"
        initrd = "\(guest)/initrd.img"
        cmdline = "\(cmdline)"
        memory = "256mb"
        """
    }

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
            let console = NodeLayout.consolePath(jobID: id)
            try waitForMarker(console, jobID: id, timeout: 60)
            vbatch.append((monotonic() - start) * 1000)
            _ = try? waitForEnd(daemon.client, id)
        }
        let v = Stats.median(vbatch), r = Stats.median(raw)
        log("P4: vbatch \(vbatch.map { Int($0) }) ms, raw \(raw.map { Int($0) }) ms")
        return Result(overheadMs: v - r, vbatchMs: v, rawMs: r)
    }

    /// P5: submit → payload running when an idle pooled VM is waiting (disks hot-plugged).
    static func pooledStart(guest: String, runs: Int) throws -> Double {
        let daemon = try DaemonProcess(libvirtGuest: guest, poolSize: 1)
        defer { daemon.stop() }
        let client = daemon.client
        var times: [Double] = []
        for _ in 0..<runs {
            try waitForIdlePool(client)
            // Let the refilled VM's boot and the previous VM's teardown finish: on two cores
            // they would otherwise compete with the measured job for the CPU.
            usleep(1_500_000)
            let start = monotonic()
            let id = try client.submit(SubmitRequest(queue: "bench", walltime: 600, script: script)).ids[0]
            var console: String?
            let deadline = monotonic() + 30
            while monotonic() < deadline {
                if console == nil, let reason = try client.job(id).history.first(where: { $0.state == .starting })?.reason,
                   let range = reason.range(of: "in pooled VM ") {
                    console = Int64(reason[range.upperBound...].prefix { $0.isNumber }).map { NodeLayout.consolePath(poolVM: $0) }
                }
                if let console, markerSeen(console, jobID: id) { break }
                usleep(1000)
            }
            guard console != nil else { throw BenchError("job \(id) did not go to a pooled VM") }
            times.append((monotonic() - start) * 1000)
            try waitForEnd(client, id)
        }
        log("P5: \(times.map { Int($0) }) ms")
        return Stats.median(times)
    }

    static func waitForIdlePool(_ client: VBatchClient) throws {
        let deadline = monotonic() + 120
        while monotonic() < deadline {
            if try client.nodes().first?.pools.first?.idle ?? 0 > 0 { return }
            usleep(50_000)
        }
        throw BenchError("the pool did not fill within 120 s")
    }

    /// libvirt create of a domain whose disks are made beforehand, timed to the payload's start marker.
    static func rawBoots(guest: String, runs: Int) async throws -> [Double] {
        LibvirtEventLoop.start()
        let connection = try await LibvirtConnection(uri: "qemu:///system")
        var times: [Double] = []
        for run in 0..<runs {
            let id = Int64(900_000 + run)
            let spool = NSTemporaryDirectory() + "vbatch-bench-raw-\(getpid())-\(run)"
            try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: spool) }
            try JobDisk.write(to: spool + "/job.img", jobID: id, payload: JobPayload(name: "raw", script: script), cores: 1,
                              memoryMB: 256, walltime: 600)
            try OutputDisk.create(at: spool + "/out.img")
            let spec = DomainSpec(
                name: "vbatch-bench-raw-\(id)", memoryMB: 256, hostCPUs: [0],
                boot: .kernel(kernel: guest + "/vmlinuz", initrd: guest + "/initrd.img", cmdline: cmdline),
                disks: [.init(path: spool + "/out.img", format: "raw", target: "vdb", serial: OutputDisk.serial),
                        .init(path: spool + "/job.img", format: "raw", target: "vda", serial: JobDisk.serial, readOnly: true)],
                consoleLogPath: spool + "/console.log")
            let xml = try DomainXML.render(spec)
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

    static func markerSeen(_ console: String, jobID: Int64) -> Bool {
        guard let data = FileManager.default.contents(atPath: console) else { return false }
        return Array(data).firstRange(of: Array("vbatch-guest: job \(jobID) started".utf8)) != nil
    }

    static func waitForMarker(_ console: String, jobID: Int64, timeout: Double) throws {
        let deadline = monotonic() + timeout
        while monotonic() < deadline {
            if markerSeen(console, jobID: jobID) { return }
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
