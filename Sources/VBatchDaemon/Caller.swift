#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VBatchCore

/// Who is calling the daemon, as established from the Unix socket's peer credentials
/// (`SO_PEERCRED`) and the site file: never from anything the client sends.
public struct Caller: Sendable, Equatable {
    public var user: String
    public var uid: Int
    public var groups: [String]
    /// The caller's VO from the site file, `nil` for a local user.
    public var vo: String?
    public var isOperator: Bool

    public init(user: String, uid: Int, groups: [String], vo: String?, isOperator: Bool) {
        self.user = user
        self.uid = uid
        self.groups = groups
        self.vo = vo
        self.isOperator = isOperator
    }

    /// Resolves a Unix uid to a caller under `configuration`.
    public static func resolve(uid: UInt32, gid: UInt32, configuration: Configuration) -> Caller {
        let account = UnixAccounts.shared.lookup(uid: uid, gid: gid)
        return Caller(user: account.user, uid: Int(uid), groups: account.groups,
                      vo: configuration.vo(forUser: account.user, groups: account.groups),
                      isOperator: configuration.isOperator(user: account.user, groups: account.groups))
    }
}

/// User and group names from the system's account database, cached for a minute so a
/// CE submitting in a tight loop does not hit NSS for every job.
final class UnixAccounts: Sendable {
    static let shared = UnixAccounts()

    struct Account: Sendable {
        var user: String
        var groups: [String]
        var fetched: Double
    }

    private let cache = Mutex<[UInt32: Account]>([:])
    private let ttl: Double = 60

    func lookup(uid: UInt32, gid: UInt32) -> Account {
        let now = Double(time(nil))
        if let hit = cache.withLock({ $0[uid] }), now - hit.fetched < ttl { return hit }
        let account = Self.query(uid: uid, gid: gid, now: now)
        cache.withLock { $0[uid] = account }
        return account
    }

    private static func query(uid: UInt32, gid: UInt32, now: Double) -> Account {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        getpwuid_r(uid, &pwd, &buffer, buffer.count, &result)
        guard result != nil, let namePointer = pwd.pw_name else {
            // A uid without an account still gets an identity, but no VO and no operator rights.
            return Account(user: "uid\(uid)", groups: [], fetched: now)
        }
        let name = String(cString: namePointer)
        var count: Int32 = 64
        var gids = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(namePointer, pwd.pw_gid, &gids, &count) == -1 {
            gids = [gid_t](repeating: 0, count: Int(count))
            getgrouplist(namePointer, pwd.pw_gid, &gids, &count)
        }
        var groups: [String] = []
        for g in gids.prefix(Int(max(0, count))) {
            var grp = group()
            var gresult: UnsafeMutablePointer<group>?
            var gbuffer = [CChar](repeating: 0, count: 16_384)
            getgrgid_r(g, &grp, &gbuffer, gbuffer.count, &gresult)
            if gresult != nil, let n = grp.gr_name { groups.append(String(cString: n)) }
        }
        return Account(user: name, groups: groups, fetched: now)
    }
}
