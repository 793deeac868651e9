import Foundation
import Testing
@testable import VBatchConfig
import VBatchCore

/// `[api]` in the site file: the TLS listener, its relays and the token lifetimes; every
/// mistake reported with file, line and key.
@Suite struct APIConfigTests {
    static func site(_ api: String) -> String {
        """
        [site]
        name = "t"

        [api]
        \(api)

        [node.wn01]
        uri = "sim://"
        slots = 4
        memory = "8gb"
        """
    }

    static let files = ["pki/ca.pem": "x", "pki/cert.pem": "x", "pki/key.pem": "x"]
    static let listener = """
        listen = "0.0.0.0:8443"
        certificate = "pki/cert.pem"
        key = "pki/key.pem"
        ca = "pki/ca.pem"
        """

    @Test func readsTheListenerRelaysAndLifetimes() throws {
        let fixture = try ConfigFixture(["site.toml": Self.site(Self.listener + "\nrelays = [\"ce01.example.org\"]\nmax_token_lifetime = \"7d\"\n")]
                                            .merging(Self.files) { $1 })
        let api = try fixture.load().site.api
        #expect(api.listen == HostPort(host: "0.0.0.0", port: 8443))
        #expect(api.tls == TLSFiles(ca: fixture.path("pki/ca.pem"), certificate: fixture.path("pki/cert.pem"), key: fixture.path("pki/key.pem")))
        #expect(api.relays == ["ce01.example.org"])
        #expect(api.maxTokenLifetime == 7 * 86_400 && api.maxOperatorTokenLifetime == 86_400)
        #expect(HostPort("[::1]:9443") == HostPort(host: "::1", port: 9443))
    }

    @Test func noTableMeansNoListener() throws {
        let api = try ConfigFixture().load().site.api
        #expect(api.listen == nil && api.tls == nil && api.relays.isEmpty)
    }

    @Test func mistakesNameFileLineAndKey() throws {
        try ConfigFixture(["site.toml": Self.site("listen = \"0.0.0.0:8443\"")])
            .expectSingleError(file: "site.toml", line: 5, key: "api.listen", message: "speaks only TLS")
        try ConfigFixture(["site.toml": Self.site(Self.listener.replacingOccurrences(of: "0.0.0.0:8443", with: "0.0.0.0"))]
                              .merging(Self.files) { $1 })
            .expectSingleError(file: "site.toml", line: 5, key: "api.listen", message: "is not HOST:PORT")
        try ConfigFixture(["site.toml": Self.site(Self.listener.replacingOccurrences(of: "key = \"pki/key.pem\"\n", with: ""))]
                              .merging(Self.files) { $1 })
            .expectSingleError(file: "site.toml", line: 4, key: "api.key", message: "give ca, certificate and key together")
        try ConfigFixture(["site.toml": Self.site(Self.listener)].merging(["pki/ca.pem": "x", "pki/cert.pem": "x"]) { $1 })
            .expectSingleError(file: "site.toml", line: 7, key: "api.key", message: "no such readable file")
        try ConfigFixture(["site.toml": Self.site("relays = [\"ce 01\"]")])
            .expectSingleError(file: "site.toml", line: 5, key: "api.relays", message: "not a certificate common name")
        try ConfigFixture(["site.toml": Self.site("max_token_lifetime = \"forever\"")])
            .expectSingleError(file: "site.toml", line: 5, key: "api.max_token_lifetime", message: "is not a duration")
        try ConfigFixture(["site.toml": Self.site("listn = \"0.0.0.0:8443\"")])
            .expectSingleError(file: "site.toml", line: 5, key: "api.listn", message: "listen")
    }
}
