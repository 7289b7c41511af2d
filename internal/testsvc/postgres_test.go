package testsvc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func connect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestPostgresQueriesAndCreateDatabase(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	ctx := t.Context()

	conn := connect(t, ctx, pg.DSN("postgres"))
	mustExec(t, ctx, conn, `CREATE TABLE clusters (name text PRIMARY KEY, version text NOT NULL)`)
	mustExec(t, ctx, conn, `INSERT INTO clusters VALUES ($1, $2)`, "eu-west", "3.4.2")
	var version string
	if err := conn.QueryRow(ctx, `SELECT version FROM clusters WHERE name = $1`, "eu-west").Scan(&version); err != nil {
		t.Fatalf("select: %v", err)
	}
	if version != "3.4.2" {
		t.Errorf("version = %q, want 3.4.2", version)
	}

	dsn, err := pg.CreateDatabase(ctx, "second-db")
	if err != nil {
		t.Fatal(err)
	}
	second := connect(t, ctx, dsn)
	var db string
	if err := second.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	if db != "second-db" {
		t.Errorf("current_database() = %q, want second-db", db)
	}
	// A fresh database: the first database's table is not there.
	var n int
	if err := second.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'clusters'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("second database sees %d clusters tables, want 0", n)
	}
	mustExec(t, ctx, second, `CREATE TABLE clusters (name text)`)

	if _, err := pg.CreateDatabase(ctx, "second-db"); err == nil {
		t.Error("CreateDatabase of an existing name succeeded, want an error")
	}
}

func TestPostgresKillAndRestartKeepsCommittedData(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	ctx := t.Context()
	port := pg.Port

	conn := connect(t, ctx, pg.DSN("postgres"))
	mustExec(t, ctx, conn, `CREATE TABLE runs (id int PRIMARY KEY)`)
	mustExec(t, ctx, conn, `INSERT INTO runs VALUES (1), (2)`)

	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(qctx, `SELECT 1`); err == nil {
		t.Fatal("query on a killed server succeeded")
	} else if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("query on a killed server hung until the deadline: %v", err)
	}
	_, err := pgx.Connect(qctx, pg.DSN("postgres"))
	var connErr *pgconn.ConnectError
	if !errors.As(err, &connErr) {
		t.Fatalf("connect to a killed server: %v, want *pgconn.ConnectError", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("failing against a killed server took %v, want fast", d)
	}

	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if pg.Port != port {
		t.Errorf("port changed across Restart: %d -> %d", port, pg.Port)
	}
	again := connect(t, ctx, pg.DSN("postgres"))
	var n int
	if err := again.QueryRow(ctx, `SELECT count(*) FROM runs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("after crash recovery runs has %d rows, want 2", n)
	}
	if err := pg.Restart(ctx); err == nil {
		t.Error("Restart of a running server succeeded, want an error")
	}
}

func TestPostgresPauseTimesOutAndResumeRecovers(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	ctx := t.Context()
	conn := connect(t, ctx, pg.DSN("postgres"))

	if err := pg.Pause(); err != nil {
		t.Fatal(err)
	}
	for name, query := range map[string]func(context.Context) error{
		"open connection": func(ctx context.Context) error { _, err := conn.Exec(ctx, `SELECT 1`); return err },
		"new connection": func(ctx context.Context) error {
			c, err := pgx.Connect(ctx, pg.DSN("postgres"))
			if err == nil {
				c.Close(ctx)
			}
			return err
		},
	} {
		qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		start := time.Now()
		err := query(qctx)
		cancel()
		if !pgconn.Timeout(err) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a paused server: %v, want a timeout", name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s on a paused server returned after %v, want ~500ms", name, d)
		}
	}

	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	again := connect(t, ctx, pg.DSN("postgres"))
	mustExec(t, ctx, again, `SELECT 1`)
}

func TestPostgresStopRestart(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	ctx := t.Context()
	conn := connect(t, ctx, pg.DSN("postgres"))
	mustExec(t, ctx, conn, `CREATE TABLE t (v int)`)
	mustExec(t, ctx, conn, `INSERT INTO t VALUES (7)`)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := connect(t, ctx, pg.DSN("postgres")).QueryRow(ctx, `SELECT v FROM t`).Scan(&v); err != nil || v != 7 {
		t.Fatalf("after Stop and Restart: v=%d err=%v, want 7", v, err)
	}
}

func TestNewPostgresCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	pg, err := NewPostgres(t.Context())
	if err != nil {
		if ShouldSkip(err) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	dir, pid := pg.dir, pg.proc.pid()
	conn := connect(t, t.Context(), pg.DSN("postgres")) // a live backend that must go too
	mustExec(t, t.Context(), conn, `SELECT 1`)
	backends := childPIDs(pid)
	if len(backends) == 0 {
		t.Error("no backends found under the postmaster")
	}
	if err := pg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s after Close: %v, want it removed", dir, err)
	}
	for _, p := range append(backends, pid) {
		if alive(p) {
			t.Errorf("pid %d still alive after Close", p)
		}
	}
}

// TestOpenPostgresKeepsItsData is the demo's database: data kept across Close and a kill,
// and a second server on the same directory refused while the first runs.
func TestOpenPostgresKeepsItsData(t *testing.T) {
	t.Parallel()
	if _, err := findPostgresBinDir(); err != nil {
		skipOrFail(t, err)
	}
	dir, err := os.MkdirTemp("", "testsvc-keep-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user must reach it when we are root
		t.Fatal(err)
	}
	ctx := t.Context()
	open := func() *Postgres {
		t.Helper()
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		pg, err := OpenPostgres(ctx, filepath.Join(dir, "pg"), port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pg.Close() })
		return pg
	}
	count := func(pg *Postgres) int {
		t.Helper()
		var n int
		if err := connect(t, ctx, pg.DSN("postgres")).QueryRow(ctx, `SELECT count(*) FROM kept`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	first := open()
	conn := connect(t, ctx, first.DSN("postgres"))
	mustExec(t, ctx, conn, `CREATE TABLE kept (n int)`)
	mustExec(t, ctx, conn, `INSERT INTO kept VALUES (1)`)
	conn.Close(ctx)

	port, _ := freePort()
	if second, err := OpenPostgres(ctx, filepath.Join(dir, "pg"), port); err == nil {
		_ = second.Close()
		t.Fatal("a second server started on a data directory in use")
	} else if !strings.Contains(err.Error(), "still runs") {
		t.Fatalf("second server: %v, want it refused as still running", err)
	}
	if n := count(first); n != 1 {
		t.Fatalf("after the refused second start the first server has %d rows, want 1", n)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	again := open()
	if n := count(again); n != 1 {
		t.Fatalf("after Close and a new start: %d rows, want 1", n)
	}
	conn = connect(t, ctx, again.DSN("postgres"))
	mustExec(t, ctx, conn, `INSERT INTO kept VALUES (2)`)
	conn.Close(ctx)
	if err := again.Kill(); err != nil { // SIGKILL: postmaster.pid stays behind
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pg", "data", "postmaster.pid")); err != nil {
		t.Fatalf("after a kill postmaster.pid should remain: %v", err)
	}
	if n := count(open()); n != 2 {
		t.Fatalf("after a kill and a new start: %d rows, want 2", n)
	}
}
