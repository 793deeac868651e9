import Foundation
import Testing
import VBatchCore
import VBatchDrivers
import VBatchLibvirt
@testable import VBatchLibvirtDriver

/// User input never shapes a job's domain XML: names, arguments and environment values
/// travel on the job disk, and the XML is built from job ids and the daemon's own paths.
@Suite("Job domain XML")
struct JobDomainTests {
    let node = NodeConfig(name: "local", uri: "qemu:///system", cpus: [0, 1, 2, 3], memoryMB: 4096)
    let image = ImageConfig(name: "testguest", boot: .kernel, kernel: "/images/vmlinuz", initrd: "/images/initrd.img",
                            cmdline: "console=ttyS0 quiet", memoryMB: 256)

    func xml(_ payload: JobPayload, cpus: [Int] = [2, 3]) throws -> String {
        let launch = LaunchSpec(jobID: 42, node: node, cpus: cpus, memoryMB: 512, walltime: 60, environment: image,
                                spoolDirectory: "/var/lib/vbatch/spool/42", payload: payload)
        return try DomainXML.render(JobDomain.spec(for: launch, files: .init(spool: launch.spoolDirectory)))
    }

    @Test func hostileFieldsLeaveTheXMLUnchanged() throws {
        let plain = JobPayload(name: "job", script: "#!/bin/sh\ntrue\n")
        let hostile = "</name><devices><disk type='file'><source file='/etc/shadow'/></disk>&amp;\"'\n../../\u{7}"
        let evil = JobPayload(name: hostile, script: "#!/bin/sh\n" + hostile, arguments: [hostile, "../x"],
                              variables: ["X": hostile, "PATH": "../../bin"])
        let reference = try xml(plain)
        #expect(try xml(evil) == reference)
        #expect(!reference.contains("shadow"))
    }

    @Test func domainCarriesPinningMetadataAndDisks() throws {
        let x = try xml(JobPayload(name: "job", script: "true"))
        #expect(x.contains("vbatch-job-42"))
        #expect(x.contains("urn:x-vbatch:job:1"))
        #expect(x.contains("vcpupin"))
        #expect(x.contains("vbatch-job"))
        #expect(x.contains("vbatch-out"))
        #expect(x.contains("/var/lib/vbatch/spool/42/console.log"))
        #expect(JobDomain.jobID(fromName: "vbatch-job-42") == 42)
        #expect(JobDomain.jobID(fromName: "other-42") == nil)
        // libvirt returns the metadata element without its prefix.
        #expect(JobDomain.jobID(fromMetadata: "<job id=\"42\" node=\"local\"/>") == 42)
        #expect(JobDomain.jobID(fromMetadata: "<pool id=\"3\" node=\"local\"/>") == nil)
        #expect(JobDomain.jobID(fromDomainXML: "<disk><source file='/var/lib/vbatch/spool/77/job.img'/></disk>") == 77)
        #expect(JobDomain.poolID(fromName: "vbatch-pool-5") == 5)
    }
}
