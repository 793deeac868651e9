import GRDB
import VBatchAPI
import VBatchCore

/// A bearer token as the store keeps it: who it acts for, what it may do, until when; only
/// the SHA-256 of its secret.
public struct StoredToken: Sendable, Equatable {
    public var info: TokenInfo
    /// The uid recorded in accounting for jobs the token submits (its user's, at creation).
    public var uid: Int
    public var secretSHA256: String
}

extension JobStore {
    /// Records a new token and returns its id.
    public func createToken(user: String, uid: Int, scope: TokenScope, name: String?, createdBy: String,
                            created: Double, expires: Double, secretSHA256: String) throws -> Int64 {
        try writing { try pool.write { db in
            try db.execute(sql: """
                INSERT INTO api_token (user, uid, scope, name, created_by, created, expires, secret_sha256)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [user, uid, scope.rawValue, name, createdBy, created, expires, secretSHA256])
            return db.lastInsertedRowID
        } }
    }

    /// One token, revoked and expired ones included.
    public func token(id: Int64) throws -> StoredToken? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_token WHERE id = ?", arguments: [id]).map(Self.storedToken)
        }
    }

    /// The tokens of `user` (every user's with nil), newest first, revoked and expired ones included.
    public func tokens(user: String?) throws -> [TokenInfo] {
        try pool.read { db in
            if let user {
                return try Row.fetchAll(db, sql: "SELECT * FROM api_token WHERE user = ? ORDER BY id DESC", arguments: [user])
                    .map { Self.storedToken($0).info }
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM api_token ORDER BY id DESC").map { Self.storedToken($0).info }
        }
    }

    /// Marks a token revoked at `now` (once: a second revocation keeps the first time).
    public func revokeToken(id: Int64, now: Double) throws -> TokenInfo? {
        try writing { try pool.write { db in
            try db.execute(sql: "UPDATE api_token SET revoked = ? WHERE id = ? AND revoked IS NULL", arguments: [now, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM api_token WHERE id = ?", arguments: [id]).map(Self.storedToken)?.info
        } }
    }

    private static func storedToken(_ row: Row) -> StoredToken {
        StoredToken(
            info: TokenInfo(id: row["id"], user: row["user"], scope: TokenScope(rawValue: row["scope"]) ?? .read,
                            name: row["name"], createdBy: row["created_by"], created: row["created"],
                            expires: row["expires"], revoked: row["revoked"]),
            uid: row["uid"], secretSHA256: row["secret_sha256"])
    }
}
