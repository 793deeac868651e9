/// Renders ``DomainSpec`` as libvirt domain XML through ``XMLElement``, so no string from the
/// spec can change the document's structure.
///
/// The domain powers off for good on every exit (`on_poweroff`, `on_reboot`, `on_crash` are all
/// `destroy`), has ACPI (for ``LibvirtConnection/shutdown(_:)``), no network, no graphics and
/// no memory balloon; the emulator is left to libvirt.
public enum DomainXML {
    /// The domain XML for `spec`.
    public static func render(_ spec: DomainSpec) throws -> String {
        try domainElement(spec).render()
    }

    /// The `<disk>` XML for one disk, for ``LibvirtConnection/attachDevice(_:xml:)``.
    public static func diskXML(_ disk: DomainSpec.Disk) throws -> String {
        try diskElement(disk, field: "disk").render()
    }

    /// The `<domain>` element for `spec`.
    public static func domainElement(_ spec: DomainSpec) throws -> XMLElement {
        try check(!spec.name.isEmpty, "name", "must not be empty")
        try check(isToken(spec.type), "type", "must be a plain word such as qemu or kvm")
        try check(isToken(spec.arch), "arch", "must be a plain word such as x86_64")
        try check(spec.memoryMB > 0, "memoryMB", "must be positive")
        try check(!spec.hostCPUs.isEmpty, "hostCPUs", "at least one host CPU is needed")
        try check(spec.hostCPUs.allSatisfy { $0 >= 0 }, "hostCPUs", "CPU numbers must not be negative")
        try check(Set(spec.hostCPUs).count == spec.hostCPUs.count, "hostCPUs", "a host CPU is listed twice")

        var children: [XMLElement] = [XMLElement("name", text: spec.name)]
        if let uuid = spec.uuid {
            children.append(XMLElement("uuid", text: uuid))
        }
        if let metadata = spec.metadata {
            try check(XMLElement.isPlainName(Substring(metadata.prefix)), "metadata.prefix", "must be a plain XML name")
            try check(!metadata.namespaceURI.isEmpty, "metadata.namespaceURI", "must not be empty")
            var element = metadata.element.prefixed(metadata.prefix)
            element.attributes.insert(("xmlns:\(metadata.prefix)", metadata.namespaceURI), at: 0)
            children.append(XMLElement("metadata", children: [element]))
        }
        children.append(XMLElement("memory", attributes: [("unit", "MiB")], text: String(spec.memoryMB)))
        let cpuset = spec.hostCPUs.map(String.init).joined(separator: ",")
        children.append(XMLElement("vcpu", attributes: [("placement", "static"), ("cpuset", cpuset)],
                                   text: String(spec.hostCPUs.count)))
        children.append(XMLElement("cputune", children: spec.hostCPUs.enumerated().map { index, cpu in
            XMLElement("vcpupin", attributes: [("vcpu", String(index)), ("cpuset", String(cpu))])
        }))
        children.append(osElement(spec))
        children.append(XMLElement("features", children: [XMLElement("acpi")]))
        children.append(XMLElement("on_poweroff", text: "destroy"))
        children.append(XMLElement("on_reboot", text: "destroy"))
        children.append(XMLElement("on_crash", text: "destroy"))

        var devices: [XMLElement] = []
        for (index, disk) in spec.disks.enumerated() {
            devices.append(try diskElement(disk, field: "disks[\(index)]"))
        }
        try check(Set(spec.disks.map(\.target)).count == spec.disks.count, "disks", "two disks have the same target")
        if let path = spec.consoleLogPath {
            try check(!path.isEmpty, "consoleLogPath", "must not be empty")
            devices.append(XMLElement("serial", attributes: [("type", "file")], children: [
                XMLElement("source", attributes: [("path", path)]),
                XMLElement("target", attributes: [("port", "0")]),
            ]))
            devices.append(XMLElement("console", attributes: [("type", "file")], children: [
                XMLElement("source", attributes: [("path", path)]),
                XMLElement("target", attributes: [("type", "serial"), ("port", "0")]),
            ]))
        }
        devices.append(XMLElement("memballoon", attributes: [("model", "none")]))
        children.append(XMLElement("devices", children: devices))
        return XMLElement("domain", attributes: [("type", spec.type)], children: children)
    }

    private static func osElement(_ spec: DomainSpec) -> XMLElement {
        var typeAttributes = [("arch", spec.arch)]
        if let machine = spec.machine {
            typeAttributes.append(("machine", machine))
        }
        var children = [XMLElement("type", attributes: typeAttributes, text: "hvm")]
        switch spec.boot {
        case .kernel(let kernel, let initrd, let cmdline):
            children.append(XMLElement("kernel", text: kernel))
            if let initrd {
                children.append(XMLElement("initrd", text: initrd))
            }
            children.append(XMLElement("cmdline", text: cmdline))
        case .disk:
            children.append(XMLElement("boot", attributes: [("dev", "hd")]))
        }
        return XMLElement("os", children: children)
    }

    private static func diskElement(_ disk: DomainSpec.Disk, field: String) throws -> XMLElement {
        try check(!disk.path.isEmpty, "\(field).path", "must not be empty")
        try check(["raw", "qcow2"].contains(disk.format), "\(field).format",
                  "must be raw or qcow2, not \(disk.format.debugDescription)")
        try check(isTarget(disk.target), "\(field).target", "must be a virtio device name such as vda")
        var children = [
            XMLElement("driver", attributes: [("name", "qemu"), ("type", disk.format)]),
            XMLElement("source", attributes: [("file", disk.path)]),
            XMLElement("target", attributes: [("dev", disk.target), ("bus", "virtio")]),
        ]
        if let serial = disk.serial {
            children.append(XMLElement("serial", text: serial))
        }
        if disk.readOnly {
            children.append(XMLElement("readonly"))
        }
        return XMLElement("disk", attributes: [("type", "file"), ("device", "disk")], children: children)
    }

    private static func check(_ condition: Bool, _ field: String, _ reason: String) throws {
        if !condition {
            throw DomainSpecError(field: field, reason: reason)
        }
    }

    /// `[a-z0-9_]+`: domain types, architectures.
    private static func isToken(_ value: String) -> Bool {
        !value.isEmpty && value.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// `vd` followed by one to three lower-case letters.
    private static func isTarget(_ value: String) -> Bool {
        let scalars = Array(value.unicodeScalars)
        return scalars.count >= 3 && scalars.count <= 5 && value.hasPrefix("vd")
            && scalars.dropFirst(2).allSatisfy { ("a"..."z").contains($0) }
    }
}
