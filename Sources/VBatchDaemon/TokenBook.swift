#if canImport(Glibc)
import Glibc
#endif
import VBatchAccounts
import VBatchAPI
import VBatchCore
import VBatchStore

/// Issues, lists, revokes and checks the bearer tokens of the TLS listener.
///
/// A token reads `vbt_ID_SECRET`: the id finds its row, the 256-bit secret proves it (only
/// the SHA-256 of the secret is stored). Every token expires, within the site's caps;
/// tokens are managed only by callers the channel vouches for (the socket or a relay),
/// never with a token, so a leaked token cannot make itself a longer-lived one.
public struct TokenBook: Sendable {
    let store: JobStore
    let configuration: Configuration

    public init(store: JobStore, configuration: Configuration) {
        self.store = store
        self.configuration = configuration
    }

    static let prefix = "vbt_"
    static let maxNameLength = 64

    /// A new token for `request`; the secret is in the answer only.
    public func create(_ request: TokenRequest, caller: Caller, now: Double) throws -> TokenCreated {
        try refuseTokens(caller, "create")
        let user = request.user ?? caller.user
        if user != caller.user, !caller.isOperator {
            throw EngineError.forbidden("only operators may create tokens for other users")
        }
        // (Relayed callers are never operators, so no operator token is issued through a relay.)
        if request.scope == .operator, !(caller.isOperator && user == caller.user) {
            throw EngineError.forbidden("an operator token is created only by that operator, for themselves")
        }
        let cap = configuration.site.api.maxLifetime(scope: request.scope)
        guard request.lifetime >= 1 else { throw EngineError.badRequest("lifetime must be at least 1 second") }
        guard request.lifetime <= cap else {
            throw EngineError.badRequest("lifetime \(Quantities.formatWalltime(request.lifetime)) is longer than the site allows for "
                + "\(request.scope.rawValue) tokens (\(Quantities.formatWalltime(cap)))")
        }
        if let name = request.name {
            guard name.count <= Self.maxNameLength, !name.contains(where: { $0.isNewline || $0 == "\0" }) else {
                throw EngineError.badRequest("name must be one line of at most \(Self.maxNameLength) characters")
            }
        }
        guard InputLimits.isSafeName(user) else { throw EngineError.badRequest("user must be a plain account name") }
        let secret = Self.randomSecret()
        let uid = user == caller.user ? caller.uid : -1
        let id = try store.createToken(user: user, uid: uid, scope: request.scope, name: request.name, createdBy: caller.user,
                                       created: now, expires: now + Double(request.lifetime),
                                       secretSHA256: SHA256.hex(secret))
        guard let stored = try store.token(id: id) else { throw EngineError.unavailable("the new token was not found") }
        return TokenCreated(token: "\(Self.prefix)\(id)_\(secret)", info: stored.info)
    }

    /// The caller's tokens (every user's with `all`, operators only), newest first.
    public func list(caller: Caller, all: Bool) throws -> [TokenInfo] {
        try refuseTokens(caller, "list")
        if all, !caller.isOperator { throw EngineError.forbidden("only operators may list every user's tokens") }
        return try store.tokens(user: all ? nil : caller.user)
    }

    /// Revokes a token of the caller's (any token, for operators).
    public func revoke(id: Int64, caller: Caller, now: Double) throws -> TokenInfo {
        try refuseTokens(caller, "revoke")
        guard let token = try store.token(id: id), token.info.user == caller.user || caller.isOperator else {
            throw EngineError.notFound("no token \(id) of yours")
        }
        guard let revoked = try store.revokeToken(id: id, now: now) else { throw EngineError.notFound("no token \(id)") }
        return revoked
    }

    /// The caller a bearer token stands for, or why it is refused (always `unauthenticated`,
    /// with no hint whether the id exists).
    public func caller(bearer: String, now: Double) throws -> Caller {
        try session(bearer: bearer, now: now).caller
    }

    /// ``caller(bearer:now:)`` and when the token expires: how long the dashboard's session cookie may live.
    public func session(bearer: String, now: Double) throws -> (caller: Caller, expires: Double) {
        let refused = EngineError.unauthenticated("invalid, expired or revoked token")
        guard bearer.hasPrefix(Self.prefix) else { throw refused }
        let parts = bearer.dropFirst(Self.prefix.count).split(separator: "_", maxSplits: 1)
        guard parts.count == 2, let id = Int64(parts[0]), id > 0, parts[1].utf8.count == 43,
              let token = try store.token(id: id),
              Self.equalInConstantTime(SHA256.hex(parts[1].utf8), token.secretSHA256)
        else { throw refused }
        if token.info.revoked != nil { throw EngineError.unauthenticated("token \(id) was revoked") }
        if token.info.expires <= now { throw EngineError.unauthenticated("token \(id) has expired") }
        let user = token.info.user
        let groups = UnixAccounts.shared.lookup(user: user)?.groups ?? []
        let isOperator = configuration.isOperator(user: user, groups: groups)
        if token.info.scope == .operator, !isOperator {
            throw EngineError.unauthenticated("token \(id) is an operator token but \(user) is no longer an operator")
        }
        let caller = Caller(user: user, uid: token.uid, groups: groups, vo: configuration.vo(forUser: user, groups: groups),
                            isOperator: token.info.scope == .operator, authority: .token(id: id, scope: token.info.scope))
        return (caller, token.info.expires)
    }

    private func refuseTokens(_ caller: Caller, _ verb: String) throws {
        if case .token = caller.authority {
            throw EngineError.forbidden("tokens cannot \(verb) tokens: use `vbatch token` on the server or through a relay")
        }
    }

    /// 32 bytes from the kernel's CSPRNG, base64url without padding (43 characters).
    static func randomSecret() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()  // getrandom(2) on Linux
        for i in bytes.indices { bytes[i] = generator.next() }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var text: [UInt8] = []
        var bits = 0, value = 0
        for byte in bytes {
            value = value << 8 | Int(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                text.append(alphabet[(value >> bits) & 63])
            }
        }
        if bits > 0 { text.append(alphabet[(value << (6 - bits)) & 63]) }
        return String(decoding: text, as: UTF8.self)
    }

    static func equalInConstantTime(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
