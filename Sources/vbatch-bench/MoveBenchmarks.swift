import Foundation
import VBatchAPI
import VBatchClient
import VBatchDrivers
import VBatchLibvirt

/// P13 and P14: moving a running job's VM between test hosts. vbatch is timed through its API
/// (what an operator waits for); the raw baseline does the same with `virsh` over the same
/// URIs, on a domain of the same guest with the same disks.
enum MoveBenchmarks {
    /// A payload that runs until cancelled, so its VM is there to move.
    static let sleeper = "#!/bin/sh\nsleep 3000\n"

    // MARK: - P13

    /// P13: save on wn1 + restore on wn2 (`vbatch checkpoint`, then `vbatch release` with wn1
    /// drained, until the job runs again), over `virsh save`, volume copies through this
    /// machine (`vol-download`, `vol-upload`) and `virsh restore`. Medians, seconds.
    static func saveRestore(_ hosts: NodeBenchmarks.Hosts, guest: String, runs: Int) throws -> (vbatch: Double, raw: Double) {
        let daemon = try daemonOnTwoHosts(hosts, guest: guest)
        defer { daemon.stop() }
        var vbatch: [Double] = []
        for _ in 0..<runs {
            let id = try jobOnWn1(daemon)
            _ = try daemon.client.setNode("wn1", NodeStateRequest(enabled: false))
            let start = monotonic()
            _ = try daemon.client.checkpoint(id)
            let saved = monotonic()
            _ = try daemon.client.release(id)
            try waitFor(30) { try daemon.client.job(id).job.state == .running }
            let restored = monotonic()
            guard try daemon.client.job(id).job.node == "wn2" else { throw BenchError("job \(id) was not restored on wn2") }
            vbatch.append(restored - start)
            log("P13 vbatch: save \(NodeBenchmarks.round2(saved - start)) s, restore on wn2 \(NodeBenchmarks.round2(restored - saved)) s")
            try cancel(daemon, id)
        }
        daemon.stop()
        var raw: [Double] = []
        for run in 0..<runs {
            let vm = try RawVM(hosts, guest: guest, id: 900_000 + run, on: "wn1", copiesTo: "wn2")
            defer { vm.remove() }
            let start = monotonic()
            try virsh(hosts, "wn1", ["save", vm.name, vm.path(vm.saveFile)])
            try virsh(hosts, "wn1", ["pool-refresh", "vbatch-jobs"])
            try vm.copyVolumes(from: "wn1", to: "wn2", [vm.saveFile, vm.jobDisk, vm.outputDisk, vm.console])
            try virsh(hosts, "wn2", ["restore", vm.path(vm.saveFile)])
            raw.append(monotonic() - start)
        }
        log("P13: vbatch \(vbatch.map(NodeBenchmarks.round2)) s, raw virsh \(raw.map(NodeBenchmarks.round2)) s")
        return (Stats.median(vbatch), Stats.median(raw))
    }

    // MARK: - P14

    /// P14: live migration wn1 → wn2 with the disks (`vbatch node drain wn1 --mode migrate`,
    /// until the job's history says it migrated), over `virsh migrate --live --copy-storage-inc`
    /// with the destination's volumes made beforehand. Medians, seconds.
    static func liveMigration(_ hosts: NodeBenchmarks.Hosts, guest: String, runs: Int) throws -> (vbatch: Double, raw: Double) {
        let daemon = try daemonOnTwoHosts(hosts, guest: guest)
        defer { daemon.stop() }
        var vbatch: [Double] = []
        for _ in 0..<runs {
            let id = try jobOnWn1(daemon)
            let start = WallClock.now()
            _ = try daemon.client.setNode("wn1", NodeStateRequest(enabled: false, mode: .migrate))
            var moved: Double?
            try waitFor(120) {
                moved = try daemon.client.job(id).history.last { $0.reason.hasPrefix("migrated live from wn1 to wn2") }?.time
                return moved != nil
            }
            vbatch.append(moved! - start)
            try cancel(daemon, id)
        }
        daemon.stop()
        var raw: [Double] = []
        for run in 0..<runs {
            let vm = try RawVM(hosts, guest: guest, id: 910_000 + run, on: "wn1", copiesTo: "wn2")
            defer { vm.remove() }
            try vm.prepareMigration(to: "wn2")
            let start = monotonic()
            try virsh(hosts, "wn1", ["migrate", "--live", "--copy-storage-inc", vm.name, hosts.uri("wn2")])
            raw.append(monotonic() - start)
        }
        log("P14: vbatch \(vbatch.map(NodeBenchmarks.round2)) s, raw virsh \(raw.map(NodeBenchmarks.round2)) s")
        return (Stats.median(vbatch), Stats.median(raw))
    }

