import VBatchDrivers

/// What one node holds in its image pool, and which of it may go: the bookkeeping of a
/// content-addressed cache with a size cap and least-recently-used eviction. No I/O: the
/// node's agent lists, uploads and deletes the volumes and tells this what happened.
struct ImageCache: Sendable {
    struct Entry: Sendable {
        var sizeBytes: UInt64
        /// Last time a VM was started from it (0: found on the node, not used since).
        var lastUsed: Double
        /// Checked against the catalogue file in this daemon's lifetime (size and header).
        var verified: Bool
        /// Catalogue names of what it holds (`testguest kernel`), as far as this daemon knows.
        var names: Set<String>
    }

    let capBytes: UInt64
    private(set) var entries: [String: Entry] = [:]
    /// Uploads made since the daemon started, and their bytes.
    private(set) var uploads = 0
    private(set) var uploadedBytes: UInt64 = 0

    init(capBytes: UInt64) { self.capBytes = capBytes }

    var totalBytes: UInt64 { entries.values.reduce(0) { $0 + $1.sizeBytes } }

    func isVerified(_ sha256: String) -> Bool { entries[sha256]?.verified == true }

    /// The node's image volumes as listed: entries not on the node are dropped, new ones
    /// are kept unverified.
    mutating func listed(_ volumes: [(sha256: String, sizeBytes: UInt64)]) {
        var next: [String: Entry] = [:]
        for volume in volumes {
            if let known = entries[volume.sha256], known.sizeBytes == volume.sizeBytes {
                next[volume.sha256] = known
            } else {
                next[volume.sha256] = Entry(sizeBytes: volume.sizeBytes, lastUsed: 0, verified: false, names: [])
            }
        }
        entries = next
    }

    /// A file is on the node and matches the catalogue (after an upload, or a check).
    mutating func verified(_ file: NodeFile, name: String, uploaded: Bool, now: Double) {
        var entry = entries[file.sha256] ?? Entry(sizeBytes: file.sizeBytes, lastUsed: now, verified: true, names: [])
        entry.verified = true
        entry.sizeBytes = file.sizeBytes
        entry.lastUsed = now
        entry.names.insert(name)
        entries[file.sha256] = entry
        if uploaded {
            uploads += 1
            uploadedBytes += file.sizeBytes
        }
    }

    mutating func used(_ sha256: String, now: Double) { entries[sha256]?.lastUsed = now }

    mutating func removed(_ sha256: String) { entries[sha256] = nil }

    /// Images to delete, least recently used first, until the cache is within its cap;
    /// never one in `inUse` (so the cache may stay above its cap while they run).
    func evictions(inUse: Set<String>) -> [String] {
        var total = totalBytes
        var victims: [String] = []
        for (sha256, entry) in entries.sorted(by: { ($0.value.lastUsed, $0.key) < ($1.value.lastUsed, $1.key) })
        where total > capBytes && !inUse.contains(sha256) {
            victims.append(sha256)
            total -= entry.sizeBytes
        }
        return victims
    }

    /// For `vbatch nodes`: what it holds, by name where known.
    var summary: NodeCacheSummary {
        let names = entries.sorted { $0.key < $1.key }.map { sha256, entry in
            entry.names.isEmpty ? "sha256:\(sha256.prefix(12))" : entry.names.sorted().joined(separator: ", ")
        }
        return NodeCacheSummary(images: names, bytes: totalBytes, capBytes: capBytes, uploads: uploads)
    }
}
