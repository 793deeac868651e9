#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// User and group names from the system's account database, cached for a minute so a
/// CE submitting in a tight loop does not hit NSS for every job.
public final class UnixAccounts: Sendable {
    public static let shared = UnixAccounts()

    public struct Account: Sendable {
        public var user: String
        public var groups: [String]
        var fetched: Double
    }

    private let cache = Mutex<[UInt32: Account]>([:])
    private let ttl: Double = 60

    /// The user and groups of a uid; a uid without an account is `uid<N>` with no groups.
    public func lookup(uid: UInt32, gid: UInt32) -> Account {
        let now = Double(time(nil))
        if let hit = cache.withLock({ $0[uid] }), now - hit.fetched < ttl { return hit }
        let account = Self.query(uid: uid, gid: gid, now: now)
        cache.withLock { $0[uid] = account }
        return account
    }

    /// The account of a user name, if this host has one (a token's user may have none here).
    public func lookup(user: String) -> Account? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        getpwnam_r(user, &pwd, &buffer, buffer.count, &result)
        guard result != nil else { return nil }
        return lookup(uid: pwd.pw_uid, gid: pwd.pw_gid)
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
