#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// The kernel's `struct ucred` (pid, uid, gid) of a Unix socket's peer, as `SO_PEERCRED`
/// fills it: who is on the other end, vouched for by the kernel.
public struct PeerCredentials: Sendable {
    public var pid: Int32 = 0
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0

    public init() {}

    /// The peer of a Unix socket connection; throws a one-line reason on any other channel.
    public static func of(_ channel: (any Channel)?) async throws -> PeerCredentials {
        guard let provider = channel as? SocketOptionProvider else {
            throw PeerCredentialsError("cannot establish the caller's identity on this connection")
        }
        do {
            return try await provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET),
                                                            name: SocketOptionName(SO_PEERCRED)).get()
        } catch {
            throw PeerCredentialsError("cannot read the peer credentials of this connection: \(error)")
        }
    }
}

public struct PeerCredentialsError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
