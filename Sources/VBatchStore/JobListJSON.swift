import Foundation
import GRDB
import GRDBSQLite
import VBatchAPI

/// The job listing written straight from SQLite's column buffers into JSON, without
/// building a `JobInfo` (and its strings) per row: `vbatch status --all --json` over
/// 10,000 jobs is a hot path (target ≤ 40 ms end to end). The output decodes as `[JobInfo]`.
enum JobListJSON {
    static func jobs(_ db: Database, owner: String?, active: Bool, limit: Int?, endedSince: Double? = nil,
                     capacity: Int = 1 << 16) throws -> [UInt8] {
        let statement = try JobQueries.listStatement(db, owner: owner, active: active, limit: limit, endedSince: endedSince)
        let stmt = statement.sqliteStatement
        var w = JSONWriter(capacity: capacity)
        var first = true

        func text(_ i: Int32) -> UnsafeBufferPointer<UInt8>? {
            guard sqlite3_column_type(stmt, i) != SQLITE_NULL, let p = sqlite3_column_text(stmt, i) else { return nil }
            return UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, i)))
        }
        func string(_ key: StaticString, _ i: Int32) {
            guard let t = text(i) else { return }
            w.raw(key)
            w.string(utf8: t)
        }
        func required(_ key: StaticString, _ i: Int32) {
            w.raw(key)
            let p = sqlite3_column_text(stmt, i)
            w.string(utf8: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, i))))
        }
        func int(_ key: StaticString, _ i: Int32) {
            guard sqlite3_column_type(stmt, i) != SQLITE_NULL else { return }
            w.raw(key)
            w.int(sqlite3_column_int64(stmt, i))
        }
        func double(_ key: StaticString, _ i: Int32) {
            guard sqlite3_column_type(stmt, i) != SQLITE_NULL else { return }
            w.raw(key)
            w.double(sqlite3_column_double(stmt, i))
        }

        w.raw("[")
        let rows = try Row.fetchCursor(statement)
        while try rows.next() != nil {
            w.raw(first ? "{" : ",\n{")
            first = false
            // Same keys and column order as JobQueries.jobInfoColumns / JSONWriter.job.
            // Columns declared NOT NULL are read without asking for their type first.
            w.raw("\"id\":"); w.int(sqlite3_column_int64(stmt, 0))
            required(",\"name\":", 1)
            required(",\"owner\":", 2)
            string(",\"vo\":", 3)
            required(",\"submitQueue\":", 4)
            required(",\"queue\":", 5)
            required(",\"environment\":", 6)
            w.raw(",\"cores\":"); w.int(sqlite3_column_int64(stmt, 7))
            w.raw(",\"memoryMB\":"); w.int(sqlite3_column_int64(stmt, 8))
            w.raw(",\"walltime\":"); w.int(sqlite3_column_int64(stmt, 9))
            required(",\"state\":", 10)
            w.raw(",\"submitTime\":"); w.double(sqlite3_column_double(stmt, 11))
            double(",\"startTime\":", 12)
            double(",\"endTime\":", 13)
            string(",\"node\":", 14)
            if let cpus = text(15), cpus.allSatisfy({ $0 == UInt8(ascii: ",") || ($0 >= 48 && $0 <= 57) }) {
                w.raw(",\"cpus\":[")
                w.bytes(cpus)
                w.raw("]")
            }
            int(",\"exitCode\":", 16)
            string(",\"reason\":", 17)
            double(",\"cpuTime\":", 18)
            string(",\"savedNode\":", 19)
            if sqlite3_column_double(stmt, 20) > 0 { double(",\"pausedSeconds\":", 20) }
            w.raw("}")
        }
        w.raw("]\n")
        return w.bytes
    }
}

/// The size the next job listing's buffer starts at: a little over the largest of the recent
/// listings, decaying so that one huge listing does not pin memory for every later one.
final class ListingSizeHint: @unchecked Sendable {
    private let lock = NSLock()
    private var recent = 0

    var capacity: Int {
        let r = lock.withLock { recent }
        return max(1 << 16, r + r / 8)
    }

    func record(_ bytes: Int) {
        lock.withLock { recent = max(bytes, recent - recent / 4) }
    }
}
