import Testing
import VBatchDrivers
@testable import VBatchLibvirtDriver

/// The node image cache's bookkeeping: least recently used first, never what a VM uses.
@Suite struct ImageCacheTests {
    func file(_ digit: Character, size: UInt64) -> NodeFile {
        NodeFile(role: .disk, path: "/images/\(digit)", format: "qcow2", sha256: String(repeating: digit, count: 64), sizeBytes: size)
    }

    @Test func evictsLeastRecentlyUsedButNeverInUse() {
        var cache = ImageCache(capBytes: 100)
        let a = file("a", size: 60), b = file("b", size: 30), c = file("c", size: 50)
        cache.verified(a, name: "el9 disk", uploaded: true, now: 1)
        cache.verified(b, name: "el8 disk", uploaded: true, now: 2)
        #expect(cache.evictions(inUse: []).isEmpty, "90 bytes fit the cap")
        cache.verified(c, name: "el10 disk", uploaded: true, now: 3)
        // 140 bytes: the oldest (a) goes, unless a VM uses it; then b, then c.
        #expect(cache.evictions(inUse: []) == [a.sha256])
        #expect(cache.evictions(inUse: [a.sha256]) == [b.sha256, c.sha256], "60 bytes in use leave 50 to spare")
        #expect(cache.evictions(inUse: [a.sha256, b.sha256]) == [c.sha256])
        #expect(cache.evictions(inUse: [a.sha256, b.sha256, c.sha256]).isEmpty, "over the cap while all are in use")
        cache.used(a.sha256, now: 4)
        #expect(cache.evictions(inUse: []) == [b.sha256, c.sha256])
        #expect(cache.summary.uploads == 3 && cache.summary.bytes == 140)
    }

    @Test func listingKeepsKnownEntriesAndDropsVanishedOnes() {
        var cache = ImageCache(capBytes: 1 << 30)
        let a = file("a", size: 10)
        cache.verified(a, name: "el9 disk", uploaded: false, now: 5)
        cache.listed([(a.sha256, 10), (String(repeating: "d", count: 64), 7)])
        #expect(cache.isVerified(a.sha256))
        #expect(!cache.isVerified(String(repeating: "d", count: 64)), "found on the node: checked before first use")
        #expect(cache.summary.images == ["el9 disk", "sha256:dddddddddddd"])
        cache.listed([(a.sha256, 11)])
        #expect(!cache.isVerified(a.sha256), "a different size is a different file")
        #expect(cache.entries.count == 1)
    }

    @Test func nodeAddressesFromURIs() {
        #expect(NodeAddress(uri: "qemu+tls://wn07.example.org/system") == NodeAddress(host: "wn07.example.org", port: 16514))
        #expect(NodeAddress(uri: "qemu+tcp://10.0.0.7:1234/system") == NodeAddress(host: "10.0.0.7", port: 1234))
        #expect(NodeAddress(uri: "qemu+ssh://root@wn07/system?keyfile=/k") == NodeAddress(host: "wn07", port: 22))
        #expect(NodeAddress(uri: "qemu+tls://[fd00::7]:16515/system") == NodeAddress(host: "fd00::7", port: 16515))
        #expect(NodeAddress(uri: "qemu:///system") == nil)
        #expect(NodeAddress(uri: "test:///default") == nil)
    }
}
