package pgdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kong"
)

// Restore methods (kong.Restore.Method).
const (
	MethodRename  = "rename"   // restored into a fresh database, swapped in by renaming
	MethodInPlace = "in_place" // Kong's schema dropped and restored in one transaction
)

// maxIdentLen is PostgreSQL's NAMEDATALEN-1: longer names are silently truncated.
const maxIdentLen = 63

var suffixPattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// restoreNames are the databases one Restore deals with.
type restoreNames struct {
	target  string // <name>: the database Kong uses
	restore string // <name>_restore_<suffix>: the fresh copy being prepared
	failed  string // <name>_failed_<suffix>: the damaged database, kept after the swap
}

func newRestoreNames(name, suffix string) (restoreNames, error) {
	if !suffixPattern.MatchString(suffix) {
		return restoreNames{}, fmt.Errorf("suffix %q: want letters, digits and _", suffix)
	}
	n := restoreNames{target: name, restore: name + "_restore_" + suffix, failed: name + "_failed_" + suffix}
	if len(n.restore) > maxIdentLen {
		return restoreNames{}, fmt.Errorf("database name %q is longer than PostgreSQL's %d bytes; use a shorter suffix", n.restore, maxIdentLen)
	}
	return n, nil
}

// Restore rolls the database back to a backup archive; want is the fingerprint the archive's
// content must have (taken when the backup was made) and suffix names this rollback's
// databases.
//
// Method "rename": the archive is restored (pg_restore --exit-on-error, ownership and
// privileges as in the archive) into a fresh database <name>_restore_<suffix>, created
// from template0 with <name>'s owner, encoding, locale, settings, privileges and connection
// limit. Its fingerprint must equal want, or nothing is swapped (ErrMismatch, naming the
// tables). Then <name> stops accepting connections, its sessions are terminated, and one
// transaction renames <name> to <name>_failed_<suffix> (kept for forensics, connections
// allowed again) and the restored database to <name>.
//
// Method "in_place", when the role may not create databases or rename <name>, or may not
// give the new database all of <name>'s settings (SQLSTATE 42501 on the way): in one
// transaction on <name>, Kong's schema (and any other schema the archive creates) is dropped
// and recreated with its owner and privileges, the archive's SQL is applied, and the
// fingerprint is checked before committing; on any failure nothing changes.
//
// Restore is safe to repeat after a crash at any point: when <name>_failed_<suffix> exists
// and <name> has the wanted fingerprint the rollback is done and Restore returns it again
// (allowing connections to both, should the crash have come before that); a leftover
// <name>_restore_<suffix> is dropped and redone. A crash after <name> stopped accepting
// connections and before the swap leaves it so until a Restore succeeds. Restore never
// drops a database other than that leftover copy, which the archive can recreate, and
// refuses to reuse a suffix whose failed database exists while <name> has changed since.
func (db *DB) Restore(ctx context.Context, archive string, want kong.Fingerprint, suffix string) (kong.Restore, error) {
	start := db.opts.Now()
	var res kong.Restore
	err := db.do(func() error {
		return bounded(ctx, db.opts.RestoreTimeout, "the restore", func(ctx context.Context) error {
			var err error
			res, err = db.restore(ctx, archive, want, suffix)
			return db.explainLock(ctx, "", err)
		})
	}, "restore %s from %s", db.Name(), archive)
	res.Duration = db.opts.Now().Sub(start)
	return res, err
}

func (db *DB) restore(ctx context.Context, archive string, want kong.Fingerprint, suffix string) (kong.Restore, error) {
	names, err := newRestoreNames(db.Name(), suffix)
	if err != nil {
		return kong.Restore{}, err
	}
	if want.Hash == "" {
		return kong.Restore{}, errors.New("no wanted fingerprint to check the restored database against")
	}
	if _, err := os.Stat(archive); err != nil {
		return kong.Restore{}, err
	}
	if err := db.tools.find(); err != nil {
		return kong.Restore{}, err
	}
	m, err := db.connectMaintenance(ctx)
	if err != nil {
		return kong.Restore{}, err
	}
	defer closeConn(m)
	st, err := readRestoreState(ctx, m, names)
	if err != nil {
		return kong.Restore{}, classify(ctx, err)
	}
	switch {
	case !st.target.exists:
		return kong.Restore{}, fmt.Errorf("%w: database %q does not exist", ErrRefused, names.target)
	case st.failed.exists:
		return db.alreadyRestored(ctx, m, names, want)
	case !st.canRename():
		return db.restoreInPlace(ctx, archive, want)
	}
	res, err := db.restoreRename(ctx, m, st, names, archive, want)
	if errors.Is(err, errCannotCreate) {
		return db.restoreInPlace(ctx, archive, want)
	}
	return res, err
}

