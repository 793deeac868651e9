import Foundation
import VBatchLibvirt

/// One JSON line per reliability figure run, appended to `$VBATCH_RELIABILITY_OUT` when
/// it is set: scripts/reliability.sh collects them into docs/reliability.md's table.
enum ReliabilityResults {
    static func append(_ fields: [String: Any]) {
        guard let path = ProcessInfo.processInfo.environment["VBATCH_RELIABILITY_OUT"], !path.isEmpty,
              let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let file = FileHandle(forWritingAtPath: path) else { return }
        file.seekToEndOfFile()
        file.write(data + Data("\n".utf8))
        try? file.close()
    }
}

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
}