    // MARK: - Helpers

    /// A daemon on the test hosts whose bench queue runs on wn1 and wn2, with the test guest
    /// cached on both.
    static func daemonOnTwoHosts(_ hosts: NodeBenchmarks.Hosts, guest: String) throws -> DaemonProcess {
        let daemon = try DaemonProcess(site: hosts.site(), image: VMBenchmarks.testguestImage(guest), environment: "testguest",
                                       started: true, queueNodes: ["wn1", "wn2"])
        try NodeBenchmarks.waitUp(daemon, ["wn1", "wn2"])
        _ = try daemon.client.pushImage("testguest", ImagePushRequest(nodes: ["wn1", "wn2"]))
        return daemon
    }

    /// Submits a sleeper with only wn1 in service and waits until its VM runs there; then both
    /// nodes are in service.
    static func jobOnWn1(_ daemon: DaemonProcess) throws -> Int64 {
        _ = try daemon.client.setNode("wn1", NodeStateRequest(enabled: true))
        _ = try daemon.client.setNode("wn2", NodeStateRequest(enabled: false))
        let id = try daemon.client.submit(SubmitRequest(queue: "bench", walltime: 3600, script: sleeper)).ids[0]
        try waitFor(90) { try daemon.client.job(id).job.state == .running }
        guard try daemon.client.job(id).job.node == "wn1" else { throw BenchError("job \(id) did not start on wn1") }
        usleep(3_000_000)  // the guest boots on
        _ = try daemon.client.setNode("wn2", NodeStateRequest(enabled: true))
        return id
    }

    static func cancel(_ daemon: DaemonProcess, _ id: Int64) throws {
        _ = try daemon.client.cancel(id)
        try waitFor(60) { try daemon.client.job(id).job.state.isTerminal }
        usleep(1_000_000)
    }

    static func waitFor(_ seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = monotonic() + seconds
        while monotonic() < deadline {
            if try condition() { return }
            usleep(10_000)
        }
        throw BenchError("not done within \(seconds) s")
    }

    static func virsh(_ hosts: NodeBenchmarks.Hosts, _ host: String, _ arguments: [String]) throws {
        let r = try runProgram("/usr/bin/virsh", ["-c", hosts.uri(host)] + arguments)
        guard r.status == 0 else { throw BenchError("virsh \(arguments.first ?? "") on \(host): \(r.output)") }
    }

    /// The raw baseline's VM: the test guest booted on one host from volumes of the job pool
    /// (kernel, initrd, job disk, output disk, console), its kernel and initrd on the other too.
    final class RawVM {
        let hosts: NodeBenchmarks.Hosts
        let name: String
        let kernel = "bench-raw-vmlinuz", initrd = "bench-raw-initrd"
        let jobDisk: String, outputDisk: String, console: String, saveFile: String
        let scratch: String
        let nodes: [String]

