import NIOCore
import NIOPosix
import VBatchCore

/// Where a node's libvirtd listens, from its URI, for a TCP probe before any libvirt call.
///
/// `virConnectOpen` to a host that never answers blocks a thread until the kernel gives up
/// (minutes). Probing the port first, on NIO's event loop (no thread of its own), means a dead
/// node costs a timer, not a thread: the driver's thread count does not grow with such nodes.
struct NodeAddress: Sendable, Equatable {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// The host and port `uri` connects to, or nil for URIs without a network hop
    /// (`qemu:///system`, `qemu+unix://`, `test:///`).
    init?(uri: String) {
        guard let schemeEnd = uri.range(of: "://") else { return nil }
        let scheme = uri[..<schemeEnd.lowerBound]
        let defaultPort: Int
        switch scheme {
        case "qemu+tls": defaultPort = 16514
        case "qemu+tcp": defaultPort = 16509
        case "qemu+ssh", "qemu+libssh2", "qemu+libssh": defaultPort = 22
        default: return nil
        }
        var authority = uri[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        guard !authority.isEmpty else { return nil }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            port = rest.hasPrefix(":") ? Int(rest.dropFirst()) ?? defaultPort : defaultPort
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = Int(authority[authority.index(after: colon)...]) ?? defaultPort
        } else {
            host = String(authority)
            port = defaultPort
        }
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Connects and closes at once; nil if the port accepted within `timeout`, else why not.
    func probe(timeout: Duration) async -> String? {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000
                + Int64(timeout.components.attoseconds / 1_000_000_000)))
        do {
            let channel = try await bootstrap.connect(host: host, port: port).get()
            try? await channel.close()
            return nil
        } catch let error as ChannelError {
            if case .connectTimeout = error { return "no answer from \(description) within \(timeout.formattedSeconds)" }
            return "cannot connect to \(description): \(error)"
        } catch {
            return "cannot connect to \(description): \(error)"
        }
    }
}

extension Duration {
    /// `5 s`, `0.5 s`: for messages.
    var formattedSeconds: String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
