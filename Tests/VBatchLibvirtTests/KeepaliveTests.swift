import Foundation
import Testing
import VBatchLibvirt

extension SystemLibvirtd {
    /// Slow (about 30 s of libvirtd frozen): run with `VBATCH_LIBVIRT_SLOW_TESTS=1`.
    @Suite("Keepalive", .enabled(if: ProcessInfo.processInfo.environment["VBATCH_LIBVIRT_SLOW_TESTS"] != nil))
    struct KeepaliveTests {
        @Test("a libvirtd frozen past the keepalive: .disconnected, then .reconnected once it runs again")
        func frozenPastKeepalive() async throws {
            Libvirtd.ensureRunning()
            defer { Libvirtd.ensureRunning() }
            let connection = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(2))
            let recorder = EventRecorder(connection)
            _ = try await connection.activeDomains()
            let pid = try #require(Libvirtd.pid())

            kill(pid, SIGSTOP)
            defer { kill(pid, SIGCONT) }
            let (disconnected, seconds) = await measure {
                await recorder.index(timeout: .seconds(60)) {
                    if case .disconnected = $0 { return true }
                    return false
                }
            }
            let index = try #require(disconnected)
            print("frozen libvirtd noticed after \(String(format: "%.1f", seconds)) s: \(recorder.events[index])")
            kill(pid, SIGCONT)
            let (reconnected, back) = await measure {
                await recorder.index(from: index + 1, timeout: .seconds(60)) { $0 == .reconnected }
            }
            #expect(reconnected != nil)
            print("reconnected \(String(format: "%.1f", back)) s after SIGCONT")
            _ = try await connection.activeDomains()
            await connection.close()
        }
    }
}
