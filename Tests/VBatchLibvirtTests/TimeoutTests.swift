import Foundation
import Testing
import VBatchLibvirt

extension SystemLibvirtd {
    @Suite("Timeouts")
    struct TimeoutTests {
        @Test("a frozen libvirtd: calls time out on time, later calls do not queue, all recovers")
        func frozenDaemon() async throws {
            Libvirtd.ensureRunning()
            defer { Libvirtd.ensureRunning() }
            let connection = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(1))
            _ = try await connection.activeDomains()
            let pid = try #require(Libvirtd.pid())

            kill(pid, SIGSTOP)
            defer { kill(pid, SIGCONT) }
            for attempt in 1...3 {
                let (error, seconds) = await measure {
                    await #expect(throws: LibvirtError.self) { try await connection.activeDomains() }
                }
                print("call \(attempt) with libvirtd stopped: \(error.map { "\($0)" } ?? "no error") after \(String(format: "%.3f", seconds)) s")
                #expect(error?.isTimeout == true)
                if attempt <= 2 {
                    #expect(seconds >= 0.9 && seconds < 4, "the 1 s timeout, not the frozen daemon")
                } else {
                    // Two calls of this connection are stuck in libvirt: the next fails at once
                    // instead of taking a third thread.
                    #expect(seconds < 0.5, "a connection with 2 stuck calls fails its next call at once")
                }
            }
            // Concurrent calls each fail within their deadline (here at once: the lane is full).
            let (results, seconds) = await measure {
                await withTaskGroup(of: Bool.self) { group in
                    for _ in 0..<6 {
                        group.addTask {
                            do {
                                _ = try await connection.lookup(uuid: UUID().uuidString)
                                return false
                            } catch let error as LibvirtError {
                                return error.isTimeout
                            } catch {
                                return false
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(results == Array(repeating: true, count: 6))
            #expect(seconds < 4)
            kill(pid, SIGCONT)

            // The stuck calls return once libvirtd runs again; new calls work.
            var recovered = false
            for _ in 0..<20 where !recovered {
                recovered = (try? await connection.activeDomains()) != nil
                if !recovered {
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
            #expect(recovered)
            #expect(connection.isConnected)
            await connection.close()
        }
    }
}
