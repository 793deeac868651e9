#if canImport(Glibc)
import Glibc
#endif
import VBatchAccounts
import VBatchCore

/// Who is calling the daemon, as established from the channel and the site file: the Unix
/// socket's peer credentials (`SO_PEERCRED`), a listed relay's assertion, or a bearer token;
/// never from anything the client sends in a request's body.
public struct Caller: Sendable, Equatable {
    public var user: String
    public var uid: Int
    public var groups: [String]
    /// The caller's VO from the site file, `nil` for a local user.
    public var vo: String?
    public var isOperator: Bool
    /// How the identity was established, which limits what the caller may do.
    public var authority: Authority

    /// The channel an identity came from.
    public enum Authority: Sendable, Equatable, CustomStringConvertible {
        /// The Unix socket on the server: the kernel vouches for the uid.
        case socket
        /// A relay on a CE host, by its certificate's common name, vouches for a local user there.
        case relay(String)
        /// A bearer token on the TLS listener.
        case token(id: Int64, scope: TokenScope)

        public var description: String {
            switch self {
            case .socket: "socket"
            case .relay(let name): "relay \(name)"
            case .token(let id, let scope): "token \(id) (\(scope.rawValue))"
            }
        }
    }

    public init(user: String, uid: Int, groups: [String], vo: String?, isOperator: Bool, authority: Authority = .socket) {
        self.user = user
        self.uid = uid
        self.groups = groups
        self.vo = vo
        self.isOperator = isOperator
        self.authority = authority
    }

    /// Resolves a Unix uid to a caller under `configuration`.
    public static func resolve(uid: UInt32, gid: UInt32, configuration: Configuration) -> Caller {
        let account = UnixAccounts.shared.lookup(uid: uid, gid: gid)
        return Caller(user: account.user, uid: Int(uid), groups: account.groups,
                      vo: configuration.vo(forUser: account.user, groups: account.groups),
                      isOperator: configuration.isOperator(user: account.user, groups: account.groups))
    }

    /// Whether this caller may use a route of `method`: read tokens only read.
    public func mayUse(method: String) -> Bool {
        if case .token(_, .read) = authority { return method == "GET" || method == "HEAD" }
        return true
    }
}
