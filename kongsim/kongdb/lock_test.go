package kongdb

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kongsim/kconf"
)

// holdLock plays another node holding the migrations lock for ttl (creating the schema and
// the locks table if the database is empty).
func holdLock(t *testing.T, conn *pgx.Conn, c *kconf.Conf, ttl string) {
	t.Helper()
	if s := c.Get("pg_schema"); s != "" {
		if _, err := conn.Exec(t.Context(), "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	_, err := conn.Exec(t.Context(), `CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, owner TEXT, ttl TIMESTAMP WITH TIME ZONE);
INSERT INTO locks (key, owner, ttl) VALUES ('migrations', 'other-node', CURRENT_TIMESTAMP + interval '`+ttl+`')`)
	if err != nil {
		t.Fatal(err)
	}
}

func lockRows(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT key || ':' || owner FROM locks ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bootstrap, finish and reset do not wait for another node's lock.
func TestNoWaitCommandsAbort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, setup, version, sub string
		opts                      Options
		stdout                    string
		code                      int
	}{
		{name: "bootstrap", setup: "empty", version: "3.4.2", sub: "bootstrap",
			stdout: "Bootstrapping database...\n" + NotLeaderMessage + "\n"},
		{name: "finish", setup: "3.4.2 up from 2.8.5", version: "3.4.2", sub: "finish",
			stdout: NotLeaderMessage + "\n"},
		{name: "reset", setup: "2.8.5 bootstrapped", version: "2.8.5", sub: "reset", opts: Options{Yes: true},
			stdout: NotLeaderMessage + "\n", code: 1}, // kong/cmd/migrations.lua: os.exit(1) when reset did not happen
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := setup(t, tc.setup)
			conn := raw(t, c)
			holdLock(t, conn, c, "1 hour")
			before := map[string]string{}
			if tc.setup != "empty" {
				before = metaRows(t, conn)
			}
			r := kong(t, c, tc.version, tc.sub, tc.opts)
			if r.code != tc.code || r.stdout != tc.stdout || r.stderr != "" {
				t.Errorf("exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
			}
			if after := metaRows(t, conn); len(after) != len(before) || after["core"] != before["core"] {
				t.Errorf("schema_meta changed under another node's lock:\n%v\n%v", before, after)
			}
			if got := lockRows(t, conn); len(got) != 1 || got[0] != "migrations:other-node" {
				t.Errorf("locks = %v", got)
			}
		})
	}
}

// up waits for the other node; when it releases the lock, up aborts as Kong does.
func TestUpWaitsThenAborts(t *testing.T) {
	t.Parallel()
	c := setup(t, "2.8.5 bootstrapped")
	conn := raw(t, c)
	holdLock(t, conn, c, "1 hour")
	waiting := make(chan struct{})
	done := make(chan result)
	go func() {
		o := Options{lockWait: func() { close(waiting) }}
		done <- kong(t, c, "3.4.2", "up", o)
	}()
	<-waiting
	if _, err := conn.Exec(t.Context(), `DELETE FROM locks WHERE owner = 'other-node'`); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.code != 0 || r.stdout != NotLeaderMessage+"\n" || r.stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if st := listString(mustState(t, c, "3.4.2").New); !strings.HasPrefix(st, "core:016_280_to_300,") {
		t.Errorf("up ran although another node had the lock: new = %s", st)
	}
}

func TestUpTimesOut(t *testing.T) {
	t.Parallel()
	c := setup(t, "2.8.5 bootstrapped")
	conn := raw(t, c)
	holdLock(t, conn, c, "1 hour")
	start := time.Now()
	r := kong(t, c, "3.4.2", "up", Options{LockTimeout: 300 * time.Millisecond})
	if r.code != 1 || r.stdout != "" || r.stderr != "Error: [PostgreSQL error] timeout"+runWithV {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// An expired lock row is deleted when the next node inserts its own; a node's row goes when
// it is done.
func TestExpiredLockIsReplaced(t *testing.T) {
	t.Parallel()
	c := setup(t, "2.8.5 bootstrapped")
	conn := raw(t, c)
	holdLock(t, conn, c, "-1 second")
	r := must(t, c, "3.4.2", "up", Options{})
	if !strings.Contains(r.stdout, "core migrated up to: 016_280_to_300 (pending)") {
		t.Errorf("up did not run:\n%s", r.stdout)
	}
	if got := lockRows(t, conn); len(got) != 0 {
		t.Errorf("locks after up = %v", got)
	}
}

// While a node runs migrations its row is key "migrations", a random UUID owner, ttl now +
// --lock-timeout.
func TestLockRow(t *testing.T) {
	t.Parallel()
	c := setup(t, "2.8.5 bootstrapped")
	db := open(t, c)
	conn := raw(t, c)
	var row string
	var ttl int
	ran, err := db.clusterMutex(t.Context(), migrationsLock, mutexOpts{ttl: 90 * time.Second}, func() error {
		return conn.QueryRow(t.Context(), `SELECT key || ' ' || owner, EXTRACT(EPOCH FROM ttl - CURRENT_TIMESTAMP)::int FROM locks`).Scan(&row, &ttl)
	})
	if err != nil || !ran {
		t.Fatalf("ran %v, err %v", ran, err)
	}
	if !regexp.MustCompile(`^migrations [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(row) {
		t.Errorf("lock row %q", row)
	}
	if ttl < 80 || ttl > 90 {
		t.Errorf("ttl %d s from now, want about 90", ttl)
	}
}

func mustState(t *testing.T, c *kconf.Conf, v string) *State {
	t.Helper()
	st, err := open(t, c).State(t.Context(), known(v))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