// errCannotCreate: creating the restore database like the target was refused for lack of
// privilege (42501): CREATE DATABASE itself or one of the target's settings.
var errCannotCreate = errors.New("may not create the restore database")

// alreadyRestored handles a repeated Restore after the swap committed: <name> must have the
// wanted fingerprint. It finishes what a crash may have left: connections allowed on both
// databases, no leftover restore database.
func (db *DB) alreadyRestored(ctx context.Context, m *pgx.Conn, names restoreNames, want kong.Fingerprint) (kong.Restore, error) {
	fp, err := db.fingerprintDB(ctx, names.target, true)
	if err != nil {
		return kong.Restore{}, fmt.Errorf("fingerprint %q: %w", names.target, err)
	}
	if !fp.Equal(want) {
		return kong.Restore{}, fmt.Errorf("database %q exists from an earlier restore with this suffix, but %q no longer has the wanted fingerprint (%s); use another suffix",
			names.failed, names.target, kong.DiffString(fp.Diff(want)))
	}
	for _, name := range []string{names.target, names.failed} {
		if _, err := m.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH ALLOW_CONNECTIONS true"); err != nil {
			return kong.Restore{}, classify(ctx, fmt.Errorf("allow connections to %q: %w", name, err))
		}
	}
	if err := dropDatabase(ctx, m, names.restore, true); err != nil {
		return kong.Restore{}, err
	}
	return kong.Restore{Method: MethodRename, FailedDB: names.failed, Fingerprint: fp}, nil
}

// restoreRename restores into a fresh database, checks it and swaps it in.
func (db *DB) restoreRename(ctx context.Context, m *pgx.Conn, st restoreState, names restoreNames, archive string, want kong.Fingerprint) (kong.Restore, error) {
	if err := dropDatabase(ctx, m, names.restore, true); err != nil {
		return kong.Restore{}, fmt.Errorf("drop the leftover %q: %w", names.restore, err)
	}
	if err := createLike(ctx, m, names.restore, st.target); err != nil {
		if pgCode(err) == codeInsufficientPrivilege {
			return kong.Restore{}, errCannotCreate
		}
		return kong.Restore{}, classify(ctx, fmt.Errorf("create %q: %w", names.restore, err))
	}
	fp, err := db.fillAndCheck(ctx, names.restore, archive, want)
	if err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		return kong.Restore{}, errors.Join(err, dropDatabase(cctx, m, names.restore, false))
	}
	if err := swap(ctx, m, st, names); err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		return kong.Restore{}, errors.Join(err, dropDatabase(cctx, m, names.restore, true))
	}
	return kong.Restore{Method: MethodRename, FailedDB: names.failed, Fingerprint: fp}, nil
}

// fillAndCheck restores the archive into the fresh database dbname and checks its
// fingerprint. The fingerprint is taken as soon as the data is in, while pg_restore builds
// the indexes, constraints and triggers (its post-data section): that hides most of its cost.
func (db *DB) fillAndCheck(ctx context.Context, dbname, archive string, want kong.Fingerprint) (kong.Fingerprint, error) {
	passfile, cleanup, err := db.writePassfile()
	if err != nil {
		return kong.Fingerprint{}, err
	}
	defer cleanup()
	restore := func(ctx context.Context, sections ...string) error {
		args := []string{"--exit-on-error", "--no-password", "--dbname=" + db.conninfo(dbname)}
		if db.opts.RestoreJobs > 1 {
			args = append(args, "--jobs="+strconv.Itoa(db.opts.RestoreJobs))
		}
		for _, s := range sections {
			args = append(args, "--section="+s)
		}
		run := toolRun{path: db.tools.restore, args: append(args, archive), passfile: passfile}
		if err := run.run(ctx); err != nil {
			return fmt.Errorf("pg_restore %s into %q: %w", strings.Join(sections, "+"), dbname, db.explainRestoreFailure(ctx, archive, err))
		}
		return nil
	}
	if err := restore(ctx, "pre-data", "data"); err != nil {
		return kong.Fingerprint{}, err
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	postData := make(chan error, 1)
	go func() { postData <- restore(pctx, "post-data") }()
	fp, err := db.fingerprintDB(ctx, dbname, false)
	if err != nil {
		cancel()
		<-postData
		return kong.Fingerprint{}, fmt.Errorf("fingerprint %q: %w", dbname, err)
	}
	if err := <-postData; err != nil {
		return kong.Fingerprint{}, err
	}
	if !fp.Equal(want) {
		return kong.Fingerprint{}, &MismatchError{Database: dbname, Diffs: fp.Diff(want), Want: want.Hash, Got: fp.Hash}
	}
	return fp, nil
}

// explainRestoreFailure classifies a failed pg_restore -d: the server's fault, or an archive
// that cannot be read whole.
func (db *DB) explainRestoreFailure(ctx context.Context, archive string, err error) error {
	err = db.explainToolFailure(ctx, err)
	var te *ToolError
	if !errors.As(err, &te) || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrRefused) {
		return err
	}
	if rerr := db.readArchive(ctx, archive); errors.Is(rerr, ErrCorrupt) {
		return rerr
	}
	return err
}

