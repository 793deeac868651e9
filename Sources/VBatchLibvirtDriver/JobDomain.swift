import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// How a job's VM is described to libvirt: names, metadata and the domain specification.
///
/// Everything user-controlled stays out of the XML: the domain is named after the job id,
/// paths are volumes of the node's vbatch pools, and the payload travels on the job disk.
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
        guard xml.hasPrefix("<job"), let value = attribute("id", in: xml) else { return nil }
        return Int64(value)
    }

    /// The node a vbatch domain was created for (`node="…"` of its metadata element): two
    /// configured nodes may share a libvirtd, and each looks after its own domains only.
    static func nodeName(fromMetadata xml: String) -> String? { attribute("node", in: xml) }

    private static func attribute(_ name: String, in xml: String) -> String? {
        for quote in ["\"", "'"] {
            if let range = xml.range(of: " \(name)=\(quote)") {
                return String(xml[range.upperBound...].prefix { String($0) != quote })
            }
        }
        return nil
    }

    /// The job whose job disk (`…/job-ID.img`) is attached to a pooled domain, from the
    /// domain's live XML: how a job in a pooled VM is found again after a restart.
    static func jobID(fromDomainXML xml: String) -> Int64? {
        guard let start = xml.range(of: NodeLayout.jobPath + "/job-") else { return nil }
        let digits = xml[start.upperBound...].prefix { $0.isNumber }
        guard xml[start.upperBound...].dropFirst(digits.count).hasPrefix(".img") else { return nil }
        return Int64(digits)
    }

    /// Node paths of the catalogue files a VM boots from (volumes of the image pool).
    struct BootFiles: Sendable {
        var disk: String?
        var kernel: String?
        var initrd: String?

        init(_ files: [NodeFile]) {
            for file in files {
                let path = NodeLayout.imagePath(sha256: file.sha256)
                switch file.role {
                case .disk: disk = path
                case .kernel: kernel = path
                case .initrd: initrd = path
                }
            }
        }
    }

    /// A job's own domain: boot disk (overlay) if the image has one, job disk, output disk.
    static func spec(for launch: LaunchSpec, boot: BootFiles) -> DomainSpec {
        let image = launch.environment
        let volumes = VMVolumes(owner: .job(launch.jobID))
        var spec = baseSpec(name: name(jobID: launch.jobID), image: image, node: launch.node, cpus: launch.cpus,
                            memoryMB: launch.memoryMB, volumes: volumes, boot: boot,
                            metadata: XMLElement("job", attributes: [("id", String(launch.jobID)), ("node", launch.node.name)]))
        spec.disks += [outputDisk(image: image, volumes: volumes), jobDisk(image: image, jobID: launch.jobID)]
        if image.agent == .cloudInit {
            spec.disks.append(.init(path: VMVolumes.path(volumes.cidata), format: "raw", target: image.disk == nil ? "vdc" : "vdd",
                                    serial: CloudInitDisk.serial, readOnly: true))
        }
        return spec
    }

    /// A pooled VM's domain: booted with its output disk but no job disk, which is
    /// hot-plugged when a job takes the VM (one hot-plug: the guest sees it in ~0.15 s).
    static func poolSpec(for pool: PoolVMSpec, boot: BootFiles) -> DomainSpec {
        let volumes = VMVolumes(owner: .pool(pool.id))
        var spec = baseSpec(name: poolName(id: pool.id), image: pool.environment, node: pool.node, cpus: pool.cpus,
                            memoryMB: pool.memoryMB, volumes: volumes, boot: boot,
                            metadata: XMLElement("pool", attributes: [("id", String(pool.id)), ("node", pool.node.name)]))
        spec.disks.append(outputDisk(image: pool.environment, volumes: volumes))
        return spec
    }

    /// The read-only job disk of a job, for its own VM or hot-plugged into a pooled one.
    static func jobDisk(image: ImageConfig, jobID: Int64) -> DomainSpec.Disk {
        .init(path: VMVolumes.path(VMVolumes(owner: .job(jobID)).jobDisk), format: "raw",
              target: image.disk == nil ? "vda" : "vdb", serial: JobDisk.serial, readOnly: true)
    }

    private static func outputDisk(image: ImageConfig, volumes: VMVolumes) -> DomainSpec.Disk {
        .init(path: VMVolumes.path(volumes.outputDisk), format: "raw", target: image.disk == nil ? "vdb" : "vdc",
              serial: OutputDisk.serial, readOnly: false)
    }

    private static func baseSpec(name: String, image: ImageConfig, node: NodeConfig, cpus: [Int], memoryMB: Int,
                                 volumes: VMVolumes, boot files: BootFiles, metadata: XMLElement) -> DomainSpec {
        var disks: [DomainSpec.Disk] = []
        let boot: DomainSpec.Boot
        switch image.boot {
        case .kernel:
            boot = .kernel(kernel: files.kernel ?? "", initrd: files.initrd, cmdline: image.cmdline)
        case .disk:
            boot = .disk
        }
        if image.disk != nil {
            disks.append(.init(path: VMVolumes.path(volumes.overlay), format: "qcow2", target: "vda", serial: nil, readOnly: false))
        }
        return DomainSpec(
            name: name, uuid: nil, type: node.domainType, memoryMB: max(memoryMB, image.memoryMB), hostCPUs: cpus,
            boot: boot, disks: disks, consoleLogPath: VMVolumes.path(volumes.console),
            metadata: (namespaceURI: metadataNamespace, prefix: metadataPrefix, element: metadata))
    }

    /// A job domain's XML (saved with its state, or the migratable live XML) made fit for
    /// another node: its vCPUs pinned to `cpus` there, its metadata naming `node`. Everything
    /// else stays byte for byte, as a restore or migration requires the same devices.
    static func retarget(xml: String, cpus: [Int], node: String) throws -> String {
        let cpuset = cpus.map(String.init).joined(separator: ",")
        let pins = cpus.enumerated().map { "<vcpupin vcpu='\($0)' cpuset='\($1)'/>" }.joined()
        var out = try replacing(element: "vcpu", in: xml, with: "<vcpu placement='static' cpuset='\(cpuset)'>\(cpus.count)</vcpu>")
        out = try replacing(element: "cputune", in: out, with: "<cputune>\(pins)</cputune>")
        guard let start = out.range(of: "<\(metadataPrefix):job "), let end = out[start.upperBound...].range(of: ">") else {
            throw DriverError("the saved domain XML has no vbatch job metadata")
        }
        let element = String(out[start.lowerBound..<end.upperBound])
        guard let old = nodeName(fromMetadata: String(element.dropFirst(metadataPrefix.count + 2))) else {
            throw DriverError("the saved domain XML's job metadata names no node")
        }
        let retargeted = element.replacingOccurrences(of: "node=\"\(old)\"", with: "node=\"\(node)\"")
            .replacingOccurrences(of: "node='\(old)'", with: "node='\(node)'")
        out.replaceSubrange(start.lowerBound..<end.upperBound, with: retargeted)
        return out
    }

    /// `xml` with its first `<name …>…</name>` element replaced by `replacement`.
    private static func replacing(element name: String, in xml: String, with replacement: String) throws -> String {
        guard let open = xml.range(of: "<\(name)>") ?? xml.range(of: "<\(name) "),
              let close = xml[open.upperBound...].range(of: "</\(name)>") else {
            throw DriverError("the domain XML has no <\(name)> element")
        }
        var out = xml
        out.replaceSubrange(open.lowerBound..<close.upperBound, with: replacement)
        return out
    }

    /// The `<uuid>` of a domain XML.
    static func uuid(fromDomainXML xml: String) -> String? {
        guard let open = xml.range(of: "<uuid>"), let close = xml[open.upperBound...].range(of: "</uuid>") else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
    }
}
