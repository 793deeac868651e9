import Foundation
import GRDB
import VBatchAPI
import VBatchCore

/// The daemon's durable job store: one SQLite database (WAL, `synchronous = FULL`) through GRDB.
///
/// Every method is an intent of the daemon (submit, record transitions, list, rebuild at
/// start). Writes go through GRDB's single writer connection; reads run on a small pool of
/// reader connections and never block writes. A submission is acknowledged only once its
/// transaction is on disk; ``submit(_:)`` batches concurrent callers into one transaction
/// (group commit) so they share fsyncs.
public final class JobStore: Sendable {
    let pool: DatabasePool
    /// The directory holding the database file (the daemon's state directory).
    public let directory: String
    private let groupCommit: GroupCommitter
    /// Bytes of the largest recent job listing: the next one starts with room for it, instead
    /// of growing (and copying) its buffer a dozen times on the way to 2–3 MB at 10,000 jobs.
    private let listingSize = ListingSizeHint()
    /// Told how long each write transaction of submissions or transitions took (fsync included).
    private let observeCommit: CommitObserver?

    /// Receives the duration of one durable commit (for metrics and diagnostics).
    public typealias CommitObserver = @Sendable (Duration) -> Void

    /// SQLite page cache per connection, in KiB (negative `cache_size`). Kept modest: the
    /// daemon's memory per pending job is measured, and the scheduler holds what it needs.
    static let cacheKiB = 8000

