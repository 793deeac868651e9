import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
import ServiceLifecycle
import VBatchCore

/// The TLS listener of `[api]`: the same API as the Unix socket, for CE relays and token
/// holders on other machines. TLS only (1.2 or later), never plain TCP. A client
/// certificate is optional (token holders need none) but, when one is presented, it must
/// chain to `[api] ca` or the handshake fails.
struct APIListener {
    let address: HostPort
    let tls: TLSConfiguration

    /// The listener `settings` ask for, or nil when `[api] listen` is not set.
    init?(settings: APISettings) throws {
        guard let address = settings.listen, let files = settings.tls else { return nil }
        self.address = address
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificate)
            key = try NIOSSLPrivateKey(file: files.key, format: .pem)
            _ = try NIOSSLCertificate.fromPEMFile(files.ca)
        } catch {
            throw DaemonError("[api]: cannot read the listener's certificate, key or CA (\(files.certificate), \(files.key), "
                + "\(files.ca)): \(error)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.trustRoots = .file(files.ca)
        tls.certificateVerification = .optionalVerification
        tls.minimumTLSVersion = .tlsv12
        self.tls = tls
    }

    /// The listener as a service of the daemon's group, answering with `router`.
    func application(router: Router<VBatchRequestContext>, logger: Logger) throws -> some Service {
        let address = self.address
        return Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "vbatchd"),
            onServerRunning: { _ in logger.info("vbatchd listening on \(address) (TLS)") },
            logger: logger)
    }
}
