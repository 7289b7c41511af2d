package pgdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSessionDeadlines: drawbridge's sessions get statement_timeout, lock_timeout and
// keepalives unless the DSN sets them, and pg_dump/pg_restore the same keepalives.
func TestSessionDeadlines(t *testing.T) {
	for _, tc := range []struct {
		dsn                string
		statement, lock    string // the values set; "" when the DSN's stand
		keepalives, dialer bool
	}{
		{"postgres://kong@db/kong", "60000", "10000", true, true},
		{"postgres://kong@db/kong?statement_timeout=5000&keepalives_idle=5", "5000", "10000", false, false},
		{"host=db user=kong dbname=kong options='-c lock_timeout=1s' tcp_user_timeout=1000", "60000", "", false, false},
	} {
		cfg, params, err := parseDSN(tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		opts, _ := Options{}.withDefaults()
		db := &DB{cfg: cfg, params: params, opts: opts}
		db.sessionSettings()
		if got := db.cfg.RuntimeParams["statement_timeout"]; got != tc.statement {
			t.Errorf("%s: statement_timeout %q, want %q", tc.dsn, got, tc.statement)
		}
		if got := db.cfg.RuntimeParams["lock_timeout"]; got != tc.lock {
			t.Errorf("%s: lock_timeout %q, want %q", tc.dsn, got, tc.lock)
		}
		ci := db.conninfo("kong")
		if has := strings.Contains(ci, "keepalives_idle='15'") && strings.Contains(ci, "tcp_user_timeout='60000'"); has != tc.keepalives {
			t.Errorf("%s: conninfo %s", tc.dsn, ci)
		}
		if db.ownKeepalives() != tc.dialer {
			t.Errorf("%s: own keepalives %v", tc.dsn, db.ownKeepalives())
		}
	}
}

// TestLockTimeoutNamesTheHolder: a session holding a lock on a Kong table makes the
// fingerprint fail after lock_timeout, naming the table and the session; a backup too.
func TestLockTimeoutNamesTheHolder(t *testing.T) {
	name, dsn := newKongDB(t)
	holder := superConn(t, name)
	ctx := t.Context()
	if _, err := holder.Exec(ctx, "SET application_name = 'a-stuck-admin-script'"); err != nil {
		t.Fatal(err)
	}
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE services IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, dsn, Options{BinDir: pg.BinDir(), LockTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = db.Fingerprint(ctx)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "table services is locked (AccessExclusiveLock)") || !strings.Contains(err.Error(), `"a-stuck-admin-script"`) {
		t.Fatalf("fingerprint under a held lock: %v", err)
	}
	if took > 10*time.Second {
		t.Errorf("the fingerprint took %s to give up", took)
	}
	if _, err := db.Backup(ctx, t.TempDir()+"/b.dump"); err == nil || !strings.Contains(err.Error(), "table services is locked (AccessExclusiveLock)") {
		t.Fatalf("backup under a held lock: %v", err)
	}
}

// TestOperationBounds: a restore that runs out of RestoreTimeout stops with a clear error,
// whatever the caller's context.
func TestOperationBounds(t *testing.T) {
	name, dsn := newKongDB(t)
	db := open(t, dsn)
	b := snapshot(t, db)
	short, err := Open(t.Context(), dsn, Options{BinDir: pg.BinDir(), RestoreTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = short.Restore(t.Context(), b.backup.Path, b.fp, "bound")
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "the restore took longer than 50ms") {
		t.Fatalf("restore beyond its bound: %v", err)
	}
	if fp := fingerprint(t, db); !fp.Equal(b.fp) {
		t.Fatalf("database %s changed by a restore that ran out of time", name)
	}
}

// TestPassfileDir: the temporary PGPASSFILE is written 0600 under PassfileDir, and
// RemovePassfiles clears what a killed process left there (and nothing else).
func TestPassfileDir(t *testing.T) {
	dir := t.TempDir() + "/pgpass"
	cfg, params, err := parseDSN("postgres://kong:pw-of-kong@db/kong")
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{cfg: cfg, params: params, opts: Options{PassfileDir: dir}}
	path, cleanup, err := db.writePassfile()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || filepath.Dir(path) != dir || st.Mode().Perm() != 0o600 {
		t.Fatalf("passfile %s: %v %v", path, st, err)
	}
	if dst, _ := os.Stat(dir); dst.Mode().Perm() != 0o700 {
		t.Errorf("passfile dir mode %v", dst.Mode().Perm())
	}
	other := filepath.Join(dir, "keep-me")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RemovePassfiles(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the leftover passfile is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("RemovePassfiles removed another file: %v", err)
	}
	cleanup()
}

// TestBackupAndFingerprintBounds: while another session holds a lock on a Kong table (and
// lock_timeout is longer than the bound), a backup and a fingerprint give up at
// BackupTimeout and FingerprintTimeout, with an error naming the bound, and leave no partial
// archive; once the lock is gone the database serves both again.
func TestBackupAndFingerprintBounds(t *testing.T) {
	name, dsn := newKongDB(t)
	// Two bounds, so that each operation is seen to keep to its own.
	const backupBound, fingerprintBound = 700 * time.Millisecond, 900 * time.Millisecond
	db, err := Open(t.Context(), dsn, Options{BinDir: pg.BinDir(), LockTimeout: 2 * time.Minute, StatementTimeout: 2 * time.Minute,
		BackupTimeout: backupBound, FingerprintTimeout: fingerprintBound})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	dir := t.TempDir()
	// The operations, on a database opened with the bounds or (once the lock is gone) without.
	cases := []struct {
		name  string
		op    func(context.Context, *DB) error
		bound time.Duration
		says  string
	}{
		{"backup", func(ctx context.Context, db *DB) error {
			_, err := db.Backup(ctx, filepath.Join(dir, "backup.dump"))
			return err
		}, backupBound, "the backup took longer than 700ms"},
		{"backup with its fingerprint", func(ctx context.Context, db *DB) error {
			_, _, err := db.BackupWithFingerprint(ctx, filepath.Join(dir, "with-fp.dump"))
			return err
		}, backupBound, "the backup took longer than 700ms"},
		{"fingerprint", func(ctx context.Context, db *DB) error {
			_, err := db.Fingerprint(ctx)
			return err
		}, fingerprintBound, "the fingerprint took longer than 900ms"},
	}

	holder := superConn(t, name)
	tx, err := holder.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE services IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name+" under a held lock", func(t *testing.T) {
			start := time.Now()
			err := tc.op(t.Context(), db) // the caller's context has no deadline: the bound is the one
			took := time.Since(start)
			if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v; want %s, saying %q", err, ErrTimeout, tc.says)
			}
			if took < tc.bound || took > 20*time.Second {
				t.Errorf("gave up after %s; the bound is %s", took, tc.bound)
			}
		})
	}
	if left := dirEntries(t, dir); len(left) != 0 {
		t.Errorf("backups that ran out of time left %v", left)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Nothing the bounded operations left behind holds the database up.
	unbounded := open(t, dsn)
	for _, tc := range cases {
		t.Run(tc.name+" once the lock is gone", func(t *testing.T) {
			if err := tc.op(t.Context(), unbounded); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBoundedNamesItsDeadline: an operation that fails by its own timer on the bound's
// deadline (a dial's "i/o timeout", before the context's timer has fired) is reported as the
// bound running out, as when the context ends first; a failure before the deadline, or after
// the parent ended, is not.
func TestBoundedNamesItsDeadline(t *testing.T) {
	ioTimeout := errors.New("dial tcp 127.0.0.1:5432: i/o timeout")
	atDeadline := func(ctx context.Context) error {
		d, _ := ctx.Deadline()
		<-time.After(time.Until(d)) // the operation's own timer, not the context's
		return ioTimeout
	}
	for i := range 20 {
		err := bounded(context.Background(), 20*time.Millisecond, "the restore", atDeadline)
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "the restore took longer than 20ms") || !errors.Is(err, ioTimeout) {
			t.Fatalf("try %d: %v, want the bound named with the dial's error", i, err)
		}
	}
	if err := bounded(context.Background(), time.Minute, "the restore", func(context.Context) error { return ioTimeout }); errors.Is(err, ErrTimeout) {
		t.Errorf("a failure long before the deadline: %v, want it as it is", err)
	}
	parent, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bounded(parent, time.Millisecond, "the restore", atDeadline); errors.Is(err, ErrTimeout) {
		t.Errorf("the parent ended first: %v, want no bound named", err)
	}
}
