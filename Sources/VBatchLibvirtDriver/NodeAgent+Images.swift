import Foundation
import Synchronization
import VBatchCore
import VBatchDrivers
import VBatchLibvirt

/// The node's image cache: catalogue files uploaded once per node under their sha256,
/// checked before use, one upload per file at a time, least recently used ones removed
/// beyond the node's cap unless a VM on the node uses them.
extension NodeAgent {
    /// `vbatch image push`: the image's files into this node's cache; the bytes uploaded.
    func push(_ image: ImageConfig) async throws -> UInt64 {
        _ = try upConnection()
        let files = try ImageCheck.nodeFiles(image, catalogueDirectory: settings.catalogueDirectory)
        let before = cache.uploadedBytes
        try await stage(files, image: image.name)
        return cache.uploadedBytes - before
    }

    /// Makes sure every file is on the node and checked; uploads what is missing.
    func stage(_ files: [NodeFile], image: String) async throws {
        for file in files {
            try await stage(file, name: "\(image) \(file.role.rawValue)")
        }
    }

    private func stage(_ file: NodeFile, name: String) async throws {
        if cache.isVerified(file.sha256) {
            cache.used(file.sha256, now: WallClock.now())
            return
        }
        if let running = uploads[file.sha256] {
            try await running.value
            return
        }
        let upload = Task { try await self.place(file, name: name) }
        uploads[file.sha256] = upload
        defer { uploads[file.sha256] = nil }
        try await upload.value
    }

    /// The file's volume: kept if it matches the catalogue file, else (re)uploaded and checked.
    private func place(_ file: NodeFile, name: String) async throws {
        let bulk = try await bulkConnection()
        let pool = NodeLayout.imagePool
        if let existing = try await bulk.volume(named: file.sha256, inPool: pool) {
            if try await matches(existing, file, bulk) {
                cache.verified(file, name: name, uploaded: false, now: WallClock.now())
                publishCache()
                return
            }
            logger.warning("image volume \(file.sha256) on \(node.name) does not match \(file.path); uploading it again")
            try await bulk.deleteVolume(named: file.sha256, inPool: pool)
        }
        let started = ContinuousClock.now
        try await bulk.createVolume(inPool: pool, xml: StorageXML.volume(name: file.sha256, capacityBytes: 0, format: "raw"))
        let transfers = self.transfers
        transfers.set(name, sent: 0, total: file.sizeBytes)
        defer { transfers.remove(name) }
        do {
            try await bulk.upload(file: file.path, toVolume: file.sha256, inPool: pool) { sent in
                transfers.set(name, sent: sent, total: file.sizeBytes)
            }
            guard let uploaded = try await bulk.volume(named: file.sha256, inPool: pool), try await matches(uploaded, file, bulk) else {
                throw DriverError("\(name) on \(node.name): the uploaded volume does not match \(file.path)")
            }
        } catch {
            _ = try? await bulk.deleteVolume(named: file.sha256, inPool: pool)
            throw error
        }
        let seconds = (ContinuousClock.now - started).seconds
        logger.notice("uploaded \(name) (\(file.sizeBytes) bytes, sha256 \(file.sha256.prefix(12))) to \(node.name) in \(String(format: "%.2f", seconds)) s")
        cache.verified(file, name: name, uploaded: true, now: WallClock.now())
        await evict()
        publishCache()
    }

    /// Size and the first bytes (which hold a qcow2's header, or a kernel's) as in the catalogue.
    private func matches(_ volume: VolumeInfo, _ file: NodeFile, _ bulk: LibvirtConnection) async throws -> Bool {
        guard volume.physicalBytes == file.sizeBytes else { return false }
        let count = Int(min(file.sizeBytes, 4096))
        let local = NSTemporaryDirectory() + "vbatch-head-\(UUID().uuidString)"
        defer { unlink(local) }
        try await bulk.download(volume: volume.name, inPool: NodeLayout.imagePool, to: local, maxBytes: UInt64(count))
        guard let remote = FileManager.default.contents(atPath: local), let handle = FileHandle(forReadingAtPath: file.path) else {
            return false
        }
        defer { try? handle.close() }
        return remote == (try handle.read(upToCount: count) ?? Data())
    }

    /// Reads the image pool's listing into the cache (at every connect).
    func listImages() async throws {
        let volumes = try await connected().volumes(inPool: NodeLayout.imagePool)
        cache.listed(volumes.filter { NodeLayout.isImageVolume($0.name) }.map { ($0.name, $0.physicalBytes) })
        await evict()
        publishCache()
    }

    /// Removes least recently used images beyond the cap that no VM here uses.
    private func evict() async {
        var inUse = Set(jobs.values.flatMap(\.images))
        inUse.formUnion(pools.values.flatMap(\.images))
        inUse.formUnion(uploads.keys)
        for sha256 in cache.evictions(inUse: inUse) {
            do {
                try await connected().deleteVolume(named: sha256, inPool: NodeLayout.imagePool)
                cache.removed(sha256)
                logger.info("image cache of \(node.name): removed \(sha256.prefix(12)) (least recently used, over the cap)")
            } catch {
                logger.warning("image cache of \(node.name): cannot remove \(sha256.prefix(12)): \(error)")
            }
        }
    }

    func publishCache() {
        let summary = cache.summary
        cacheSnapshot.withLock { $0 = summary }
    }

    /// The published cache with the uploads under way (readable without the actor).
    nonisolated var cacheSummary: NodeCacheSummary {
        var summary = cacheSnapshot.withLock { $0 }
        summary.transfers = transfers.lines
        return summary
    }
}

/// Uploads under way on one node: bytes sent of each file, for `vbatch nodes` and `vbatch image push`.
final class TransferProgress: Sendable {
    private let uploads = Mutex<[String: (sent: UInt64, total: UInt64)]>([:])

    func set(_ name: String, sent: UInt64, total: UInt64) { uploads.withLock { $0[name] = (sent, total) } }

    func remove(_ name: String) { _ = uploads.withLock { $0.removeValue(forKey: name) } }

    /// `testguest kernel 45% of 13mb`, by name.
    var lines: [String] {
        uploads.withLock { $0 }.sorted { $0.key < $1.key }.map { name, progress in
            let percent = progress.total == 0 ? 100 : Int(progress.sent * 100 / progress.total)
            return "\(name) \(percent)% of \(Quantities.formatMemory(max(1, Int(progress.total >> 20))))"
        }
    }
}
