import Foundation
import Testing
import VBatchLibvirt

extension SystemLibvirtd {
    /// A real TCG guest: no bootable disk, so it sits in SeaBIOS, which is all these tests need.
    @Suite("QEMU domains")
    struct QemuDomainTests {
        static let namespace = "urn:vbatch:qemu-test"

        @Test("a pinned 2-vCPU TCG domain: created, described, shut down, destroyed, with events")
        func pinnedDomain() async throws {
            Libvirtd.ensureRunning()
            let connection = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(60))
            let recorder = EventRecorder(connection)
            print("libvirt on qemu:///system: \(try await connection.libvirtVersion())")
            let name = uniqueDomainName()
            let log = NSTemporaryDirectory() + "\(name).console"
            defer { try? FileManager.default.removeItem(atPath: log) }
            let spec = DomainSpec(
                name: name, type: "qemu", memoryMB: 64, hostCPUs: [0, 1], boot: .disk, consoleLogPath: log,
                metadata: (Self.namespace, "vbatch", VBatchLibvirt.XMLElement("job", attributes: [("id", "1234")],
                                                                          children: [VBatchLibvirt.XMLElement("queue", text: "grid")]))
            )
            let (domain, createSeconds) = try await measure {
                try await connection.createTransient(xml: DomainXML.render(spec))
            }
            print("virDomainCreateXML (TCG, 64 MiB, 2 vCPUs): \(String(format: "%.2f", createSeconds)) s")
            do {
                let started = try #require(await recorder.lifecycle(.started, of: domain))
                #expect(try await connection.activeDomains().contains(domain))

                let live = try parseXML(try await connection.xmlDescription(domain))
                #expect(live.all("vcpupin").map(\.attributes) == [["vcpu": "0", "cpuset": "0"], ["vcpu": "1", "cpuset": "1"]])
                #expect(live.first("vbatch:job")?.attributes["id"] == "1234")
                #expect(live.first("vbatch:queue")?.text == "grid")
                #expect(live.first("domain")?.attributes["type"] == "qemu")
                #expect(live.first("memballoon")?.attributes["model"] == "none")

                let metadata = try #require(try await connection.metadata(domain, namespaceURI: Self.namespace))
                print("metadata as libvirt returns it: \(metadata.replacingOccurrences(of: "\n", with: " "))")
                #expect(try parseXML(metadata).nodes.first?.attributes["id"] == "1234")

                let info = try await connection.info(domain)
                #expect(info.state == .running)
                #expect(info.vcpus == 2)
                #expect(info.maxMemoryKiB == 64 * 1024)

                try await connection.shutdown(domain)  // SeaBIOS ignores ACPI: the domain stays up
                let (_, destroySeconds) = try await measure { try await connection.destroy(domain) }
                print("virDomainDestroy: \(String(format: "%.2f", destroySeconds)) s")
                let stopped = try #require(await recorder.lifecycle(.stopped, of: domain, from: started + 1))
                if case .lifecycle(_, _, let detail) = recorder.events[stopped] {
                    #expect(detail == StoppedDetail.destroyed)
                }
            } catch {
                await destroyQuietly(connection, domain)
                throw error
            }
            #expect(try await connection.lookup(uuid: domain.uuid) == nil)
            await connection.close()
        }

        @Test("bad domain XML fails with libvirt's code and message")
        func badXML() async throws {
            Libvirtd.ensureRunning()
            let connection = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(30))
            for xml in ["<domain type='qemu'><name>x</name>", "<domain type='qemu'><name>vbatch-test-bad</name></domain>"] {
                let error = await #expect(throws: LibvirtError.self) { try await connection.createTransient(xml: xml) }
                print("libvirt says: \(error.map { "\($0)" } ?? "nothing")")
                #expect(error?.kind == .libvirt)
                #expect(error?.code != 0)
                #expect(error?.message.isEmpty == false)
                #expect(error?.operation == "virDomainCreateXML")
                #expect(error?.isConnectionError == false)
            }
            #expect(connection.isConnected)
            await connection.close()
        }

        @Test("a disk hot-plugged into a running domain appears in its live XML")
        func hotplug() async throws {
            Libvirtd.ensureRunning()
            let connection = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(60))
            let name = uniqueDomainName()
            let image = NSTemporaryDirectory() + "\(name).img"
            FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20))
            defer { try? FileManager.default.removeItem(atPath: image) }
            let spec = DomainSpec(name: name, type: "qemu", memoryMB: 64, hostCPUs: [1], boot: .disk)
            let domain = try await connection.createTransient(xml: DomainXML.render(spec))
            do {
                let disk = DomainSpec.Disk(path: image, format: "raw", target: "vdb", serial: "vbatch-job", readOnly: true)
                try await connection.attachDevice(domain, xml: DomainXML.diskXML(disk))
                let live = try parseXML(try await connection.xmlDescription(domain))
                #expect(live.all("source").contains { $0.attributes["file"] == image })
                #expect(live.first("serial")?.text == "vbatch-job")
            } catch {
                await destroyQuietly(connection, domain)
                throw error
            }
            try await connection.destroy(domain)
            await connection.close()
        }
    }
}
