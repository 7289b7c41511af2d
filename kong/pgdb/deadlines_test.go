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
