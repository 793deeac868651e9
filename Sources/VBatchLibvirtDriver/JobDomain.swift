import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// How a job's VM is described to libvirt: names, metadata and the domain specification.
///
/// Everything user-controlled stays out of the XML: the domain is named after the job id,
/// paths are the daemon's own spool paths, and the payload travels on the job disk.
enum JobDomain {
    static let namePrefix = "vbatch-job-"
    static let metadataNamespace = "urn:x-vbatch:job:1"
    static let metadataPrefix = "vbatch"

    static func name(jobID: Int64) -> String { "\(namePrefix)\(jobID)" }

    /// The job id of a vbatch domain name, nil for other domains.
    static func jobID(fromName name: String) -> Int64? {
        guard name.hasPrefix(namePrefix) else { return nil }
        return Int64(name.dropFirst(namePrefix.count))
    }

    /// Job id from the `<vbatch:job id="…"/>` metadata element libvirt returns.
    static func jobID(fromMetadata xml: String) -> Int64? {
        guard let range = xml.range(of: "id=\"") ?? xml.range(of: "id='") else { return nil }
        return Int64(xml[range.upperBound...].prefix { $0.isNumber })
    }

    /// Files of one job inside its spool directory.
    struct Files {
        let spool: String
        var jobDisk: String { spool + "/job.img" }
        var outputDisk: String { spool + "/out.img" }
        var overlay: String { spool + "/disk.qcow2" }
        var console: String { spool + "/console.log" }
        /// Disks that exist only while the VM does.
        var scratch: [String] { [jobDisk, outputDisk, overlay] }
    }

    static func spec(for launch: LaunchSpec, files: Files) -> DomainSpec {
        let image = launch.environment
        var disks: [DomainSpec.Disk] = []
        let boot: DomainSpec.Boot
        switch image.boot {
        case .kernel:
            boot = .kernel(kernel: image.kernel ?? "", initrd: image.initrd, cmdline: image.cmdline)
            if image.disk != nil {
                disks.append(.init(path: files.overlay, format: "qcow2", target: "vda", serial: nil, readOnly: false))
            }
        case .disk:
            boot = .disk
            disks.append(.init(path: files.overlay, format: "qcow2", target: "vda", serial: nil, readOnly: false))
        }
        let next = ["vda", "vdb", "vdc", "vdd"]
        disks.append(.init(path: files.jobDisk, format: "raw", target: next[disks.count], serial: JobDisk.serial, readOnly: true))
        disks.append(.init(path: files.outputDisk, format: "raw", target: next[disks.count], serial: OutputDisk.serial, readOnly: false))
        let metadata = XMLElement("job", attributes: [
            ("id", String(launch.jobID)), ("node", launch.node.name),
        ])
        return DomainSpec(
            name: name(jobID: launch.jobID), uuid: nil, type: launch.node.domainType,
            memoryMB: max(launch.memoryMB, image.memoryMB), hostCPUs: launch.cpus, boot: boot, disks: disks,
            consoleLogPath: files.console,
            metadata: (namespaceURI: metadataNamespace, prefix: metadataPrefix, element: metadata))
    }
}
