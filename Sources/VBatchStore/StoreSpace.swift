import Foundation
import GRDB

/// Tells a full filesystem under the store from other write failures, so that callers can
/// say what happened ("the state directory is full") instead of passing SQLite's message on.
enum StoreSpace {
    /// Below this many free bytes, a failed write is taken for a full filesystem whatever
    /// SQLite called it (an I/O error while growing the WAL or its shared-memory file).
    static let nearlyFullBytes: Int64 = 1 << 20

    /// `error` as ``StoreError/full(directory:freeBytes:detail:)`` when SQLite could not write
    /// because the filesystem of `directory` is full; any other error unchanged.
    static func classify(_ error: any Error, directory: String) -> any Error {
        guard let database = error as? DatabaseError else { return error }
        let free = freeBytes(directory)
        let full = database.resultCode == .SQLITE_FULL
            || (database.resultCode == .SQLITE_IOERR && (free ?? Int64.max) < nearlyFullBytes)
        return full ? StoreError.full(directory: directory, freeBytes: free, detail: "\(database)") : error
    }

    /// Bytes this process may still write on the filesystem of `directory` (root may use
    /// the filesystem's reserve).
    static func freeBytes(_ directory: String) -> Int64? {
        var fs = statvfs()
        guard statvfs(directory, &fs) == 0 else { return nil }
        return Int64(geteuid() == 0 ? fs.f_bfree : fs.f_bavail) * Int64(fs.f_frsize)
    }

    /// `12 KiB`, `3.4 MiB`: a size for a message.
    static func formatted(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) bytes" }
        return value < 10 ? "\((value * 10).rounded() / 10) \(units[unit])" : "\(Int(value.rounded())) \(units[unit])"
    }
}
