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
        let files = [NodeFile(role: .kernel, path: "/images/vmlinuz", format: "raw", sha256: String(repeating: "a", count: 64), sizeBytes: 1),
                     NodeFile(role: .initrd, path: "/images/initrd.img", format: "raw", sha256: String(repeating: "b", count: 64), sizeBytes: 1)]
        return try DomainXML.render(JobDomain.spec(for: launch, boot: JobDomain.BootFiles(files)))
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
        // Every path is a volume of the node's vbatch pools, named after the job or the content.
        #expect(x.contains("<source path=\"/var/lib/vbatch/jobs/job-42.console\"/>"))
        #expect(x.contains("<source file=\"/var/lib/vbatch/jobs/job-42.img\"/>"))
        #expect(x.contains("<source file=\"/var/lib/vbatch/jobs/job-42.out\"/>"))
        #expect(x.contains("<kernel>/var/lib/vbatch/images/\(String(repeating: "a", count: 64))</kernel>"))
        #expect(!x.contains("/var/lib/vbatch/spool") && !x.contains("/images/vmlinuz"))
        #expect(JobDomain.jobID(fromName: "vbatch-job-42") == 42)
        #expect(JobDomain.jobID(fromName: "other-42") == nil)
        // libvirt returns the metadata element without its prefix.
        #expect(JobDomain.jobID(fromMetadata: "<job id=\"42\" node=\"local\"/>") == 42)
        #expect(JobDomain.jobID(fromMetadata: "<pool id=\"3\" node=\"local\"/>") == nil)
        #expect(JobDomain.jobID(fromDomainXML: "<disk><source file='/var/lib/vbatch/jobs/job-77.img'/></disk>") == 77)
        #expect(JobDomain.jobID(fromDomainXML: "<disk><source file='/var/lib/vbatch/jobs/job-77.out'/></disk>") == nil)
        #expect(JobDomain.nodeName(fromMetadata: "<job id=\"42\" node=\"wn1\"/>") == "wn1")
        #expect(JobDomain.nodeName(fromMetadata: "<pool id='3' node='wn2'/>") == "wn2")
        #expect(VMVolumes.owner(ofVolume: "job-42.console") == .job(42))
        #expect(VMVolumes.owner(ofVolume: "pool-7.qcow2") == .pool(7))
        #expect(VMVolumes.owner(ofVolume: "job-42.tmp") == nil && VMVolumes.owner(ofVolume: "other.img") == nil)
        #expect(JobDomain.poolID(fromName: "vbatch-pool-5") == 5)
    }
}
