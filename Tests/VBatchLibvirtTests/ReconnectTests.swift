import Foundation
import Testing
import VBatchLibvirt

extension SystemLibvirtd {
    @Suite("Reconnect")
    struct ReconnectTests {
        @Test("libvirtd restart: .disconnected, calls fail fast, .reconnected, events flow again")
        func restart() async throws {
            Libvirtd.ensureRunning()
            defer { Libvirtd.ensureRunning() }
            let connection = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(30))
            let recorder = EventRecorder(connection)
            _ = try await connection.activeDomains()

            let (_, stopSeconds) = try await measure { try Libvirtd.stop() }
            let disconnected = try #require(await recorder.index(timeout: .seconds(30)) {
                if case .disconnected = $0 { return true }
                return false
            })
            print("libvirtd stopped in \(String(format: "%.2f", stopSeconds)) s; event: \(recorder.events[disconnected])")
            #expect(connection.isConnected == false)
            let (error, failSeconds) = await measure {
                await #expect(throws: LibvirtError.self) { try await connection.activeDomains() }
            }
            #expect(error?.isConnectionError == true)
            #expect(failSeconds < 3, "fails fast, not after the 30 s call timeout")

            let (reconnected, reconnectSeconds) = await measure {
                Libvirtd.ensureRunning()
                return await recorder.index(from: disconnected + 1, timeout: .seconds(60)) { $0 == .reconnected }
            }
            let reconnectedIndex = try #require(reconnected)
            print("libvirtd started and connection back in \(String(format: "%.2f", reconnectSeconds)) s")
            #expect(connection.isConnected)
            _ = try await connection.activeDomains()

            // The lifecycle callback is registered on the new connection.
            let spec = DomainSpec(name: uniqueDomainName(), type: "qemu", memoryMB: 64, hostCPUs: [0], boot: .disk)
            let domain = try await connection.createTransient(xml: DomainXML.render(spec))
            let started = await recorder.lifecycle(.started, of: domain, from: reconnectedIndex + 1)
            try await connection.destroy(domain)
            #expect(started != nil)
            #expect(await recorder.lifecycle(.stopped, of: domain, from: reconnectedIndex + 1) != nil)
            #expect(recorder.events.filter { $0 == .reconnected }.count == 1)
            await connection.close()
        }
    }
}
