import Foundation
import Synchronization
import VBatchLibvirt

/// What vbatch left on this machine's libvirtd once its jobs ended: domains named as job or
/// pooled VMs, and volumes in the job pool.
enum LibvirtLeftovers {
    static func find(uri: String = "qemu:///system") async throws -> [String] {
        let connection = try await LibvirtConnection(uri: uri)
        defer { Task { await connection.close() } }
        let domains = try await connection.activeDomains().map(\.name).filter { $0.hasPrefix("vbatch-") }
        let volumes = (try? await connection.volumes(inPool: "vbatch-jobs").map(\.name)) ?? []
        return domains + volumes
    }

    /// `find()` for a synchronous caller.
    static func findNow() throws -> [String] { try blocking { try await find() } }

    /// The host CPUs each running vbatch domain's vCPUs are pinned to (its `<vcpupin>`s).
    static func pins(uri: String = "qemu:///system") async throws -> [String: Set<Int>] {
        let connection = try await LibvirtConnection(uri: uri)
        defer { Task { await connection.close() } }
        var pins: [String: Set<Int>] = [:]
        for domain in try await connection.activeDomains() where domain.name.hasPrefix("vbatch-") {
            guard let xml = try? await connection.xmlDescription(domain) else { continue }  // gone meanwhile
            var cpus = Set<Int>()
            for pin in xml.components(separatedBy: "<vcpupin ").dropFirst() {
                guard let start = pin.range(of: "cpuset='"), let end = pin[start.upperBound...].firstIndex(of: "'") else { continue }
                for part in pin[start.upperBound..<end].split(separator: ",") {
                    let bounds = part.split(separator: "-").compactMap { Int($0) }
                    if let low = bounds.first { cpus.formUnion(low...(bounds.last ?? low)) }
                }
            }
            pins[domain.name] = cpus
        }
        return pins
    }

    /// `pins()` for a synchronous caller.
    static func pinsNow() throws -> [String: Set<Int>] { try blocking { try await pins() } }

    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let result = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do { let value = try await body(); result.withLock { $0 = .success(value) } } catch { result.withLock { $0 = .failure(error) } }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }
}