        init(_ hosts: NodeBenchmarks.Hosts, guest: String, id: Int, on host: String, copiesTo other: String) throws {
            self.hosts = hosts
            name = "vbatch-bench-raw-\(id)"
            jobDisk = "bench-raw-\(id).img"
            outputDisk = "bench-raw-\(id).out"
            console = "bench-raw-\(id).console"
            saveFile = "bench-raw-\(id).save"
            nodes = [host, other]
            scratch = NSTemporaryDirectory() + "vbatch-bench-move-\(getpid())-\(id)"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            for node in nodes {
                for (volume, file) in [(kernel, guest + "/vmlinuz"), (initrd, guest + "/initrd.img")] {
                    _ = try? runProgram("/usr/bin/virsh", ["-c", hosts.uri(node), "vol-delete", "--pool", "vbatch-jobs", volume])
                    try MoveBenchmarks.virsh(hosts, node, ["vol-create-as", "vbatch-jobs", volume, "0", "--format", "raw"])
                    try MoveBenchmarks.virsh(hosts, node, ["vol-upload", "--pool", "vbatch-jobs", volume, file])
                }
            }
            try JobDisk.write(to: scratch + "/job.img", jobID: Int64(id), payload: JobPayload(name: "raw", script: MoveBenchmarks.sleeper),
                              cores: 1, memoryMB: 256, walltime: 3600)
            try MoveBenchmarks.virsh(hosts, host, ["vol-create-as", "vbatch-jobs", jobDisk, "0", "--format", "raw"])
            try MoveBenchmarks.virsh(hosts, host, ["vol-upload", "--pool", "vbatch-jobs", jobDisk, scratch + "/job.img"])
            try MoveBenchmarks.virsh(hosts, host, ["vol-create-as", "vbatch-jobs", outputDisk, "64M", "--format", "raw"])
            try MoveBenchmarks.virsh(hosts, host, ["vol-create-as", "vbatch-jobs", console, "0", "--format", "raw"])
            let spec = DomainSpec(
                name: name, memoryMB: 256, hostCPUs: [0],
                boot: .kernel(kernel: path(kernel), initrd: path(initrd), cmdline: VMBenchmarks.cmdline),
                disks: [.init(path: path(outputDisk), format: "raw", target: "vdb", serial: OutputDisk.serial),
                        .init(path: path(jobDisk), format: "raw", target: "vda", serial: JobDisk.serial, readOnly: true)],
                consoleLogPath: path(console))
            try DomainXML.render(spec).write(toFile: scratch + "/domain.xml", atomically: true, encoding: .utf8)
            try MoveBenchmarks.virsh(hosts, host, ["create", scratch + "/domain.xml"])
            try VMBenchmarks.waitForMarker(hosts.consolePath(host, volume: console), jobID: Int64(id), timeout: 90)
            usleep(3_000_000)
        }

        func path(_ volume: String) -> String { "/var/lib/vbatch/jobs/\(volume)" }

        /// Each volume downloaded from `source` to this machine and uploaded to `target`.
        func copyVolumes(from source: String, to target: String, _ volumes: [String]) throws {
            for volume in volumes {
                let local = scratch + "/" + volume
                try MoveBenchmarks.virsh(hosts, source, ["vol-download", "--pool", "vbatch-jobs", "--sparse", volume, local])
                let size = (try? FileManager.default.attributesOfItem(atPath: local)[.size] as? Int) ?? 0
                try MoveBenchmarks.virsh(hosts, target, ["vol-create-as", "vbatch-jobs", volume, "\(size)", "--format", "raw"])
                try MoveBenchmarks.virsh(hosts, target, ["vol-upload", "--pool", "vbatch-jobs", "--sparse", volume, local])
                unlink(local)
            }
        }

        /// The destination's volumes for `--copy-storage-inc`: the read-only job disk with its
        /// contents, the output disk and console empty, of the same sizes.
        func prepareMigration(to target: String) throws {
            try copyVolumes(from: nodes[0], to: target, [jobDisk])
            try MoveBenchmarks.virsh(hosts, target, ["vol-create-as", "vbatch-jobs", outputDisk, "64M", "--format", "raw"])
            try MoveBenchmarks.virsh(hosts, target, ["vol-create-as", "vbatch-jobs", console, "0", "--format", "raw"])
        }

        func remove() {
            for node in nodes {
                _ = try? runProgram("/usr/bin/virsh", ["-c", hosts.uri(node), "destroy", name])
                for volume in [jobDisk, outputDisk, console, saveFile, kernel, initrd] {
                    _ = try? runProgram("/usr/bin/virsh", ["-c", hosts.uri(node), "vol-delete", "--pool", "vbatch-jobs", volume])
                }
            }
            try? FileManager.default.removeItem(atPath: scratch)
        }
    }
}
