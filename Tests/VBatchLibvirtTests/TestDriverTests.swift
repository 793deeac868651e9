import Testing
import VBatchLibvirt

/// libvirt's in-process `test:///default` driver: the whole API without libvirtd.
@Suite("test:///default")
struct TestDriverTests {
    static let namespace = "urn:vbatch:test-driver"

    static func spec(name: String) -> DomainSpec {
        DomainSpec(
            name: name, type: "test", memoryMB: 64, hostCPUs: [0, 1], boot: .disk,
            disks: [.init(path: "/nonexistent/\(name).qcow2", format: "qcow2", target: "vda", serial: "vbatch-job")],
            metadata: (namespace, "vbatch", VBatchLibvirt.XMLElement("job", attributes: [("id", "7")], children: [
                VBatchLibvirt.XMLElement("owner", text: "cms001 <&>"),
            ]))
        )
    }

    @Test("create, list, info, XML, metadata, events, destroy")
    func domainLifecycle() async throws {
        let connection = try await LibvirtConnection(uri: "test:///default", callTimeout: .seconds(10))
        let recorder = EventRecorder(connection)
        #expect(connection.isConnected)
        #expect(connection.uri == "test:///default")

        let name = uniqueDomainName()
        let domain = try await connection.createTransient(xml: DomainXML.render(Self.spec(name: name)))
        do {
            #expect(domain.name == name)
            #expect(domain.uuid.count == 36)
            #expect(try await connection.activeDomains().contains(domain))
            #expect(try await connection.lookup(uuid: domain.uuid.uppercased()) == domain)

            let info = try await connection.info(domain)
            #expect(info.state == .running)
            #expect(info.vcpus == 2)
            #expect(info.maxMemoryKiB == 64 * 1024)

            let xml = try await connection.xmlDescription(domain)
            let parsed = try parseXML(xml)
            #expect(parsed.first("name")?.text == name)
            #expect(parsed.all("vcpupin").map(\.attributes) == [["vcpu": "0", "cpuset": "0"], ["vcpu": "1", "cpuset": "1"]])

            let metadata = try #require(try await connection.metadata(domain, namespaceURI: Self.namespace))
            let meta = try parseXML(metadata)
            #expect(meta.nodes.first?.attributes["id"] == "7")
            #expect(meta.all("owner").count + meta.all("vbatch:owner").count == 1)
            #expect(metadata.contains("cms001 &lt;&amp;&gt;"))
            #expect(try await connection.metadata(domain, namespaceURI: "urn:nobody") == nil)

            let started = try #require(await recorder.lifecycle(.started, of: domain))
            try await connection.destroy(domain)
            let stoppedIndex = try #require(await recorder.lifecycle(.stopped, of: domain, from: started + 1))
            if case .lifecycle(_, _, let detail) = recorder.events[stoppedIndex] {
                #expect(detail == StoppedDetail.destroyed)
            }
        } catch {
            await destroyQuietly(connection, domain)
            throw error
        }
        #expect(try await connection.activeDomains().contains(domain) == false)
        #expect(try await connection.lookup(uuid: domain.uuid) == nil)
        let gone = await #expect(throws: LibvirtError.self) { try await connection.info(domain) }
        #expect(gone?.isNoDomain == true)
        await connection.close()
    }

    @Test("after close, calls fail and the event stream ends")
    func closing() async throws {
        let connection = try await LibvirtConnection(uri: "test:///default")
        let ended = Task {
            for await _ in connection.events {}
            return true
        }
        await connection.close()
        #expect(connection.isConnected == false)
        let error = await #expect(throws: LibvirtError.self) { try await connection.activeDomains() }
        #expect(error?.kind == .closed)
        #expect(error?.isConnectionError == true)
        #expect(await ended.value)
        await connection.close()  // idempotent
    }

    @Test("a bad URI fails with libvirt's error")
    func badURI() async throws {
        let error = await #expect(throws: LibvirtError.self) {
            _ = try await LibvirtConnection(uri: "nosuchdriver:///x", callTimeout: .seconds(10))
        }
        #expect(error?.kind == .libvirt)
        #expect(error?.message.isEmpty == false)
    }
}
