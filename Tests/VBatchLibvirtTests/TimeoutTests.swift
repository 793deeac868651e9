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

        @Test("a VM libvirt starts after its call timed out is destroyed, not left running untracked")
        func lateDomainIsDestroyed() async throws {
            Libvirtd.ensureRunning()
            defer { Libvirtd.ensureRunning() }
            let observer = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(30))
            let recorder = EventRecorder(observer)
            let connection = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(1))
            let name = uniqueDomainName()
            let xml = try DomainXML.render(DomainSpec(name: name, type: "qemu", memoryMB: 64, hostCPUs: [0], boot: .disk,
                                                      consoleLogPath: NSTemporaryDirectory() + "\(name).console"))
            defer { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "\(name).console") }
            let pid = try #require(Libvirtd.pid())

            // The request reaches the frozen libvirtd; the caller gives up after 1 s.
            kill(pid, SIGSTOP)
            let error = await #expect(throws: LibvirtError.self) { try await connection.createTransient(xml: xml) }
            #expect(error?.isTimeout == true)
            kill(pid, SIGCONT)

            // libvirtd then creates the VM; the connection destroys it as the late answer arrives.
            func event(_ kind: LifecycleEvent, from start: Int = 0) async -> Int? {
                await recorder.index(from: start, timeout: .seconds(60)) { event in
                    if case .lifecycle(let ref, let observed, _) = event { return ref.name == name && observed == kind }
                    return false
                }
            }
            let started = try #require(await event(.started), "libvirtd created the domain after the timeout")
            let stopped = await event(.stopped, from: started + 1)
            let left = try await observer.activeDomains().filter { $0.name == name }
            for domain in left { await destroyQuietly(observer, domain) }
            #expect(stopped != nil && left.isEmpty, "the late domain was destroyed")
            await connection.close()
            await observer.close()
        }
    }
}