    /// Opens (or creates, with its parent directories) the database at `path` and migrates it.
    /// `observeCommit` is told the duration of every commit of submissions or transitions.
    public init(path: String, observeCommit: CommitObserver? = nil) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        // Every user's scripts and variables are in here: only the daemon may read it, as
        // the API allows each user their own jobs only. SQLite gives the -wal and -shm files
        // the database file's mode; existing files (an older store) are restricted too.
        let files = FileManager.default
        if !files.fileExists(atPath: path) {
            _ = files.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        for file in [path, path + "-wal", path + "-shm"] where files.fileExists(atPath: file) {
            try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
        var config = Configuration()
        config.label = "vbatch.store"
        config.foreignKeysEnabled = true
        config.maximumReaderCount = 4
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA cache_size = -\(JobStore.cacheKiB)")
        }
        let pool = try DatabasePool(path: path, configuration: config)
        // DatabasePool switches the writer to WAL and `synchronous = NORMAL` after
        // `prepareDatabase` runs. NORMAL can lose the last commits on power loss; a
        // submission must be durable once acknowledged, so the writer gets FULL back.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: """
                PRAGMA synchronous = FULL;
                PRAGMA journal_size_limit = \(64 << 20);
                """)
        }
        try Migrations.migrator.migrate(pool)
        self.pool = pool
        let directory = url.deletingLastPathComponent().path
        self.directory = directory
        self.groupCommit = GroupCommitter(pool: pool, observeCommit: observeCommit) {
            StoreSpace.classify($0, directory: directory)
        }
        self.observeCommit = observeCommit
    }

    /// The settings in effect on the writer connection.
    public func settings() throws -> StoreSettings {
        try pool.writeWithoutTransaction { db in
            StoreSettings(
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                synchronous: try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1,
                foreignKeys: try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false,
                cacheSize: try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? 0)
        }
    }

    // MARK: - Submissions

    /// Records one submission and returns its `count` consecutive job ids once durable.
    ///
    /// Concurrent callers are batched into one transaction (group commit): they share one
    /// fsync. A submission that fails (e.g. a constraint) fails alone.
    public func submit(_ submission: NewSubmission) async throws -> [Int64] {
        try SubmissionWriter.validate(submission)
        return try await groupCommit.submit(submission)
    }

    /// Records many submissions in one transaction and returns each one's job ids, in order,
    /// once durable. Each submission gets `count` consecutive ids.
    public func submit(batch: [NewSubmission]) throws -> [[Int64]] {
        try timed { try writing { try SubmissionWriter.submit(batch, to: pool) } }
    }

    // MARK: - Transitions

    /// Applies state transitions in one transaction: updates each job row and appends one
    /// history event per applied transition.
    ///
    /// Transitions of unknown jobs, and of jobs already in a terminal state (which never
    /// changes again), are skipped.
    /// - Returns: how many transitions were applied.
    @discardableResult
    public func record(_ transitions: [Transition]) throws -> Int {
        try timed { try writing { try TransitionWriter.record(transitions, to: pool) } }
    }

    /// Whether a failed write may succeed later if tried again unchanged: the filesystem was
    /// full, the database busy or locked, or an I/O error; not when the data broke a constraint.
    public static func mayRecordLater(_ error: any Error) -> Bool {
        if case StoreError.full = error { return true }
        guard let database = error as? DatabaseError else { return false }
        return [.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_CANTOPEN, .SQLITE_READONLY,
                .SQLITE_PROTOCOL].contains(database.resultCode)
    }

    /// Runs a write, reporting a full filesystem as ``StoreError/full(directory:freeBytes:detail:)``.
    func writing<T>(_ write: () throws -> T) throws -> T {
        do {
            return try write()
        } catch {
            throw StoreSpace.classify(error, directory: directory)
        }
    }

    /// Runs one commit, telling the observer how long it took.
    private func timed<T>(_ commit: () throws -> T) rethrows -> T {
        guard let observeCommit else { return try commit() }
        let started = ContinuousClock.now
        defer { observeCommit(ContinuousClock.now - started) }
        return try commit()
    }

    /// Deletes finished jobs that ended before `endedBefore`, with their history and their
    /// payloads once no job refers to them; their accounting records stay. Ids are never
    /// reused afterwards.
    /// - Returns: how many jobs were deleted.
    @discardableResult
    public func purge(endedBefore: Double) throws -> Int {
        try writing { try pool.write { db in
            try db.execute(sql: "DELETE FROM job WHERE end_time IS NOT NULL AND end_time < ?",
                           arguments: [endedBefore])
            let deleted = db.changesCount
            if deleted > 0 {
                try db.execute(sql: """
                    DELETE FROM job_payload
                    WHERE NOT EXISTS (SELECT 1 FROM job WHERE job.payload_id = job_payload.id)
                    """)
            }
            return deleted
        } }
    }

    // MARK: - Queries

    /// All non-terminal jobs in id order, in the compact form the scheduler is rebuilt from.
    public func activeJobs() throws -> [ActiveJob] {
        try pool.read { db in try JobQueries.activeJobs(db) }
    }

    /// Finished jobs that started and ended at or after `since`, oldest first, with the
    /// core-seconds they used (`cores × (end − start)`), for rebuilding fair share.
    public func finishedUsage(since: Double) throws -> [(vo: String?, coreSeconds: Double, endTime: Double)] {
        try pool.read { db in try JobQueries.finishedUsage(db, since: since) }
    }

    /// One job, or nil if there is no job with this id.
    public func job(_ id: Int64) throws -> JobInfo? {
        try pool.read { db in try JobQueries.job(db, id: id) }
    }

    /// A job's recorded state transitions, oldest first (empty for an unknown job).
    public func history(_ id: Int64) throws -> [JobEvent] {
        try pool.read { db in try JobQueries.history(db, id: id) }
    }

    /// Lists jobs: `owner` nil for all users; `active` for non-terminal jobs in id order,
    /// otherwise finished jobs newest first (those that ended at or after `endedSince`, if
    /// given); at most `limit` if given.
    public func jobs(owner: String?, active: Bool, limit: Int?, endedSince: Double? = nil) throws -> [JobInfo] {
        try pool.read { db in try JobQueries.jobs(db, owner: owner, active: active, limit: limit, endedSince: endedSince) }
    }

    /// The same listing as ``jobs(owner:active:limit:)``, as JSON that decodes as `[JobInfo]`,
    /// written straight from the rows (the daemon's hot path for `vbatch status`).
    public func jobsJSON(owner: String?, active: Bool, limit: Int?, endedSince: Double? = nil) throws -> [UInt8] {
        let bytes = try pool.read { db in
            try JobListJSON.jobs(db, owner: owner, active: active, limit: limit, endedSince: endedSince,
                                 capacity: listingSize.capacity)
        }
        listingSize.record(bytes.count)
        return bytes
    }

    /// A job's payload, or nil for an unknown job.
    public func script(_ id: Int64) throws -> (script: String, arguments: [String], variables: [String: String])? {
        try pool.read { db in try JobQueries.script(db, id: id) }
    }

    /// Accounting records of jobs that ended in `[since, until)`, oldest first; `owner` nil
    /// for every user's. Records are kept when ``purge(endedBefore:)`` deletes their jobs.
    public func accountingRecords(since: Double, until: Double, owner: String?) throws -> [AccountingRecord] {
        try pool.read { db in try AccountingQueries.records(db, since: since, until: until, owner: owner) }
    }

    /// Operators' run-time settings, in the order they were made.
    public func adminSettings() throws -> [AdminSetting] {
        try pool.read { db in
            var settings: [AdminSetting] = []
            let rows = try Row.fetchCursor(db, sql: """
                SELECT kind, name, flag, value, reason, changed_by, time, mode FROM admin_setting ORDER BY time
                """)
            while let row = try rows.next() {
                let kind: String = row[0], flag: String = row[2]
                guard let k = AdminSetting.Kind(rawValue: kind), let f = AdminSetting.Flag(rawValue: flag) else {
                    throw StoreError.corruptRow("admin_setting \(kind) \(flag)")
                }
                settings.append(AdminSetting(kind: k, name: row[1], flag: f, value: row[3], reason: row[4],
                                             changedBy: row[5], time: row[6], mode: row[7]))
            }
            return settings
        }
    }

    /// Records an operator's setting durably, replacing the earlier one of the same flag.
    public func save(_ setting: AdminSetting) throws {
        try writing { try pool.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO admin_setting (kind, name, flag, value, reason, changed_by, time, mode)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [setting.kind.rawValue, setting.name, setting.flag.rawValue, setting.value,
                                 Columns.withoutNUL(setting.reason), setting.changedBy, setting.time, setting.mode])
        } }
    }

    /// The accounting records of `[since, until)` summed per `grouping`, in SQL.
    public func accountingSummary(since: Double, until: Double, owner: String?,
                                  by grouping: AccountingSummary.Grouping) throws -> AccountingSummary {
        try pool.read { db in try AccountingQueries.summary(db, since: since, until: until, owner: owner, by: grouping) }
    }

    /// The highest job id ever handed out (0 for a new store), deleted jobs included.
    public func maxJobID() throws -> Int64 {
        try pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'job'") ?? 0
        }
    }
}
