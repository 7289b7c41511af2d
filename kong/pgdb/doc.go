// Package pgdb is Kong's PostgreSQL as drawbridge sees it during an upgrade: whether it
// answers (Open, Ping), its size, the state of Kong's schema_meta (Schema) and cluster mutex
// (MigrationLockHeld), a fingerprint of Kong's configuration tables (Fingerprint), a
// verified pg_dump archive of it (Backup, VerifyBackup, BackupWithFingerprint) and the
// database-level rollback that restores such an archive (Restore).
//
// # Connections
//
// A DB holds a parsed DSN, not a connection: every operation opens one pgx.Conn and closes
// it, so a DB is safe for concurrent use and survives server restarts. pg_dump and
// pg_restore are run with separate arguments (never a shell) and a libpq connection string
// built from the same settings; the password reaches them only through a temporary
// PGPASSFILE (mode 0600, removed afterwards), never through argv or PGPASSWORD.
//
// # Fingerprint
//
// The fingerprint covers Kong's configuration tables in the session's current schema (Kong's
// pg_schema): ConfigTables, plus every other table with a ws_id column (Kong's workspaceable
// entities, so a custom plugin's entities count too), minus RuntimeTables (schema_meta, locks,
// cluster events, rate-limiting counters, sessions, OAuth2 tokens, clustering_*). Each table
// is read with COPY (TimeZone, DateStyle and float and bytea output pinned, so every row
// prints the same anywhere) and hashed as sha256 over the sorted sha256 digests of its rows,
// all in one REPEATABLE READ, read-only transaction. So it is the same after pg_dump and
// pg_restore into another database, whatever the rows' physical order, and changes with any
// configuration row. Sorting digests in Go instead of rows in the server keeps it cheap.
//
// # Restore
//
// Restore is the rollback: the archive goes into a fresh database <name>_restore_<suffix>,
// whose fingerprint must equal the one wanted, and is then swapped in by renaming; the
// damaged database is kept as <name>_failed_<suffix>. A role that may not create databases
// gets an in-place restore instead, which runs in one transaction: Kong's schema is dropped
// and recreated, the archive's SQL (pg_restore -f -) is applied, the fingerprint is checked
// and only then committed. Both are safe to repeat after a crash at any point; see Restore.
// The kept databases are listed with their sizes by FailedDatabases and dropped, one by one
// when a person asks, by DropFailed, which refuses any other name.
//
// # Errors
//
// Errors say what was being done ("backup kong to /x/1.dump: pg_dump exited 1: …") and never
// contain the password. They are classified with sentinels for errors.Is: ErrUnreachable
// (the server cannot be reached: retrying may help), ErrRefused (it answered but refused:
// authentication, permission, unknown database), ErrCorrupt (an archive that cannot be read
// whole or does not match its sha256), ErrMismatch (a restored database whose fingerprint
// differs; *MismatchError names the tables), ErrInUse (sessions that could not be ended, or
// their locks), ErrBadDSN and ErrClosed. A failed pg_dump or pg_restore is a *ToolError with
// its exit code and stderr's tail; it is classified by asking the server ourselves
// (unreachable or refused) or, for pg_restore, by reading the archive (corrupt).
package pgdb
