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
        migrator.registerMigration("v2") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: v4)
        }
        migrator.registerMigration("v5") { db in
            try db.execute(sql: v5)
        }
        migrator.registerMigration("v6") { db in
            try db.execute(sql: v6)
        }
        migrator.registerMigration("v7") { db in
            try db.execute(sql: v7)
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

    /// v2: accounting.
    ///
    /// - `job.cpu_time` (seconds) and `job.max_rss_kib` hold what the driver measured of the
    ///   job's VM, set with its terminal transition.
    /// - `accounting` holds one record per finished job, written by a trigger in the same
    ///   transaction that ends the job, so no job ends without its record and none gets two.
    ///   It copies what it needs instead of referring to `job`: records outlive purged jobs.
    static let v2 = """
        ALTER TABLE job ADD COLUMN cpu_time REAL CHECK (cpu_time IS NULL OR cpu_time >= 0);
        ALTER TABLE job ADD COLUMN max_rss_kib INTEGER CHECK (max_rss_kib IS NULL OR max_rss_kib >= 0);

        CREATE TABLE accounting (
            job_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            owner TEXT NOT NULL,
            uid INTEGER NOT NULL,
            vo TEXT,
            submit_queue TEXT NOT NULL,
            queue TEXT NOT NULL,
            environment TEXT NOT NULL,
            node TEXT,
            cores INTEGER NOT NULL,
            memory_mb INTEGER NOT NULL,
            walltime_limit INTEGER NOT NULL,
            submit_time REAL NOT NULL,
            start_time REAL,
            end_time REAL NOT NULL,
            wall_seconds REAL NOT NULL CHECK (wall_seconds >= 0),
            cpu_seconds REAL NOT NULL CHECK (cpu_seconds >= 0),
            max_rss_kib INTEGER,
            state TEXT NOT NULL CHECK (state IN ('completed', 'failed', 'cancelled')),
            exit_code INTEGER,
            reason TEXT NOT NULL
        );
        CREATE INDEX accounting_end ON accounting(end_time);
        CREATE INDEX accounting_owner_end ON accounting(owner, end_time);

        CREATE TRIGGER job_accounting
        AFTER UPDATE OF end_time ON job
        WHEN OLD.end_time IS NULL AND NEW.end_time IS NOT NULL
        BEGIN
            INSERT INTO accounting (job_id, name, owner, uid, vo, submit_queue, queue, environment, node, cores,
                                    memory_mb, walltime_limit, submit_time, start_time, end_time, wall_seconds,
                                    cpu_seconds, max_rss_kib, state, exit_code, reason)
            VALUES (NEW.id, NEW.name, NEW.owner, NEW.uid, NEW.vo, NEW.submit_queue, NEW.queue, NEW.environment,
                    CASE WHEN NEW.start_time IS NULL THEN NULL ELSE NEW.node END, NEW.cores, NEW.memory_mb,
                    NEW.walltime, NEW.submit_time, NEW.start_time, NEW.end_time,
                    CASE WHEN NEW.start_time IS NULL THEN 0 ELSE max(NEW.end_time - NEW.start_time, 0) END,
                    coalesce(NEW.cpu_time, 0), NEW.max_rss_kib, NEW.state, NEW.exit_code, coalesce(NEW.reason, ''));
        END;
        """

    /// v3: operators' run-time settings (`vbatch node drain`, `vbatch queue stop`, ...), kept
    /// across restarts on top of the configuration files: one row per node or queue and flag.
    static let v3 = """
        CREATE TABLE admin_setting (
            kind TEXT NOT NULL CHECK (kind IN ('node', 'queue')),
            name TEXT NOT NULL,
            flag TEXT NOT NULL CHECK (flag IN ('enabled', 'started')),
            value INTEGER NOT NULL CHECK (value IN (0, 1)),
            reason TEXT NOT NULL,
            changed_by TEXT NOT NULL,
            time REAL NOT NULL,
            PRIMARY KEY (kind, name, flag)
        );
        """

    /// v4: the grid identity in accounting. `accounting.grid_subject` is the job's
    /// `VBATCH_GRID_SUBJECT` variable (the X.509 subject the BLAH backend passes with `-u`);
    /// the trigger is made again to copy it from the job's payload.
    static let v4 = """
        ALTER TABLE accounting ADD COLUMN grid_subject TEXT;

        DROP TRIGGER job_accounting;
        CREATE TRIGGER job_accounting
        AFTER UPDATE OF end_time ON job
        WHEN OLD.end_time IS NULL AND NEW.end_time IS NOT NULL
        BEGIN
            INSERT INTO accounting (job_id, name, owner, uid, vo, submit_queue, queue, environment, node, cores,
                                    memory_mb, walltime_limit, submit_time, start_time, end_time, wall_seconds,
                                    cpu_seconds, max_rss_kib, state, exit_code, reason, grid_subject)
            VALUES (NEW.id, NEW.name, NEW.owner, NEW.uid, NEW.vo, NEW.submit_queue, NEW.queue, NEW.environment,
                    CASE WHEN NEW.start_time IS NULL THEN NULL ELSE NEW.node END, NEW.cores, NEW.memory_mb,
                    NEW.walltime, NEW.submit_time, NEW.start_time, NEW.end_time,
                    CASE WHEN NEW.start_time IS NULL THEN 0 ELSE max(NEW.end_time - NEW.start_time, 0) END,
                    coalesce(NEW.cpu_time, 0), NEW.max_rss_kib, NEW.state, NEW.exit_code, coalesce(NEW.reason, ''),
                    (SELECT json_extract(variables, '$.VBATCH_GRID_SUBJECT') FROM job_payload WHERE id = NEW.payload_id));
        END;
        """

    /// v5: operators fence nodes (`vbatch node fence`): `admin_setting.flag` may be `fenced`.
    /// SQLite cannot change a CHECK, so the table is copied into a new one.
    static let v5 = """
        CREATE TABLE admin_setting_v5 (
            kind TEXT NOT NULL CHECK (kind IN ('node', 'queue')),
            name TEXT NOT NULL,
            flag TEXT NOT NULL CHECK (flag IN ('enabled', 'started', 'fenced')),
            value INTEGER NOT NULL CHECK (value IN (0, 1)),
            reason TEXT NOT NULL,
            changed_by TEXT NOT NULL,
            time REAL NOT NULL,
            PRIMARY KEY (kind, name, flag)
        );
        INSERT INTO admin_setting_v5 SELECT kind, name, flag, value, reason, changed_by, time FROM admin_setting;
        DROP TABLE admin_setting;
        ALTER TABLE admin_setting_v5 RENAME TO admin_setting;
        """

    /// v6: jobs that stop without ending (suspend, save, preemption, drains that move VMs).
    ///
    /// - States `suspended` and `saved` (SQLite cannot change a CHECK: `job` and `job_event`
    ///   are copied into new tables, their indexes and triggers made again).
    /// - `saved_node`: the node holding the job's saved VM (state file and disks), while it is
    ///   saved or queued, or starting, to be restored.
    /// - `paused_seconds`: time the job spent suspended or saved, over its pieces;
    ///   `paused_since`: when the current pause began. Walltime and the accounting record's
    ///   wall time leave both out.
    /// - `move`: a move of its VM under way (`save`, `restore`, `migrate:NODE:CPUS`), recorded
    ///   before it starts so that a restarted daemon finds exactly one copy.
    /// - `cpu_time` adds up the pieces (the writer adds each piece's CPU time).
    /// - `admin_setting.mode`: how a drain empties its node (`finish`, `save`, `migrate`, `requeue`).
    static let v6 = """
        CREATE TABLE job_v6 (
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
                CHECK (state IN ('queued', 'held', 'starting', 'running', 'suspended', 'saved',
                                 'completed', 'failed', 'cancelled')),
            submit_time REAL NOT NULL,
            start_time REAL,
            end_time REAL,
            node TEXT,
            cpus TEXT,
            exit_code INTEGER,
            reason TEXT,
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            payload_id INTEGER NOT NULL REFERENCES job_payload(id),
            cpu_time REAL CHECK (cpu_time IS NULL OR cpu_time >= 0),
            max_rss_kib INTEGER CHECK (max_rss_kib IS NULL OR max_rss_kib >= 0),
            saved_node TEXT,
            paused_seconds REAL NOT NULL DEFAULT 0 CHECK (paused_seconds >= 0),
            paused_since REAL,
            move TEXT,
            CHECK ((end_time IS NOT NULL) = (state IN ('completed', 'failed', 'cancelled')))
        );
        INSERT INTO job_v6 (id, name, owner, uid, vo, submit_queue, queue, environment, cores, memory_mb, walltime,
                            state, submit_time, start_time, end_time, node, cpus, exit_code, reason, attempts,
                            payload_id, cpu_time, max_rss_kib)
        SELECT id, name, owner, uid, vo, submit_queue, queue, environment, cores, memory_mb, walltime,
               state, submit_time, start_time, end_time, node, cpus, exit_code, reason, attempts,
               payload_id, cpu_time, max_rss_kib
        FROM job;
        -- Ids are never reused: the new table's sequence goes on from the old one's.
        INSERT INTO sqlite_sequence (name, seq)
            SELECT 'job_v6', seq FROM sqlite_sequence
            WHERE name = 'job' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'job_v6');
        UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'job'), 0))
            WHERE name = 'job_v6';
        CREATE TABLE job_event_v6 (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
            time REAL NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('queued', 'held', 'starting', 'running', 'suspended', 'saved',
                                 'completed', 'failed', 'cancelled')),
            reason TEXT NOT NULL
        );
        INSERT INTO job_event_v6 SELECT id, job_id, time, state, reason FROM job_event;
        DROP TABLE job_event;
        DROP TABLE job;
        ALTER TABLE job_v6 RENAME TO job;
        ALTER TABLE job_event_v6 RENAME TO job_event;
        CREATE INDEX job_end ON job(end_time);
        CREATE INDEX job_owner_end ON job(owner, end_time);
        CREATE INDEX job_payload_ref ON job(payload_id);
        CREATE INDEX job_event_job ON job_event(job_id);
        CREATE TRIGGER job_terminal_is_final
        BEFORE UPDATE OF state ON job
        WHEN OLD.state IN ('completed', 'failed', 'cancelled') AND NEW.state IS NOT OLD.state
        BEGIN
            SELECT RAISE(ABORT, 'a terminal job state never changes');
        END;
        CREATE TRIGGER job_accounting
        AFTER UPDATE OF end_time ON job
        WHEN OLD.end_time IS NULL AND NEW.end_time IS NOT NULL
        BEGIN
            INSERT INTO accounting (job_id, name, owner, uid, vo, submit_queue, queue, environment, node, cores,
                                    memory_mb, walltime_limit, submit_time, start_time, end_time, wall_seconds,
                                    cpu_seconds, max_rss_kib, state, exit_code, reason, grid_subject)
            VALUES (NEW.id, NEW.name, NEW.owner, NEW.uid, NEW.vo, NEW.submit_queue, NEW.queue, NEW.environment,
                    CASE WHEN NEW.start_time IS NULL THEN NULL ELSE NEW.node END, NEW.cores, NEW.memory_mb,
                    NEW.walltime, NEW.submit_time, NEW.start_time, NEW.end_time,
                    CASE WHEN NEW.start_time IS NULL THEN 0
                         ELSE max(NEW.end_time - NEW.start_time - NEW.paused_seconds, 0) END,
                    coalesce(NEW.cpu_time, 0), NEW.max_rss_kib, NEW.state, NEW.exit_code, coalesce(NEW.reason, ''),
                    (SELECT json_extract(variables, '$.VBATCH_GRID_SUBJECT') FROM job_payload WHERE id = NEW.payload_id));
        END;
        ALTER TABLE admin_setting ADD COLUMN mode TEXT;
        """

    /// v7: bearer tokens for the TLS API (`vbatch token`). Only the SHA-256 of a token's
    /// secret is kept; a token always expires, and a revoked one keeps its row (who, when).
    static let v7 = """
        CREATE TABLE api_token (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user TEXT NOT NULL,
            uid INTEGER NOT NULL,
            scope TEXT NOT NULL CHECK (scope IN ('read', 'user', 'operator')),
            name TEXT,
            created_by TEXT NOT NULL,
            created REAL NOT NULL,
            expires REAL NOT NULL CHECK (expires > created),
            revoked REAL,
            secret_sha256 TEXT NOT NULL
        );
        CREATE INDEX api_token_user ON api_token(user);
        """
}
