import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// How a job's VM is described to libvirt: names, metadata and the domain specification.
///
/// Everything user-controlled stays out of the XML: the domain is named after the job id,
/// paths are the daemon's own spool paths, and the payload travels on the job disk.
enum JobDomain {
    static let namePrefix = "vbatch-job-"
    static let poolPrefix = "vbatch-pool-"
    static let metadataNamespace = "urn:x-vbatch:job:1"
    static let metadataPrefix = "vbatch"

    static func name(jobID: Int64) -> String { "\(namePrefix)\(jobID)" }

    /// The job id of a vbatch domain name, nil for other domains.
    static func jobID(fromName name: String) -> Int64? {
        guard name.hasPrefix(namePrefix) else { return nil }
        return Int64(name.dropFirst(namePrefix.count))
    }

    static func poolName(id: Int64) -> String { "\(poolPrefix)\(id)" }

    static func poolID(fromName name: String) -> Int64? {
        guard name.hasPrefix(poolPrefix) else { return nil }
        return Int64(name.dropFirst(poolPrefix.count))
    }

    /// Job id from the `<vbatch:job id="…"/>` metadata element libvirt returns.
    static func jobID(fromMetadata xml: String) -> Int64? {
        guard xml.hasPrefix("<job"), let range = xml.range(of: "id=\"") ?? xml.range(of: "id='") else { return nil }
        return Int64(xml[range.upperBound...].prefix { $0.isNumber })
    }

    /// The job whose job disk is attached to a pooled domain, from the domain's live XML
    /// (`…/ID/job.img`): how a job in a pooled VM is found again after a restart.
    static func jobID(fromDomainXML xml: String) -> Int64? {
        guard let end = xml.range(of: "/job.img") else { return nil }
        let before = xml[..<end.lowerBound]
        let digits = before.reversed().prefix { $0.isNumber }
        return Int64(String(digits.reversed()))
    }

    /// Files of one job inside its spool directory.
    struct Files {
        let spool: String
        var jobDisk: String { spool + "/job.img" }
        var outputDisk: String { spool + "/out.img" }
        var overlay: String { spool + "/disk.qcow2" }
        var console: String { spool + "/console.log" }
        /// The cloud-init seed of images without the agent.
        var cidata: String { spool + "/cidata.img" }
        /// Disks that exist only while the VM does.
        var scratch: [String] { [jobDisk, outputDisk, overlay, cidata] }
    }

    /// A job's own domain: boot disk (overlay) if the image has one, job disk, output disk.
    static func spec(for launch: LaunchSpec, files: Files) -> DomainSpec {
        let image = launch.environment
        var spec = baseSpec(name: name(jobID: launch.jobID), image: image, node: launch.node, cpus: launch.cpus,
                            memoryMB: launch.memoryMB, files: files,
                            metadata: XMLElement("job", attributes: [("id", String(launch.jobID)), ("node", launch.node.name)]))
        spec.disks += jobDisks(image: image, files: files)
        if image.agent == .cloudInit {
            spec.disks.append(.init(path: files.cidata, format: "raw", target: image.disk == nil ? "vdc" : "vdd",
                                    serial: CloudInitDisk.serial, readOnly: true))
        }
        return spec
    }

    /// A pooled VM's domain: booted with its output disk but no job disk, which is
    /// hot-plugged when a job takes the VM (one hot-plug: the guest sees it in ~0.15 s).
    static func poolSpec(for pool: PoolVMSpec, files: Files) -> DomainSpec {
        var spec = baseSpec(name: poolName(id: pool.id), image: pool.environment, node: pool.node, cpus: pool.cpus,
                            memoryMB: pool.memoryMB, files: files,
                            metadata: XMLElement("pool", attributes: [("id", String(pool.id)), ("node", pool.node.name)]))
        spec.disks.append(outputDisk(image: pool.environment, files: files))
        return spec
    }

    /// The job and output disks, after the boot disk if the image has one.
    static func jobDisks(image: ImageConfig, files: Files) -> [DomainSpec.Disk] {
        [outputDisk(image: image, files: files), jobDisk(image: image, files: files)]
    }

    static func jobDisk(image: ImageConfig, files: Files) -> DomainSpec.Disk {
        .init(path: files.jobDisk, format: "raw", target: image.disk == nil ? "vda" : "vdb", serial: JobDisk.serial, readOnly: true)
    }

    private static func outputDisk(image: ImageConfig, files: Files) -> DomainSpec.Disk {
        .init(path: files.outputDisk, format: "raw", target: image.disk == nil ? "vdb" : "vdc", serial: OutputDisk.serial,
              readOnly: false)
    }

    private static func baseSpec(name: String, image: ImageConfig, node: NodeConfig, cpus: [Int], memoryMB: Int,
                                 files: Files, metadata: XMLElement) -> DomainSpec {
        var disks: [DomainSpec.Disk] = []
        let boot: DomainSpec.Boot
        switch image.boot {
        case .kernel:
            boot = .kernel(kernel: image.kernel ?? "", initrd: image.initrd, cmdline: image.cmdline)
        case .disk:
            boot = .disk
        }
        if image.disk != nil {
            disks.append(.init(path: files.overlay, format: "qcow2", target: "vda", serial: nil, readOnly: false))
        }
        return DomainSpec(
            name: name, uuid: nil, type: node.domainType, memoryMB: max(memoryMB, image.memoryMB), hostCPUs: cpus,
            boot: boot, disks: disks, consoleLogPath: files.console,
            metadata: (namespaceURI: metadataNamespace, prefix: metadataPrefix, element: metadata))
    }
}
