import Foundation
import Testing
@testable import VBatchConfig
import VBatchCore

/// The site file's keys for worker nodes on other machines: TLS files, image cache, lease
/// margin, and a queue's `on_node_loss`; what `vbatchd --check` warns about.
@Suite struct NodeConfigTests {
    static let remoteSite = """
        [site]
        tls_ca = "pki/ca.pem"
        tls_certificate = "pki/cert.pem"
        tls_key = "pki/key.pem"
        lease_margin = "2m"

        [node.wn01]
        uri = "qemu+tls://wn01.example.org/system"
        slots = 4
        memory = "8gb"
        image_cache = "50gb"

        [node.wn02]
        uri = "qemu+tcp://10.0.0.2/system"
        slots = 4
        memory = "8gb"
        """

    @Test func readsTLSFilesImageCacheAndLeaseMargin() throws {
        let fixture = try ConfigFixture(["site.toml": Self.remoteSite, "pki/ca.pem": "x", "pki/cert.pem": "x", "pki/key.pem": "x"])
        let config = try fixture.load()
        #expect(config.site.tls == TLSFiles(ca: fixture.path("pki/ca.pem"), certificate: fixture.path("pki/cert.pem"),
                                            key: fixture.path("pki/key.pem")))
        #expect(config.site.leaseMargin == 120)
        #expect(config.nodes[0].imageCacheMB == 50 * 1024)
        #expect(config.nodes[1].imageCacheMB == NodeConfig.defaultImageCacheMB)
        // qemu+tcp is allowed, with a warning; qemu+tls with the site's files is not warned about.
        #expect(config.warnings.count == 1)
        #expect(config.warnings.first?.contains("wn02") == true && config.warnings.first?.contains("unauthenticated") == true)
    }

    @Test func tlsWithoutSiteFilesIsWarnedAbout() throws {
        let site = Self.remoteSite.replacingOccurrences(of: "tls_ca = \"pki/ca.pem\"\ntls_certificate = \"pki/cert.pem\"\ntls_key = \"pki/key.pem\"\n", with: "")
        let config = try ConfigFixture(["site.toml": site]).load()
        #expect(config.site.tls == nil)
        #expect(config.warnings.contains { $0.contains("wn01") && $0.contains("tls_ca") })
    }

    @Test func tlsFilesMustAllBeGivenAndReadable() throws {
        let partial = Self.remoteSite.replacingOccurrences(of: "tls_key = \"pki/key.pem\"\n", with: "")
        let fixture = try ConfigFixture(["site.toml": partial, "pki/ca.pem": "x", "pki/cert.pem": "x"])
        fixture.expectSingleError(file: "site.toml", line: 1, key: "site.tls_key", message: "give tls_ca, tls_certificate and tls_key together")
        let missing = try ConfigFixture(["site.toml": Self.remoteSite, "pki/ca.pem": "x", "pki/cert.pem": "x"])
        missing.expectSingleError(file: "site.toml", line: 4, key: "site.tls_key", message: "no such readable file")
    }

    @Test func onNodeLossIsRequeueOrFail() throws {
        let queues = ConfigFixture.queues + "\non_node_loss = \"fail\"\n"
        #expect(try ConfigFixture(["queues/q.toml": queues]).load().executionQueues[0].onNodeLoss == .fail)
        #expect(try ConfigFixture().load().executionQueues[0].onNodeLoss == .requeue)
        let wrong = try ConfigFixture(["queues/q.toml": ConfigFixture.queues + "\non_node_loss = \"retry\"\n"])
        wrong.expectSingleError(file: "queues/q.toml", line: 10, key: "queue.one-way.on_node_loss",
                                message: "\"retry\" is not one of \"requeue\", \"fail\"")
    }

    @Test func oneNodePerLibvirtHost() throws {
        let site = ConfigFixture.site + """


            [node.wn02]
            uri = "qemu:///system"
            slots = 2
            memory = "4gb"

            [node.wn03]
            uri = "qemu:///system"
            slots = 2
            memory = "4gb"
            """
        try ConfigFixture(["site.toml": site]).expectSingleError(
            file: "site.toml", line: 15, key: "node.wn03.uri", message: "qemu:///system is already node wn02's: one node per libvirt host")
    }
}
