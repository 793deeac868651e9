import GRDB

/// The store's schema, as a sequence of migrations.
///
/// A migration is never edited once shipped: databases in the field have already run it,
/// and `DatabaseMigrator` only runs migrations it has not recorded. Change the schema by
/// appending a new migration ("v2", ...). For the same reason the SQL spells out the state
/// names instead of deriving them from ``JobState``.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        return migrator
    }

    /// v1: jobs, their payloads and their state history.
    ///
    /// - `job_payload` holds the script (UTF-8 BLOB), arguments (JSON array) and variables
    ///   (JSON object) once per submission: a 100,000-element array stores its script once.
    /// - `job.id` is `AUTOINCREMENT`, so ids are never reused, even after the highest rows
    ///   are deleted and the database is reopened.
    /// - A job is terminal exactly when it has an `end_time` (CHECK), so "non-terminal" is
    ///   `end_time IS NULL`, which the `job_end` and `job_owner_end` indexes serve in id order.
    /// - A terminal state never changes again (trigger).
    static let v1 = """
        CREATE TABLE job_payload (
            id INTEGER PRIMARY KEY,
            script BLOB NOT NULL, -- UTF-8 bytes: a BLOB keeps any byte, NUL included
            arguments TEXT NOT NULL CHECK (json_type(arguments) = 'array'),
            variables TEXT NOT NULL CHECK (json_type(variables) = 'object')
        );

        CREATE TABLE job (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            owner TEXT NOT NULL,
            uid INTEGER NOT NULL,
            vo TEXT,
            submit_queue TEXT NOT NULL,
            queue TEXT NOT NULL,
            environment TEXT NOT NULL,
            cores INTEGER NOT NULL CHECK (cores >= 1),
            memory_mb INTEGER NOT NULL CHECK (memory_mb >= 0),
            walltime INTEGER NOT NULL CHECK (walltime >= 0),
            state TEXT NOT NULL
                CHECK (state IN ('queued', 'held', 'starting', 'running', 'completed', 'failed', 'cancelled')),
            submit_time REAL NOT NULL,
            start_time REAL,
            end_time REAL,
            node TEXT,
            cpus TEXT,
            exit_code INTEGER,
            reason TEXT,
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            payload_id INTEGER NOT NULL REFERENCES job_payload(id),
            CHECK ((end_time IS NOT NULL) = (state IN ('completed', 'failed', 'cancelled')))
        );

        -- Non-terminal jobs (end_time IS NULL) in id order; finished jobs by end time
        -- (listing newest first, fair-share rebuild).
        CREATE INDEX job_end ON job(end_time);
        -- One user's jobs: non-terminal in id order, finished by end time.
        CREATE INDEX job_owner_end ON job(owner, end_time);
        -- Keeps payload deletion (purge) from scanning every job for the foreign key check.
        CREATE INDEX job_payload_ref ON job(payload_id);

        CREATE TRIGGER job_terminal_is_final
        BEFORE UPDATE OF state ON job
        WHEN OLD.state IN ('completed', 'failed', 'cancelled') AND NEW.state IS NOT OLD.state
        BEGIN
            SELECT RAISE(ABORT, 'a terminal job state never changes');
        END;

        CREATE TABLE job_event (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
            time REAL NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('queued', 'held', 'starting', 'running', 'completed', 'failed', 'cancelled')),
            reason TEXT NOT NULL
        );
        CREATE INDEX job_event_job ON job_event(job_id);
        """
}