// swap blocks connections to the target, ends its sessions, and renames in one transaction.
// On failure the target accepts connections as before.
func swap(ctx context.Context, m *pgx.Conn, st restoreState, names restoreNames) error {
	target, restore, failed := ident(names.target), ident(names.restore), ident(names.failed)
	if _, err := m.Exec(ctx, "ALTER DATABASE "+target+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return classify(ctx, fmt.Errorf("block connections to %q: %w", names.target, err))
	}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var kept []string
		if kept, err = terminateSessions(ctx, m, names.target); err == nil && len(kept) > 0 {
			err = fmt.Errorf("%w: database %q has sessions of %s, which this role may not terminate",
				ErrInUse, names.target, strings.Join(kept, ", "))
		}
		if err != nil {
			break
		}
		err = pgx.BeginFunc(ctx, m, func(tx pgx.Tx) error {
			for _, q := range []string{
				"ALTER DATABASE " + target + " RENAME TO " + failed,
				"ALTER DATABASE " + restore + " RENAME TO " + target,
				"ALTER DATABASE " + failed + " WITH ALLOW_CONNECTIONS true",
			} {
				if _, err := tx.Exec(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
		if pgCode(err) != codeObjectInUse {
			break // done, or an error another attempt will not fix
		}
	}
	if err == nil {
		return nil
	}
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	_, uerr := m.Exec(cctx, "ALTER DATABASE "+target+" WITH ALLOW_CONNECTIONS "+strconv.FormatBool(st.target.allowConn))
	return classify(ctx, errors.Join(fmt.Errorf("swap %q in for %q: %w", names.restore, names.target, err), uerr))
}

// terminateSessions ends the client sessions on dbname that this role may end: all of them
// for a superuser; else those of roles it is a member of, and non-superusers' with
// pg_signal_backend. It returns the roles of the sessions it had to leave.
func terminateSessions(ctx context.Context, conn *pgx.Conn, dbname string) (kept []string, err error) {
	err = conn.QueryRow(ctx, `WITH s AS (
	        SELECT a.pid, a.usename,
	               (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
	               OR (NOT (SELECT rolsuper FROM pg_roles WHERE oid = a.usesysid)
	                   AND (pg_has_role(a.usesysid, 'MEMBER') OR pg_has_role('pg_signal_backend', 'MEMBER'))) AS mine
	          FROM pg_stat_activity a
	         WHERE a.datname = $1 AND a.pid <> pg_backend_pid() AND a.usesysid IS NOT NULL
	           -- backend_type is hidden (NULL) from unprivileged roles for others' sessions
	           AND COALESCE(a.backend_type, 'client backend') = 'client backend')
	    SELECT COALESCE(array_agg(DISTINCT COALESCE(usename, '?')) FILTER (WHERE NOT mine), '{}'),
	           count(CASE WHEN mine THEN pg_terminate_backend(pid) END)
	      FROM s`, dbname).Scan(&kept, nil)
	if err != nil {
		return nil, fmt.Errorf("terminate the sessions on %q: %w", dbname, err)
	}
	return kept, nil
}

// dropDatabase drops dbname if it exists, ending its sessions (WITH (FORCE), PostgreSQL 13+).
// Only ever called for databases of drawbridge's own: <name>_restore_<suffix>, a
// rehearsal's copy (DropCopy) and a database a rollback kept (DropFailed).
func dropDatabase(ctx context.Context, m *pgx.Conn, dbname string, ifExists bool) error {
	q := "DROP DATABASE "
	if ifExists {
		q += "IF EXISTS "
	}
	q += ident(dbname)
	if serverMajor(m) >= 13 {
		q += " WITH (FORCE)"
	} else if _, err := terminateSessions(ctx, m, dbname); err != nil {
		return err
	}
	if _, err := m.Exec(ctx, q); err != nil {
		return classify(ctx, fmt.Errorf("drop %q: %w", dbname, err))
	}
	return nil
}

// cleanupContext bounds clean-up work that must run even when ctx was cancelled.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// serverMajor is the server's major version from its server_version ("15.20 (Debian …)").
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(v[:end])
	return n
}
