import Foundation
import Testing
import VBatchCore
import VBatchDrivers
@testable import VBatchLibvirtDriver

/// CPU samples a VM could not have produced are not charged to its job. While a VM's QEMU
/// exits, libvirt reported libvirtd's own CPU time for it (the same for two VMs ending
/// together): both jobs were charged that, in full test runs, where libvirtd had run longest.
@Suite("CPU usage samples")
struct UsageSampleTests {
    let node = NodeConfig(name: "local", uri: "qemu:///system", cpus: [0, 1, 2, 3], memoryMB: 4096)
    let image = ImageConfig(name: "testguest", boot: .kernel, kernel: "/images/vmlinuz", memoryMB: 256)

    func job(cores: Int, startedAt: Double) -> NodeAgent.TrackedJob {
        let spec = LaunchSpec(jobID: 7, node: node, cpus: Array(0..<cores), memoryMB: 512, walltime: 600, environment: image,
                              spoolDirectory: "/var/lib/vbatch/spool/7", payload: JobPayload(name: "job", script: "#!/bin/sh\n"))
        return NodeAgent.TrackedJob(spec: spec, phase: .running, startedAt: startedAt)
    }

    @Test func aSampleIsBoundByTheVCPUsAndTheTimeSinceTheLast() {
        var j = job(cores: 2, startedAt: 1000)
        // 10 s after the start, 2 vCPUs: up to 22 s (a second to spare).
        #expect(j.isPlausible(cpu: 19_000_000_000, at: 1010))
        #expect(!j.isPlausible(cpu: 23_000_000_000, at: 1010))
        j.cpuSample = 19_000_000_000
        j.sampledAt = 1010
        // One second later: at most 4 s more.
        #expect(j.isPlausible(cpu: 22_900_000_000, at: 1011))
        #expect(!j.isPlausible(cpu: 23_100_000_000, at: 1011))
        // Lower than before (a sample of an exiting QEMU can be anything): harmless, max() keeps the higher.
        #expect(j.isPlausible(cpu: 1, at: 1011))
    }

    @Test func aPooledVMsJobIsBoundFromItsBaseline() {
        var j = job(cores: 1, startedAt: 2000)
        j.cpuBaseline = 30_000_000_000  // the pooled VM's boot, before the job took it
        #expect(j.isPlausible(cpu: 34_000_000_000, at: 2003))
        #expect(!j.isPlausible(cpu: 36_000_000_000, at: 2003))
    }
}
