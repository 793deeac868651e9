import Foundation
import Synchronization
import Testing
import VBatchLibvirt

extension SystemLibvirtd {
    /// Pools, volumes and transfers through libvirt's storage API, on a pool of the test's own.
    @Suite("storage pools and volumes")
    struct StorageTests {
        @Test("a dir pool is created if missing; volumes upload, download sparsely, overlay a base and are deleted")
        func volumes() async throws {
            Libvirtd.ensureRunning()
            let connection = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(30))
            let pool = "vbatch-test-\(UInt32.random(in: 0...UInt32.max))"
            let path = "/var/lib/vbatch-storage-test/\(pool)"
            let scratch = NSTemporaryDirectory() + pool
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            defer {
                _ = spawnAndWait("/usr/bin/virsh", ["-q", "-c", "qemu:///system", "pool-destroy", pool])
                _ = spawnAndWait("/usr/bin/virsh", ["-q", "-c", "qemu:///system", "pool-undefine", pool])
                try? FileManager.default.removeItem(atPath: scratch)
                try? FileManager.default.removeItem(atPath: "/var/lib/vbatch-storage-test")
            }
            try await connection.ensureDirectoryPool(name: pool, path: path)
            try await connection.ensureDirectoryPool(name: pool, path: path)  // idempotent
            await #expect(throws: LibvirtError.self) { try await connection.ensureDirectoryPool(name: pool, path: path + "-other") }
            #expect(try await connection.volumes(inPool: pool).isEmpty)

            // Upload 9 MiB + 123 bytes (three chunks), read it back, compare.
            var bytes = [UInt8](repeating: 0, count: 9 << 20 + 123)
            for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
            let source = scratch + "/source"
            try Data(bytes).write(to: URL(fileURLWithPath: source))
            try await connection.createVolume(inPool: pool, xml: StorageXML.volume(name: "blob", capacityBytes: UInt64(bytes.count),
                                                                                format: "raw"))
            let progress = ProgressLog()
            let sent = try await connection.upload(file: source, toVolume: "blob", inPool: pool) { progress.add($0) }
            #expect(sent == UInt64(bytes.count))
            #expect(progress.values.count == 3 && progress.values.last == sent)
            let blob = try #require(try await connection.volume(named: "blob", inPool: pool))
            #expect(blob.path == path + "/blob" && blob.physicalBytes == sent && blob.format == "raw")
            let back = scratch + "/back"
            #expect(try await connection.download(volume: "blob", inPool: pool, to: back) == sent)
            #expect(FileManager.default.contents(atPath: back) == Data(bytes))
            // A tail of it: the last 100 bytes.
            try await connection.download(volume: "blob", inPool: pool, to: back, offset: sent - 100)
            #expect(FileManager.default.contents(atPath: back) == Data(bytes.suffix(100)))

            // A sparse 64 MiB raw volume with data at 0 and at 40 MiB: the holes stay holes here.
            try await connection.createVolume(inPool: pool, xml: StorageXML.volume(name: "sparse", capacityBytes: 64 << 20, format: "raw"))
            let pieces = scratch + "/pieces"
            try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: pieces))
            try await connection.upload(file: pieces, toVolume: "sparse", inPool: pool)
            let sparseBack = scratch + "/sparse"
            #expect(try await connection.download(volume: "sparse", inPool: pool, to: sparseBack) == 64 << 20)
            var st = stat()
            #expect(stat(sparseBack, &st) == 0 && st.st_size == 64 << 20 && st.st_blocks * 512 < 1 << 20)
            let head = try #require(FileManager.default.contents(atPath: sparseBack)).prefix(8192)
            #expect(head.prefix(4096).allSatisfy { $0 == 7 } && head.suffix(4096).allSatisfy { $0 == 0 })

            // A qcow2 overlay created on the node with its backing store.
            try await connection.createVolume(inPool: pool, xml: StorageXML.volume(name: "overlay.qcow2", capacityBytes: UInt64(bytes.count),
                                                                                format: "qcow2",
                                                                                backing: (blob.path, "raw")))
            let overlay = try #require(try await connection.volume(named: "overlay.qcow2", inPool: pool))
            #expect(overlay.format == "qcow2" && overlay.physicalBytes < 1 << 20)
            let info = try String(decoding: runCapturing("/usr/bin/qemu-img", ["info", "-U", overlay.path]), as: UTF8.self)
            #expect(info.contains("backing file: \(blob.path)") && info.contains("backing file format: raw"))

            // Hostile names cannot change the XML; formats are checked.
            #expect(throws: (any Error).self) { try StorageXML.volume(name: "x", capacityBytes: 1, format: "vmdk") }
            let odd = try StorageXML.volume(name: "a'<b>&\"", capacityBytes: 1, format: "raw")
            #expect(odd.contains("<name>a&apos;&lt;b&gt;&amp;&quot;</name>") || odd.contains("<name>a'&lt;b&gt;&amp;\"</name>"))

            #expect(try await connection.deleteVolume(named: "blob", inPool: pool))
            #expect(try await connection.deleteVolume(named: "blob", inPool: pool) == false)
            #expect(try await connection.volume(named: "blob", inPool: pool) == nil)
            #expect(Set(try await connection.volumes(inPool: pool).map(\.name)) == ["sparse", "overlay.qcow2"])
            await #expect(throws: LibvirtError.self) {
                try await connection.download(volume: "blob", inPool: pool, to: back)
            }
            await connection.close()
        }
    }
}

/// Progress callbacks, collected.
final class ProgressLog: Sendable {
    private let log = Mutex<[UInt64]>([])
    func add(_ value: UInt64) { log.withLock { $0.append(value) } }
    var values: [UInt64] { log.withLock { $0 } }
}

/// Runs a program and returns its standard output (for inspecting files the node made).
func runCapturing(_ path: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return data
}
