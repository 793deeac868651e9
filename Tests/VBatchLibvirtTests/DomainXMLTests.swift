import Testing
import VBatchLibvirt

@Suite("DomainXML")
struct DomainXMLTests {
    static let hostile = "evil<domain>&'\"\n]]></name><name>x</name>\r\t<!-- --> ../../etc/passwd"
    static let namespace = "urn:vbatch:test"

    static func spec(_ value: String, boot: DomainSpec.Boot) -> DomainSpec {
        DomainSpec(
            name: "n" + value, uuid: "u" + value, type: "qemu", memoryMB: 256, hostCPUs: [3, 5],
            boot: boot,
            disks: [
                .init(path: "/p/" + value, format: "qcow2", target: "vda", serial: "s" + value, readOnly: true),
                .init(path: value, format: "raw", target: "vdb", serial: nil, readOnly: false),
            ],
            consoleLogPath: "/log/" + value,
            metadata: (namespace, "vbatch", VBatchLibvirt.XMLElement("job", attributes: [("user", value)], children: [
                VBatchLibvirt.XMLElement("id", text: "42"), VBatchLibvirt.XMLElement("env", text: value),
            ]))
        )
    }

    @Test("hostile strings keep the template's structure and come back unchanged",
          arguments: [DomainSpec.Boot.disk, .kernel(kernel: "/k/" + hostile, initrd: "/i/" + hostile, cmdline: hostile)])
    func hostileStrings(boot: DomainSpec.Boot) throws {
        let templateBoot: DomainSpec.Boot
        if case .kernel = boot {
            templateBoot = .kernel(kernel: "/k/plain", initrd: "/i/plain", cmdline: "plain")
        } else {
            templateBoot = .disk
        }
        let template = try parseXML(DomainXML.render(Self.spec("plain", boot: templateBoot)))
        let parsed = try parseXML(DomainXML.render(Self.spec(Self.hostile, boot: boot)))
        #expect(parsed.shape == template.shape)

        let h = Self.hostile
        #expect(parsed.first("name")?.text == "n" + h)
        #expect(parsed.first("uuid")?.text == "u" + h)
        #expect(parsed.all("source").compactMap { $0.attributes["file"] } == ["/p/" + h, h])
        #expect(parsed.all("source").compactMap { $0.attributes["path"] } == ["/log/" + h, "/log/" + h])
        #expect(parsed.first("serial")?.text == "s" + h)
        #expect(parsed.first("vbatch:job")?.attributes["user"] == h)
        #expect(parsed.first("vbatch:job")?.attributes["xmlns:vbatch"] == Self.namespace)
        #expect(parsed.first("vbatch:env")?.text == h)
        if case .kernel = boot {
            #expect(parsed.first("kernel")?.text == "/k/" + h)
            #expect(parsed.first("initrd")?.text == "/i/" + h)
            #expect(parsed.first("cmdline")?.text == h)
        }
    }

    @Test("the template has the agreed shape")
    func template() throws {
        let parsed = try parseXML(DomainXML.render(Self.spec("plain", boot: .disk)))
        #expect(parsed.nodes[0].name == "domain" && parsed.nodes[0].attributes == ["type": "qemu"])
        #expect(parsed.first("vcpu")?.text == "2")
        #expect(parsed.first("vcpu")?.attributes["cpuset"] == "3,5")
        #expect(parsed.all("vcpupin").map(\.attributes) == [["vcpu": "0", "cpuset": "3"], ["vcpu": "1", "cpuset": "5"]])
        #expect(parsed.first("memory")?.attributes["unit"] == "MiB" && parsed.first("memory")?.text == "256")
        #expect(parsed.first("type")?.attributes == ["arch": "x86_64", "machine": "pc"])
        #expect(parsed.first("boot")?.attributes == ["dev": "hd"])
        #expect(parsed.first("acpi") != nil)
        for event in ["on_poweroff", "on_reboot", "on_crash"] {
            #expect(parsed.first(event)?.text == "destroy")
        }
        #expect(parsed.all("driver").map { $0.attributes["type"] } == ["qcow2", "raw"])
        #expect(parsed.first("readonly") != nil && parsed.all("readonly").count == 1)
        #expect(parsed.first("memballoon")?.attributes == ["model": "none"])
        for absent in ["emulator", "interface", "graphics", "video"] {
            #expect(parsed.first(absent) == nil)
        }
    }

    @Test("NUL anywhere is rejected")
    func nulRejected() throws {
        let nul = "a\u{0}b"
        var specs: [DomainSpec] = []
        var spec = Self.spec("plain", boot: .disk)
        spec.name = nul; specs.append(spec)
        spec = Self.spec("plain", boot: .disk)
        spec.disks[0].path = nul; specs.append(spec)
        spec = Self.spec("plain", boot: .disk)
        spec.disks[1].serial = nul; specs.append(spec)
        spec = Self.spec("plain", boot: .disk)
        spec.consoleLogPath = nul; specs.append(spec)
        specs.append(Self.spec(nul, boot: .kernel(kernel: "/k", initrd: nil, cmdline: "plain")))
        specs.append(Self.spec("plain", boot: .kernel(kernel: "/k", initrd: nil, cmdline: nul)))
        for spec in specs {
            #expect(throws: XMLError.self) { try DomainXML.render(spec) }
        }
        #expect(throws: XMLError.self) {
            try DomainXML.diskXML(.init(path: nul, format: "raw", target: "vdc"))
        }
    }

    @Test("values libvirt would misread are rejected")
    func invalidSpecs() throws {
        func field(_ change: (inout DomainSpec) -> Void) -> String? {
            var spec = Self.spec("plain", boot: .disk)
            change(&spec)
            do {
                _ = try DomainXML.render(spec)
                return nil
            } catch let error as DomainSpecError {
                return error.field
            } catch {
                return "\(error)"
            }
        }
        #expect(field { $0.disks[0].format = "vmdk" } == "disks[0].format")
        #expect(field { $0.disks[1].format = "" } == "disks[1].format")
        #expect(field { $0.disks[0].target = "sda" } == "disks[0].target")
        #expect(field { $0.disks[1].target = "vda" } == "disks")
        #expect(field { $0.hostCPUs = [] } == "hostCPUs")
        #expect(field { $0.hostCPUs = [1, 1] } == "hostCPUs")
        #expect(field { $0.memoryMB = 0 } == "memoryMB")
        #expect(field { $0.type = "qemu' x='" } == "type")
        #expect(field { $0.name = "" } == "name")
        #expect(field { $0.metadata?.prefix = "a b" } == "metadata.prefix")
        #expect(throws: DomainSpecError.self) { try DomainXML.diskXML(.init(path: "/x", format: "vpc", target: "vdc")) }
    }

    @Test("diskXML renders one hot-pluggable disk")
    func diskXML() throws {
        let xml = try DomainXML.diskXML(.init(path: "/spool/1/job.tar", format: "raw", target: "vdb",
                                              serial: "vbatch-job", readOnly: true))
        let parsed = try parseXML(xml)
        #expect(parsed.shape == ["0 disk [device,type]", "1 driver [name,type]", "1 source [file]",
                                 "1 target [bus,dev]", "1 serial []", "1 readonly []"])
        #expect(parsed.first("target")?.attributes == ["dev": "vdb", "bus": "virtio"])
    }
}
